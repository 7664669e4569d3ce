// Password reset by mailed link (issue 4): better-auth/client 1.6.23 requestPasswordReset / resetPassword
// against pgwarden with a real SMTP sink. Spec: sdk-contract §2.1 + §4.5, better-auth-oracle §6,
// security.md TK-01..TK-04.
//
// Servers: `srv` (defaults: PGWARDEN_REVOKE_SESSIONS_ON_PASSWORD_RESET=true), `short` (PGWARDEN_RESET_PASSWORD_TTL=1).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, post, get, cookieValue, uniqueEmail, COOKIE, PASSWORD, APP_ORIGIN,
  showServerOutputOnFailure,
} from './harness.mjs';
import * as mailbox from './mailbox.mjs';
import {
  mailEnv, browser, navigate, linkIn, assertSdkError, assertLogClean, mailedSecrets, stopAll,
} from './email.common.mjs';

let mb;
let srv;
let short;

before(async () => {
  mb = await mailbox.start();
  [srv, short] = await Promise.all([
    startServer({ env: mailEnv(mb) }),
    startServer({ env: mailEnv(mb, { PGWARDEN_RESET_PASSWORD_TTL: '1' }) }),
  ]);
});
after(() => stopAll([srv, short], [mb]));
showServerOutputOnFailure(() => [srv, short]);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const MESSAGE = 'If this email exists in our system, check your email for the reset link';
const resetPrefix = (s) => `${s.authUrl}/reset-password/`;

/** The token of a reset link: the path segment after /reset-password/. */
function resetToken(link) {
  const m = link.pathname.match(/\/reset-password\/([^/]+)$/);
  assert.ok(m, `not a reset link: ${link}`);
  return decodeURIComponent(m[1]);
}

async function sdkSignUp(s, tag) {
  const b = browser(s);
  const email = uniqueEmail(tag);
  const res = await b.client.signUp.email({ email, password: PASSWORD, name: `User ${tag}` });
  assert.equal(res.error, null, `sign-up: ${JSON.stringify(res.error)}`);
  return { email, data: res.data, ...b };
}

/** requestPasswordReset through the SDK, then the mail's link (URL) and token. */
async function requestReset(s, email, redirectTo = '/reset') {
  const b = browser(s);
  const mark = mb.mark();
  const res = await b.client.requestPasswordReset({ email, redirectTo });
  assert.equal(res.error, null, JSON.stringify(res.error));
  const m = await mb.next(email, { after: mark, match: (x) => x.links.some((l) => l.startsWith(resetPrefix(s))) });
  const link = linkIn(m, resetPrefix(s));
  return { link, token: resetToken(link), mail: m };
}

const A = {};

test('requestPasswordReset answers the same 200 body for known and unknown addresses; only the known one gets a link', async () => {
  Object.assign(A, await sdkSignUp(srv, 'reset'));
  const ghost = uniqueEmail('ghost');
  const b = browser(srv);
  const mark = mb.mark();
  const unknown = await b.client.requestPasswordReset({ email: ghost, redirectTo: '/reset' });
  const known = await b.client.requestPasswordReset({ email: A.email, redirectTo: '/reset' });
  assert.equal(unknown.error, null);
  assert.equal(known.error, null);
  assert.deepEqual(unknown.data, { status: true, message: MESSAGE });
  assert.deepEqual(known.data, { status: true, message: MESSAGE });
  const unknownRaw = await b.last('/request-password-reset').text;
  assert.equal(unknownRaw, JSON.stringify({ status: true, message: MESSAGE }));

  const m = await mb.next(A.email, { after: mark });
  const link = linkIn(m, resetPrefix(srv));
  assert.equal(link.searchParams.get('callbackURL'), `${APP_ORIGIN}/reset`, 'relative redirectTo resolved against the request Origin');
  const token = resetToken(link);
  assert.match(token, /^[A-Za-z0-9_-]{22,}$/, 'at least ~128 bits of token');
  A.link = link;
  A.token = token;
  await mb.none((x) => x.index >= mark && x.to === ghost);
});

test('the reset token is not stored in the clear (grey-box: neon_auth.verification)', async () => {
  const { rows } = await srv.db.query(
    'SELECT count(*)::int AS n FROM neon_auth.verification WHERE position($1 in identifier) > 0 OR position($1 in value) > 0',
    [A.token]);
  assert.equal(rows[0].n, 0, 'raw reset token found in neon_auth.verification');
});

