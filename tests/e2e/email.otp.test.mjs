// Email OTP (issue 4): the emailOTPClient methods of better-auth/client 1.6.23 (authClient.emailOtp.*,
// signIn.emailOtp, forgetPassword.emailOtp) and of the Neon SDK (@neondatabase/neon-js createClient, which
// preconfigures the plugin) against pgwarden with a real SMTP sink. Spec: sdk-contract §2.3,
// better-auth-oracle §6, security.md TK-02/TK-03/TK-07.
//
// Servers: `srv` (PGWARDEN_EMAIL_OTP_RESEND_INTERVAL=0: no cooldown), `cd` (default 60 s cooldown,
// PGWARDEN_EMAIL_OTP_TTL=1).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from '@neondatabase/neon-js';
import {
  startServer, CookieJar, jarFetch, withGlobalFetch, post, signCookie, uniqueEmail, COOKIE, PASSWORD,
  showServerOutputOnFailure,
} from './harness.mjs';
import * as mailbox from './mailbox.mjs';
import { mailEnv, browser, codeIn, userRow, assertSdkError, assertLogClean, mailedSecrets, stopAll } from './email.common.mjs';

let mb;
let srv;
let cd;
const realFetch = globalThis.fetch;

before(async () => {
  mb = await mailbox.start();
  [srv, cd] = await Promise.all([
    startServer({ env: mailEnv(mb, { PGWARDEN_EMAIL_OTP_RESEND_INTERVAL: '0' }) }),
    startServer({ env: mailEnv(mb, { PGWARDEN_EMAIL_OTP_TTL: '1' }) }),
  ]);
});
after(() => stopAll([srv, cd], [mb]));
showServerOutputOnFailure(() => [srv, cd]);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const TOO_MANY = { message: 'Too many requests. Please try again later.' };

/** emailOtp.sendVerificationOtp through the SDK, then the mailed code. */
async function sendCode(s, email, type, b = browser(s)) {
  const mark = mb.mark();
  const res = await b.client.emailOtp.sendVerificationOtp({ email, type });
  assert.equal(res.error, null, `${type}: ${JSON.stringify(res.error)}`);
  assert.deepEqual(res.data, { success: true });
  return codeIn(await mb.next(email, { after: mark }));
}

async function sdkSignUp(s, tag) {
  const b = browser(s);
  const email = uniqueEmail(tag);
  const res = await b.client.signUp.email({ email, password: PASSWORD, name: `User ${tag}` });
  assert.equal(res.error, null, `sign-up: ${JSON.stringify(res.error)}`);
  return { email, data: res.data, ...b };
}

function wrongCode(code) {
  return String((Number(code) + 1) % 1_000_000).padStart(6, '0');
}

test('sendVerificationOtp answers {success:true} for sign-in, email-verification and forget-password; change-email → 400', async () => {
  const known = await sdkSignUp(srv, 'types');
  const b = browser(srv);
  for (const type of ['sign-in', 'email-verification', 'forget-password']) {
    const code = await sendCode(srv, known.email, type, b);
    assert.match(code, /^\d{6}$/);
  }
  const bad = await b.client.emailOtp.sendVerificationOtp({ email: known.email, type: 'change-email' });
  assertSdkError(bad, 400, undefined, 'type change-email');
});

test('signIn.emailOtp creates a new user (emailVerified, name "") and sets the session cookie; the code is single-use', async () => {
  const email = uniqueEmail('otpnew');
  const b = browser(srv);
  const mark = mb.mark();
  const sent = await b.client.emailOtp.sendVerificationOtp({ email, type: 'sign-in' });
  assert.deepEqual(sent.data, { success: true });
  const m = await mb.next(email, { after: mark });
  const code = codeIn(m);
  assert.ok(m.html.includes(code), 'the HTML part carries the code too');
  const res = await b.client.signIn.emailOtp({ email, otp: code });
  assert.equal(res.error, null, JSON.stringify(res.error));
  assert.equal(res.data.user.email, email);
  assert.equal(res.data.user.emailVerified, true);
  assert.equal(res.data.user.name, '');
  assert.equal(b.jar.get(COOKIE), signCookie(srv.secret, res.data.token));
  const row = await userRow(srv, email);
  assert.equal(row.emailVerified, true);
  const s = await b.client.getSession();
  assert.equal(s.data?.user?.id, res.data.user.id);

  const reuse = await browser(srv).client.signIn.emailOtp({ email, otp: code });
  assertSdkError(reuse, 400, 'INVALID_OTP', 'reuse of a consumed code');
});

test('three wrong codes → 400 INVALID_OTP each; the 4th attempt, even right, → 403 TOO_MANY_ATTEMPTS; a fresh code works', async () => {
  const email = uniqueEmail('attempts');
  const b = browser(srv);
  const code = await sendCode(srv, email, 'sign-in', b);
  for (let i = 1; i <= 3; i++) {
    assertSdkError(await b.client.signIn.emailOtp({ email, otp: wrongCode(code) }), 400, 'INVALID_OTP', `wrong try ${i}`);
  }
  assertSdkError(await b.client.signIn.emailOtp({ email, otp: code }), 403, 'TOO_MANY_ATTEMPTS', 'right code after 3 failures');
  assert.equal(await userRow(srv, email), undefined, 'no user was created');
  const fresh = await sendCode(srv, email, 'sign-in', b);
  const ok = await b.client.signIn.emailOtp({ email, otp: fresh });
  assert.equal(ok.error, null, JSON.stringify(ok.error));
  assert.equal(ok.data.user.email, email);
});

