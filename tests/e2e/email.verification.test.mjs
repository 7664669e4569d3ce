// E-mail verification by link and change of e-mail (issue 4), driven by better-auth/client 1.6.23 against
// pgwarden with a real SMTP sink (mailbox.mjs). Mailed links are opened as top-level navigations (raw GET,
// no Origin). Spec: sdk-contract §2.1 + §4.5, better-auth-oracle §5-§6, security.md TK-02/TK-05/TK-06.
//
// Servers: `strict` (PGWARDEN_REQUIRE_EMAIL_VERIFICATION=true), `lax` (defaults: no verification required,
// nothing mailed on sign-up), `short` (strict with PGWARDEN_EMAIL_VERIFICATION_TTL=1).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import {
  startServer, CookieJar, raw, get, post, cookieValue, uniqueEmail, COOKIE, PASSWORD, APP_ORIGIN,
  showServerOutputOnFailure,
} from './harness.mjs';
import * as mailbox from './mailbox.mjs';
import {
  mailEnv, browser, navigate, linkIn, jwtPayload, b64url, verifierOf, withoutVerifier, userRow, assertSdkError,
  assertLogClean, mailedSecrets, FROM_ADDRESS, APP_NAME, VERIFIER, stopAll,
} from './email.common.mjs';

let mb;
let strict;
let lax;
let short;

before(async () => {
  mb = await mailbox.start();
  [strict, lax, short] = await Promise.all([
    startServer({ env: mailEnv(mb, { PGWARDEN_REQUIRE_EMAIL_VERIFICATION: 'true' }) }),
    startServer({ env: mailEnv(mb) }),
    startServer({ env: mailEnv(mb, { PGWARDEN_REQUIRE_EMAIL_VERIFICATION: 'true', PGWARDEN_EMAIL_VERIFICATION_TTL: '1' }) }),
  ]);
});
after(() => stopAll([strict, lax, short], [mb]));
showServerOutputOnFailure(() => [strict, lax, short]);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const verifyPrefix = (srv) => `${srv.authUrl}/verify-email?`;

/** HS-family JWT signed with `secret` (header as given). */
function signJwt(header, payload, secret, hash = 'sha256') {
  const input = `${b64url(header)}.${b64url(payload)}`;
  return `${input}.${createHmac(hash, Buffer.from(secret, 'utf8')).update(input).digest('base64url')}`;
}

/** Signs up on `srv` through the SDK; returns {email, client, ...browser, data}. */
async function sdkSignUp(srv, tag, extra = {}) {
  const b = browser(srv);
  const email = uniqueEmail(tag);
  const res = await b.client.signUp.email({ email, password: PASSWORD, name: `User ${tag}`, ...extra });
  assert.equal(res.error, null, `sign-up: ${JSON.stringify(res.error)}`);
  return { email, data: res.data, ...b };
}

// ---------------------------------------------------------------- verification by link (strict)

const U = {};  // the main user of the strict server

test('sign-up with required verification answers {token:null, user}, sets no cookie and mails a verify-email link', async () => {
  const mark = mb.mark();
  const s = await sdkSignUp(strict, 'vera', { callbackURL: '/verified' });
  Object.assign(U, s);
  assert.equal(s.data.token, null);
  assert.equal(s.data.user.email, s.email);
  assert.equal(s.data.user.emailVerified, false);
  assert.equal(s.jar.get(COOKIE), undefined, 'no session cookie before verification');
  assert.equal(cookieValue(s.last('/sign-up/email').setCookies), undefined);

  const m = await mb.next(s.email, { after: mark });
  assert.equal(m.from, FROM_ADDRESS, 'envelope sender is PGWARDEN_EMAIL_FROM');
  assert.deepEqual(m.fromHeader, { address: FROM_ADDRESS, name: APP_NAME });
  assert.equal(m.toHeader.address, s.email);
  assert.equal(m.headers.get('content-type').value, 'multipart/alternative');
  assert.ok(m.text.length > 0 && m.html.length > 0, 'text/plain and text/html parts');
  const link = linkIn(m, verifyPrefix(strict));
  assert.equal(link.origin + link.pathname, `${strict.authUrl}/verify-email`);
  assert.equal(link.searchParams.get('callbackURL'), `${APP_ORIGIN}/verified`, 'relative callbackURL resolved against the request Origin');
  const token = link.searchParams.get('token');
  assert.deepEqual(JSON.parse(Buffer.from(token.split('.')[0], 'base64url')), { alg: 'HS256' });
  const p = jwtPayload(token);
  assert.equal(p.email, s.email);
  assert.equal(p.exp - p.iat, 3600);
  assert.ok(m.html.includes(token), 'the HTML part carries the same link');
  U.signUpToken = token;
});