test('the mailed link redirects to the callback with ?token=; a bad token to ?error=INVALID_TOKEN', async () => {
  const r = await navigate(A.link);
  assert.equal(r.status, 302, r.text);
  assert.equal(r.location, `${APP_ORIGIN}/reset?token=${encodeURIComponent(A.token)}`);
  assert.equal(r.session, undefined);
  const bad = await navigate(`${srv.authUrl}/reset-password/not-a-real-token?callbackURL=${encodeURIComponent(`${APP_ORIGIN}/reset`)}`);
  assert.equal(bad.status, 302, bad.text);
  assert.equal(bad.location, `${APP_ORIGIN}/reset?error=INVALID_TOKEN`);
});

test('resetPassword sets the new password, revokes every session, mails a notice without secrets and sets no cookie', async () => {
  const NEW = 'brand-new-password-1';
  const other = browser(srv);
  assert.equal((await other.client.signIn.email({ email: A.email, password: PASSWORD })).error, null);
  const oldCookies = [A.jar.get(COOKIE), other.jar.get(COOKIE)];
  for (const c of oldCookies) assert.ok(c);

  const page = browser(srv);  // the reset page: no session
  const mark = mb.mark();
  const res = await page.client.resetPassword({ newPassword: NEW, token: A.token });
  assert.equal(res.error, null, JSON.stringify(res.error));
  assert.deepEqual(res.data, { status: true });
  assert.equal(cookieValue(page.last('/reset-password').setCookies), undefined, 'no session Set-Cookie on reset');
  assert.equal(page.jar.get(COOKIE), undefined);

  for (const c of oldCookies) {
    const s = await get(srv, '/get-session', { cookie: c });
    assert.equal(s.status, 200);
    assert.equal(s.json, null, 'old sessions are revoked');
  }
  const { rows } = await srv.db.query('SELECT count(*)::int AS n FROM neon_auth.session WHERE "userId" = $1', [A.data.user.id]);
  assert.equal(rows[0].n, 0);

  const notice = await mb.next(A.email, { after: mark });
  assert.equal(notice.links.filter((l) => l.startsWith(resetPrefix(srv))).length, 0, 'the notice carries no reset link');
  for (const secret of [NEW, A.token]) {
    assert.ok(!notice.raw.includes(secret) && !notice.text.includes(secret) && !notice.html.includes(secret),
      `the notice contains ${secret}`);
  }

  const again = await page.client.resetPassword({ newPassword: 'yet-another-pass-2', token: A.token });
  assertSdkError(again, 400, 'INVALID_TOKEN', 'token reuse');

  assert.equal((await post(srv, '/sign-in/email', { email: A.email, password: PASSWORD })).status, 401, 'old password refused');
  const signedIn = await post(srv, '/sign-in/email', { email: A.email, password: NEW });
  assert.equal(signedIn.status, 200, 'new password works');
  A.password = NEW;
});

test('a second reset request makes the first token invalid; the second works', async () => {
  const first = await requestReset(srv, A.email);
  const second = await requestReset(srv, A.email);
  assert.notEqual(first.token, second.token);
  const nav = await navigate(first.link);
  assert.equal(nav.location, `${APP_ORIGIN}/reset?error=INVALID_TOKEN`, 'the first link is dead');
  const b = browser(srv);
  assertSdkError(await b.client.resetPassword({ newPassword: 'first-token-pass-1', token: first.token }), 400, 'INVALID_TOKEN');
  const ok = await b.client.resetPassword({ newPassword: 'second-token-pass-1', token: second.token });
  assert.equal(ok.error, null, JSON.stringify(ok.error));
  assert.equal((await post(srv, '/sign-in/email', { email: A.email, password: 'second-token-pass-1' })).status, 200);
  assert.equal((await post(srv, '/sign-in/email', { email: A.email, password: 'first-token-pass-1' })).status, 401);
  A.password = 'second-token-pass-1';
});