// Better Auth 1.6.23 (plugins/email-otp atomicVerifyOTP) consumes the OTP record when the attempt that finds
// the budget spent answers 403 TOO_MANY_ATTEMPTS; every later try finds no record and answers 400 INVALID_OTP.
// Either way the right code never signs in once three wrong codes were counted.
test('10 parallel wrong submissions spend the budget; the right code afterwards is refused (403/400), never 200', async () => {
  const email = uniqueEmail('race');
  const code = await sendCode(srv, email, 'sign-in');
  const results = await Promise.all(Array.from({ length: 10 }, () => post(srv, '/sign-in/email-otp', { email, otp: wrongCode(code) })));
  const statuses = results.map((r) => r.status);
  assert.ok(statuses.every((s) => s === 400 || s === 403), `statuses ${statuses}`);
  for (const r of results) assert.equal(r.json?.code, r.status === 400 ? 'INVALID_OTP' : 'TOO_MANY_ATTEMPTS');
  const right = await post(srv, '/sign-in/email-otp', { email, otp: code });
  assert.notEqual(right.status, 200, 'the right code must not sign in after 10 wrong ones');
  assert.ok(
    (right.status === 403 && right.json?.code === 'TOO_MANY_ATTEMPTS') || (right.status === 400 && right.json?.code === 'INVALID_OTP'),
    `right code after the burst: ${right.status} ${right.text}`);
  assert.equal(await userRow(srv, email), undefined);
});

test('a code of type email-verification is refused by sign-in (400 INVALID_OTP); emailOtp.verifyEmail accepts it and signs in', async () => {
  const u = await sdkSignUp(srv, 'otpverify');
  assert.equal(u.data.user.emailVerified, false);
  const code = await sendCode(srv, u.email, 'email-verification');
  const b = browser(srv);
  assertSdkError(await b.client.signIn.emailOtp({ email: u.email, otp: code }), 400, 'INVALID_OTP', 'wrong purpose');
  assert.equal(b.jar.get(COOKIE), undefined);
  const res = await b.client.emailOtp.verifyEmail({ email: u.email, otp: code });
  assert.equal(res.error, null, JSON.stringify(res.error));
  assert.equal(res.data.status, true);
  assert.equal(typeof res.data.token, 'string');
  assert.equal(res.data.user.email, u.email);
  assert.equal(res.data.user.emailVerified, true);
  assert.equal(b.jar.get(COOKIE), signCookie(srv.secret, res.data.token));
  assert.equal((await userRow(srv, u.email)).emailVerified, true);
});

test('checkVerificationOtp answers {success:true} without consuming; emailOtp.resetPassword then sets the password', async () => {
  const u = await sdkSignUp(srv, 'otpreset');
  const b = browser(srv);
  const mark = mb.mark();
  const req = await b.client.emailOtp.requestPasswordReset({ email: u.email });
  assert.equal(req.error, null, JSON.stringify(req.error));
  assert.deepEqual(req.data, { success: true });
  const code = codeIn(await mb.next(u.email, { after: mark }));
  for (let i = 0; i < 2; i++) {
    const chk = await b.client.emailOtp.checkVerificationOtp({ email: u.email, type: 'forget-password', otp: code });
    assert.equal(chk.error, null, JSON.stringify(chk.error));
    assert.deepEqual(chk.data, { success: true });
  }
  const NEW = 'otp-reset-password-1';
  const res = await b.client.emailOtp.resetPassword({ email: u.email, otp: code, password: NEW });
  assert.equal(res.error, null, JSON.stringify(res.error));
  assert.deepEqual(res.data, { success: true });
  assert.equal((await post(srv, '/sign-in/email', { email: u.email, password: NEW })).status, 200);
  assert.equal((await post(srv, '/sign-in/email', { email: u.email, password: PASSWORD })).status, 401);
  assertSdkError(await b.client.emailOtp.resetPassword({ email: u.email, otp: code, password: 'again-password-2' }), 400, 'INVALID_OTP', 'reuse');
});