test('sign-in before verification: wrong password 401; right password 403 EMAIL_NOT_VERIFIED plus one fresh verification mail', async () => {
  const b = browser(strict);
  const mark = mb.mark();
  const wrong = await b.client.signIn.email({ email: U.email, password: 'wrong-password-1' });
  assertSdkError(wrong, 401, 'INVALID_EMAIL_OR_PASSWORD', 'wrong password');
  const right = await b.client.signIn.email({ email: U.email, password: PASSWORD });
  assertSdkError(right, 403, 'EMAIL_NOT_VERIFIED', 'right password, unverified');
  assert.equal(b.jar.get(COOKIE), undefined);
  const m = await mb.next(U.email, { after: mark });
  linkIn(m, verifyPrefix(strict));
  await mb.none((x) => x.index > m.index && x.to === U.email, 500);
});

test('sendVerificationEmail answers {status:true} for unknown and known addresses; only the known unverified one gets mail', async () => {
  const b = browser(strict);
  const ghost = uniqueEmail('ghost');
  const mark = mb.mark();
  const r1 = await b.client.sendVerificationEmail({ email: ghost, callbackURL: '/verified?tab=1' });
  assert.equal(r1.error, null);
  assert.deepEqual(r1.data, { status: true });
  const r2 = await b.client.sendVerificationEmail({ email: U.email, callbackURL: '/verified?tab=1' });
  assert.equal(r2.error, null);
  assert.deepEqual(r2.data, { status: true });
  const m = await mb.next(U.email, { after: mark });
  const link = linkIn(m, verifyPrefix(strict));
  assert.equal(link.searchParams.get('callbackURL'), `${APP_ORIGIN}/verified?tab=1`);
  U.link = link;
  U.token = link.searchParams.get('token');
  await mb.none((x) => x.index >= mark && x.to === ghost);
});

test('verify-email with an untrusted callbackURL is refused (403 INVALID_CALLBACK_URL) and verifies nothing', async () => {
  const url = `${strict.authUrl}/verify-email?token=${U.token}&callbackURL=${encodeURIComponent('https://evil.example/x')}`;
  const r = await navigate(url);
  assert.equal(r.status, 403, r.text);
  assert.equal(r.json?.code, 'INVALID_CALLBACK_URL');
  assert.equal(r.location, undefined, 'no redirect off-site');
  assert.equal(r.session, undefined);
  assert.equal((await userRow(strict, U.email)).emailVerified, false);
});

test('the mailed link redirects to the callbackURL (query kept) with a session verifier and sets a session cookie', async () => {
  const jar = new CookieJar();
  const r = await navigate(U.link, jar);
  assert.equal(r.status, 302, r.text);
  assert.ok(r.location.startsWith(`${APP_ORIGIN}/verified?tab=1&${VERIFIER}=`), `Location ${r.location}`);
  assert.equal(withoutVerifier(r.location), `${APP_ORIGIN}/verified?tab=1`);
  U.verifier = verifierOf(r.location);
  assert.ok(r.session, 'session cookie set (autoSignIn)');
  assert.equal((await userRow(strict, U.email)).emailVerified, true);
  const s = await get(strict, '/get-session', { cookie: r.session });
  assert.equal(s.status, 200);
  assert.equal(s.json?.user?.email, U.email);
  assert.equal(s.json.user.emailVerified, true);
});