test('20 parallel resets with one token: exactly one 200, and only that request\'s password signs in', async () => {
  const { token } = await requestReset(srv, A.email);
  const passwords = Array.from({ length: 20 }, (_, i) => `parallel-pass-${i}-${Date.now()}`);
  const results = await Promise.all(passwords.map((p) => post(srv, '/reset-password', { newPassword: p, token })));
  const winners = results.map((r, i) => [r, i]).filter(([r]) => r.status === 200);
  assert.equal(winners.length, 1, `statuses: ${results.map((r) => r.status).join(',')}`);
  for (const r of results) {
    if (r.status !== 200) {
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json?.code, 'INVALID_TOKEN');
    }
  }
  const win = winners[0][1];
  assert.equal((await post(srv, '/sign-in/email', { email: A.email, password: passwords[win] })).status, 200);
  const losers = [0, 1, 2].map((k) => (win + 1 + k) % 20);
  for (const i of losers) {
    assert.equal((await post(srv, '/sign-in/email', { email: A.email, password: passwords[i] })).status, 401, `loser ${i}`);
  }
  A.password = passwords[win];
});

test('requestPasswordReset with an untrusted redirectTo → 403 INVALID_REDIRECT_URL and no mail', async () => {
  const b = browser(srv);
  const mark = mb.mark();
  const res = await b.client.requestPasswordReset({ email: A.email, redirectTo: 'https://evil.example/reset' });
  assertSdkError(res, 403, 'INVALID_REDIRECT_URL');
  await mb.none((x) => x.index >= mark && x.to === A.email);
});

test('mailed links use PGWARDEN_BASE_URL, never Host or X-Forwarded-Host', async () => {
  const spoof = { Host: 'evil.com', 'X-Forwarded-Host': 'evil.com', 'X-Forwarded-Proto': 'https' };
  const unverified = await sdkSignUp(srv, 'spoof');
  const cases = [
    ['/request-password-reset', { email: A.email, redirectTo: '/reset' }, A.email, `${srv.authUrl}/reset-password/`],
    ['/send-verification-email', { email: unverified.email, callbackURL: '/verified' }, unverified.email, `${srv.authUrl}/verify-email?`],
    ['/sign-in/magic-link', { email: A.email, callbackURL: '/dash' }, A.email, `${srv.authUrl}/magic-link/verify?`],
  ];
  for (const [path, body, to, prefix] of cases) {
    const mark = mb.mark();
    const res = await post(srv, path, body, spoof);
    assert.equal(res.status, 200, `${path}: ${res.text}`);
    const m = await mb.next(to, { after: mark });
    const link = linkIn(m, prefix);
    assert.equal(link.origin, srv.baseUrl, path);
    assert.ok(!m.raw.includes('evil.com'), `${path}: no evil.com anywhere in the mail`);
    const cb = link.searchParams.get('callbackURL');
    assert.equal(new URL(cb).origin, APP_ORIGIN, `${path}: callback resolved against Origin, not Host`);
  }
});

test('an email-verification token is no reset token (TK-02)', async () => {
  const b = browser(srv);
  const mark = mb.mark();
  const u = await sdkSignUp(srv, 'purpose');
  const sent = await b.client.sendVerificationEmail({ email: u.email });
  assert.equal(sent.error, null, JSON.stringify(sent.error));
  const link = linkIn(await mb.next(u.email, { after: mark }), `${srv.authUrl}/verify-email?`);
  const jwt = link.searchParams.get('token');
  assertSdkError(await b.client.resetPassword({ newPassword: 'hijacked-pass-1', token: jwt }), 400, 'INVALID_TOKEN');
  assert.equal((await post(srv, '/sign-in/email', { email: u.email, password: 'hijacked-pass-1' })).status, 401);
});

test('an expired reset token (TTL 1 s) → link ?error=INVALID_TOKEN and resetPassword 400 INVALID_TOKEN', async () => {
  const u = await sdkSignUp(short, 'expire');
  const { link, token } = await requestReset(short, u.email);
  await sleep(2500);
  const nav = await navigate(link);
  assert.equal(nav.status, 302, nav.text);
  assert.equal(nav.location, `${APP_ORIGIN}/reset?error=INVALID_TOKEN`);
  const b = browser(short);
  assertSdkError(await b.client.resetPassword({ newPassword: 'too-late-pass-1', token }), 400, 'INVALID_TOKEN');
  assert.equal((await post(short, '/sign-in/email', { email: u.email, password: PASSWORD })).status, 200, 'password unchanged');
});

test('no mailed token appears in the server logs', () => {
  const secrets = mailedSecrets(mb.messages);
  assert.ok(secrets.length >= 5);
  for (const s of [srv, short]) assertLogClean(s.stderr(), [...secrets, 'brand-new-password-1']);
});