test('forgetPassword.emailOtp mails a code that resets the password; an unknown address gets the same 200 and no mail', async () => {
  const u = await sdkSignUp(srv, 'forget');
  const ghost = uniqueEmail('ghost');
  const b = browser(srv);
  const mark = mb.mark();
  const g = await b.client.forgetPassword.emailOtp({ email: ghost });
  assert.equal(g.error, null, JSON.stringify(g.error));
  assert.deepEqual(g.data, { success: true });
  const g2 = await b.client.emailOtp.requestPasswordReset({ email: ghost });
  assert.deepEqual(g2.data, { success: true });
  const k = await b.client.forgetPassword.emailOtp({ email: u.email });
  assert.deepEqual(k.data, { success: true });
  const code = codeIn(await mb.next(u.email, { after: mark }));
  const res = await b.client.emailOtp.resetPassword({ email: u.email, otp: code, password: 'forget-password-9' });
  assert.deepEqual(res.data, { success: true });
  assert.equal((await post(srv, '/sign-in/email', { email: u.email, password: 'forget-password-9' })).status, 200);
  await mb.none((x) => x.index >= mark && x.to === ghost);
  const unknownReset = await b.client.emailOtp.resetPassword({ email: ghost, otp: '123456', password: 'whatever-pass-1' });
  assert.ok(unknownReset.error && unknownReset.error.status === 400, `unknown address reset: ${JSON.stringify(unknownReset)}`);
});

test('emailOtp.requestEmailChange mails a code to the NEW address; emailOtp.changeEmail switches to it, verified', async () => {
  const u = await sdkSignUp(srv, 'otpchange');
  const newEmail = uniqueEmail('otpchanged');
  const mark = mb.mark();
  const req = await u.client.emailOtp.requestEmailChange({ newEmail });
  assert.equal(req.error, null, JSON.stringify(req.error));
  assert.deepEqual(req.data, { success: true });
  const code = codeIn(await mb.next(newEmail, { after: mark }));
  await mb.none((x) => x.index >= mark && x.to === u.email, 200);
  const res = await u.client.emailOtp.changeEmail({ newEmail, otp: code });
  assert.equal(res.error, null, JSON.stringify(res.error));
  assert.deepEqual(res.data, { success: true });
  const row = await userRow(srv, newEmail);
  assert.equal(row?.id, u.data.user.id);
  assert.equal(row.emailVerified, true);
  assert.equal(await userRow(srv, u.email), undefined);
  const s = await u.client.getSession({ query: { disableCookieCache: true } });
  assert.equal(s.data?.user?.email, newEmail);
  assert.equal((await post(srv, '/sign-in/email', { email: newEmail, password: PASSWORD })).status, 200);
});

test('the Neon SDK (createClient) drives the same OTP sign-in', async () => {
  const email = uniqueEmail('neonotp');
  const jar = new CookieJar();
  const f = jarFetch(jar, { realFetch });
  await withGlobalFetch(f, async () => {
    const client = createClient({ auth: { url: srv.authUrl }, dataApi: { url: 'http://data-api.invalid/neondb/rest/v1' } });
    const mark = mb.mark();
    const sent = await client.auth.emailOtp.sendVerificationOtp({ email, type: 'sign-in' });
    assert.equal(sent.error, null, JSON.stringify(sent.error));
    assert.deepEqual(sent.data, { success: true });
    const code = codeIn(await mb.next(email, { after: mark }));
    const res = await client.auth.signIn.emailOtp({ email, otp: code });
    assert.equal(res.error, null, JSON.stringify(res.error));
    assert.equal(res.data.user.email, email);
    assert.equal(jar.get(COOKIE), signCookie(srv.secret, res.data.token));
    const s = await client.auth.getSession();
    assert.equal(s.data?.user?.email, email);
  });
});

test('a second send within the resend interval → 429 for known and unknown addresses alike', async () => {
  const known1 = await sdkSignUp(cd, 'cooldown');
  const known2 = await sdkSignUp(cd, 'cooldown');
  const cases = [
    [known1.email, 'email-verification', true],
    [uniqueEmail('ghost'), 'email-verification', false],
    [uniqueEmail('ghost'), 'sign-in', true],
    [known2.email, 'forget-password', true],
  ];
  for (const [email, type, mailed] of cases) {
    const mark = mb.mark();
    const first = await post(cd, '/email-otp/send-verification-otp', { email, type });
    assert.equal(first.status, 200, `${email} ${type}: ${first.text}`);
    assert.deepEqual(first.json, { success: true });
    const second = await post(cd, '/email-otp/send-verification-otp', { email, type });
    assert.equal(second.status, 429, `${email} ${type} second send: ${second.status} ${second.text}`);
    assert.deepEqual(second.json, TOO_MANY);
    if (mailed) await mb.next(email, { after: mark });
    await sleep(300);
    const n = mb.messages.filter((x) => x.index >= mark && x.to === email).length;
    assert.equal(n, mailed ? 1 : 0, `${email} ${type}: mails after two sends`);
  }
});

test('an expired code (TTL 1 s) → 400 OTP_EXPIRED', async () => {
  const email = uniqueEmail('otpexpire');
  const b = browser(cd);
  const code = await sendCode(cd, email, 'sign-in', b);
  await sleep(2500);
  assertSdkError(await b.client.signIn.emailOtp({ email, otp: code }), 400, 'OTP_EXPIRED');
  assert.equal(await userRow(cd, email), undefined);
});

test('no mailed code appears in the server logs', () => {
  const secrets = mailedSecrets(mb.messages);
  assert.ok(secrets.length >= 10);
  for (const s of [srv, cd]) assertLogClean(s.stderr(), secrets);
});