test('get-session with the verifier and no cookie hands the session over exactly once', async () => {
  const path = `/get-session?${VERIFIER}=${encodeURIComponent(U.verifier)}`;
  const first = await raw(`${strict.authUrl}${path}`, { headers: { Origin: APP_ORIGIN } });
  assert.equal(first.status, 200, first.text);
  assert.equal(first.json?.user?.email, U.email);
  assert.ok(first.json.session?.id);
  const cookie = cookieValue(first.setCookies);
  assert.ok(cookie, `a session Set-Cookie; got ${JSON.stringify(first.setCookies)}`);
  const check = await get(strict, '/get-session', { cookie });
  assert.equal(check.json?.user?.email, U.email, 'the handed-over cookie is a working session');
  const again = await raw(`${strict.authUrl}${path}`, { headers: { Origin: APP_ORIGIN } });
  assert.equal(again.status, 401, `second use of the verifier: ${again.status} ${again.text}`);
  assert.equal(again.json?.code, 'INVALID_TOKEN');
  assert.equal(cookieValue(again.setCookies), undefined);
});

test('a verification token used again answers {status:true, user:null} and mints no session', async () => {
  const b = browser(strict);
  const res = await b.client.verifyEmail({ query: { token: U.token } });
  assert.equal(res.error, null, JSON.stringify(res.error));
  assert.deepEqual(res.data, { status: true, user: null });
  assert.equal(cookieValue(b.last('/verify-email').setCookies), undefined, 'a replayed link is no bearer credential');
});

test('verifyEmail({query:{token}}) without callbackURL answers 200 {status:true, user} and signs in', async () => {
  const mark = mb.mark();
  const v = await sdkSignUp(strict, 'noredirect');
  const token = linkIn(await mb.next(v.email, { after: mark }), verifyPrefix(strict)).searchParams.get('token');
  const b = browser(strict);
  const res = await b.client.verifyEmail({ query: { token } });
  assert.equal(res.error, null, JSON.stringify(res.error));
  assert.equal(res.data.status, true);
  assert.equal(res.data.user?.email, v.email);
  assert.equal(res.data.user?.emailVerified, true);
  assert.ok(b.jar.get(COOKIE), 'session cookie set');
  const s = await b.client.getSession();
  assert.equal(s.data?.user?.email, v.email);
});

test('forged tokens (payload swapped, alg none, HS512, other secret, garbage) → 401 INVALID_TOKEN, or 302 ?error=INVALID_TOKEN with callbackURL', async () => {
  const mark = mb.mark();
  const victim = await sdkSignUp(strict, 'victim');
  const genuine = linkIn(await mb.next(victim.email, { after: mark }), verifyPrefix(strict)).searchParams.get('token');
  const [h, , sig] = U.token.split('.');
  const now = Math.floor(Date.now() / 1000);
  const claims = { email: victim.email, iat: now, exp: now + 3600 };
  const forged = {
    'payload swapped': `${h}.${b64url(claims)}.${sig}`,
    'signature of another token': `${genuine.split('.').slice(0, 2).join('.')}.${sig}`,
    'alg none': `${b64url({ alg: 'none' })}.${b64url(claims)}.`,
    'alg none, signature kept': `${b64url({ alg: 'none' })}.${b64url(claims)}.${sig}`,
    'HS512 with the server secret': signJwt({ alg: 'HS512' }, claims, strict.secret, 'sha512'),
    'HS256 with another secret': signJwt({ alg: 'HS256' }, claims, `${strict.secret}x`),
    garbage: 'not-a-jwt',
  };
  for (const [what, token] of Object.entries(forged)) {
    const plain = await navigate(`${strict.authUrl}/verify-email?token=${encodeURIComponent(token)}`);
    assert.equal(plain.status, 401, `${what}: ${plain.status} ${plain.text}`);
    assert.equal(plain.json?.code, 'INVALID_TOKEN', `${what}: ${plain.text}`);
    assert.equal(plain.session, undefined, what);
    const cb = `${APP_ORIGIN}/verified`;
    const redir = await navigate(`${strict.authUrl}/verify-email?token=${encodeURIComponent(token)}&callbackURL=${encodeURIComponent(cb)}`);
    assert.equal(redir.status, 302, `${what} with callbackURL: ${redir.status} ${redir.text}`);
    assert.equal(redir.location, `${cb}?error=INVALID_TOKEN`, what);
    assert.equal(redir.session, undefined, what);
  }
  assert.equal((await userRow(strict, victim.email)).emailVerified, false, 'no forged token verified the victim');
  // the genuine token still works afterwards
  const ok = await navigate(`${strict.authUrl}/verify-email?token=${genuine}`);
  assert.equal(ok.status, 200, ok.text);
  assert.equal((await userRow(strict, victim.email)).emailVerified, true);
});

test('sendVerificationEmail for an already verified user: 400 EMAIL_ALREADY_VERIFIED with its session, 200 and no mail without', async () => {
  const b = browser(strict);
  const signedIn = await b.client.signIn.email({ email: U.email, password: PASSWORD });
  assert.equal(signedIn.error, null, 'verified user signs in');
  const mark = mb.mark();
  const res = await b.client.sendVerificationEmail({ email: U.email });
  assertSdkError(res, 400, 'EMAIL_ALREADY_VERIFIED');
  const anon = await browser(strict).client.sendVerificationEmail({ email: U.email });
  assert.deepEqual(anon.data, { status: true }, 'without a session: the same answer as for any address');
  await mb.none((x) => x.index >= mark && x.to === U.email, 400);
  U.b = b;
});

test('an expired verification token (TTL 1 s) → 401 TOKEN_EXPIRED, 302 ?error=TOKEN_EXPIRED with callbackURL', async () => {
  const mark = mb.mark();
  const s = await sdkSignUp(short, 'expiring');
  const token = linkIn(await mb.next(s.email, { after: mark }), verifyPrefix(short)).searchParams.get('token');
  await sleep(2500);
  const plain = await navigate(`${short.authUrl}/verify-email?token=${token}`);
  assert.equal(plain.status, 401, plain.text);
  assert.equal(plain.json?.code, 'TOKEN_EXPIRED');
  const cb = `${APP_ORIGIN}/verified`;
  const redir = await navigate(`${short.authUrl}/verify-email?token=${token}&callbackURL=${encodeURIComponent(cb)}`);
  assert.equal(redir.status, 302, redir.text);
  assert.equal(redir.location, `${cb}?error=TOKEN_EXPIRED`);
  assert.equal(redir.session, undefined);
  assert.equal((await userRow(short, s.email)).emailVerified, false);
});

// ---------------------------------------------------------------- change of e-mail

const C = {};

test('changeEmail of a verified user answers {status:true} and mails a confirmation to the OLD address only', async () => {
  C.newEmail = uniqueEmail('moved');
  const mark = mb.mark();
  const res = await U.b.client.changeEmail({ newEmail: C.newEmail, callbackURL: '/settings' });
  assert.equal(res.error, null, JSON.stringify(res.error));
  assert.deepEqual(res.data, { status: true });
  const m = await mb.next(U.email, { after: mark });
  const link = linkIn(m, verifyPrefix(strict));
  assert.equal(link.searchParams.get('callbackURL'), `${APP_ORIGIN}/settings`);
  const p = jwtPayload(link.searchParams.get('token'));
  assert.equal(p.email, U.email);
  assert.equal(p.updateTo, C.newEmail);
  assert.equal(p.requestType, 'change-email-confirmation');
  C.confirmation = link;
  await mb.none((x) => x.index >= mark && x.to === C.newEmail);
  const asNew = await post(strict, '/sign-in/email', { email: C.newEmail, password: PASSWORD });
  assert.equal(asNew.status, 401, 'the new address is no login identifier yet');
  assert.equal((await userRow(strict, U.email)).email, U.email);
});

test('the confirmation link mails a verification link to the NEW address; only that one completes the change', async () => {
  const mark = mb.mark();
  const r = await navigate(C.confirmation);
  assert.equal(r.status, 302, r.text);
  assert.equal(withoutVerifier(r.location), `${APP_ORIGIN}/settings`);
  const m = await mb.next(C.newEmail, { after: mark });
  const link = linkIn(m, verifyPrefix(strict));
  const p = jwtPayload(link.searchParams.get('token'));
  assert.equal(p.email, U.email);
  assert.equal(p.updateTo, C.newEmail);
  assert.equal(p.requestType, 'change-email-verification');
  await mb.none((x) => x.index >= mark && x.to === U.email, 200);
  assert.equal((await userRow(strict, U.email))?.email, U.email, 'nothing changed before the new address is verified');
  assert.equal((await post(strict, '/sign-in/email', { email: C.newEmail, password: PASSWORD })).status, 401);

  const jar = new CookieJar();
  const done = await navigate(link, jar);
  assert.equal(done.status, 302, done.text);
  assert.equal(withoutVerifier(done.location), `${APP_ORIGIN}/settings`);
  const row = await userRow(strict, C.newEmail);
  assert.ok(row, 'the user now has the new address');
  assert.equal(row.id, U.data.user.id);
  assert.equal(row.emailVerified, true);
  assert.equal(await userRow(strict, U.email), undefined, 'the old address is gone');
  assert.equal((await post(strict, '/sign-in/email', { email: C.newEmail, password: PASSWORD })).status, 200);
  assert.equal((await post(strict, '/sign-in/email', { email: U.email, password: PASSWORD })).status, 401);
  C.verification = link;
});

test('replaying the change-email links changes nothing and mails nothing', async () => {
  const mark = mb.mark();
  for (const link of [C.confirmation, C.verification]) {
    const r = await navigate(link);
    assert.ok(r.status < 500, `${r.status} ${r.text}`);
    if (r.status === 302) assert.ok(new URL(r.location).searchParams.get('error'), `replay redirected without error: ${r.location}`);
    assert.equal(r.session, undefined, 'a replayed link mints no session');
  }
  const row = await userRow(strict, C.newEmail);
  assert.equal(row.id, U.data.user.id);
  assert.equal(row.emailVerified, true);
  await mb.none((x) => x.index >= mark, 300);
});

test('changeEmail to an address that is taken answers the same {status:true} and mails nobody', async () => {
  const mark = mb.mark();
  const other = await sdkSignUp(strict, 'taken');
  await mb.next(other.email, { after: mark });  // its sign-up verification mail
  const b = browser(strict);
  assert.equal((await b.client.signIn.email({ email: C.newEmail, password: PASSWORD })).error, null);
  const mark2 = mb.mark();
  const res = await b.client.changeEmail({ newEmail: other.email, callbackURL: '/settings' });
  assert.equal(res.error, null, JSON.stringify(res.error));
  assert.deepEqual(res.data, { status: true });
  await mb.none((x) => x.index >= mark2, 600);
  C.b = b;
});

test('changeEmail to the same address → 400 "Email is the same"', async () => {
  for (const newEmail of [C.newEmail, C.newEmail.toUpperCase()]) {
    const res = await C.b.client.changeEmail({ newEmail });
    assertSdkError(res, 400, undefined, newEmail);
    assert.equal(res.error.message, 'Email is the same');
  }
});

test('changeEmail of an unverified user mails the verification link straight to the new address', async () => {
  const s = await sdkSignUp(lax, 'unverified');
  assert.equal(s.data.user.emailVerified, false);
  assert.ok(s.jar.get(COOKIE), 'lax server signs in on sign-up');
  const newEmail = uniqueEmail('unv-moved');
  const mark = mb.mark();
  const res = await s.client.changeEmail({ newEmail, callbackURL: '/settings' });
  assert.equal(res.error, null, JSON.stringify(res.error));
  assert.deepEqual(res.data, { status: true });
  const link = linkIn(await mb.next(newEmail, { after: mark }), verifyPrefix(lax));
  const p = jwtPayload(link.searchParams.get('token'));
  assert.equal(p.email, s.email);
  assert.equal(p.updateTo, newEmail);
  await mb.none((x) => x.index >= mark && x.to === s.email);
  const r = await navigate(link);
  assert.equal(r.status, 302, r.text);
  assert.equal(withoutVerifier(r.location), `${APP_ORIGIN}/settings`);
  const row = await userRow(lax, newEmail);
  assert.equal(row?.id, s.data.user.id);
  assert.equal(row.emailVerified, true);
});

test('no mailed token or link secret appears in the server logs', () => {
  const secrets = mailedSecrets(mb.messages);
  assert.ok(secrets.length > 5);
  for (const srv of [strict, lax, short]) assertLogClean(srv.stderr(), secrets);
});
