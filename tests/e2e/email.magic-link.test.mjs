// Magic link sign-in and delete-user with e-mail confirmation (issue 4): better-auth/client 1.6.23
// (signIn.magicLink, magicLink.verify, deleteUser) against pgwarden with a real SMTP sink. Mailed links are
// opened as top-level navigations (raw GET). Spec: sdk-contract §2.1 + §2.4 + §4.5, better-auth-oracle §6.
//
// Servers: `srv` (PGWARDEN_DELETE_USER_VERIFICATION=true, magic-link sign-up on by default),
// `closed` (PGWARDEN_MAGIC_LINK_SIGN_UP=false).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {
  startServer, CookieJar, raw, post, get, cookieValue, signCookie, uniqueEmail, COOKIE, PASSWORD, APP_ORIGIN,
  showServerOutputOnFailure,
} from './harness.mjs';
import * as mailbox from './mailbox.mjs';
import {
  mailEnv, browser, navigate, linkIn, verifierOf, withoutVerifier, userRow, sessionCount, assertSdkError,
  assertLogClean, mailedSecrets, VERIFIER, stopAll,
} from './email.common.mjs';

let mb;
let srv;
let closed;

before(async () => {
  mb = await mailbox.start();
  [srv, closed] = await Promise.all([
    startServer({ env: mailEnv(mb, { PGWARDEN_DELETE_USER_VERIFICATION: 'true' }) }),
    startServer({ env: mailEnv(mb, { PGWARDEN_MAGIC_LINK_SIGN_UP: 'false' }) }),
  ]);
});
after(() => stopAll([srv, closed], [mb]));
showServerOutputOnFailure(() => [srv, closed]);

const magicPrefix = (s) => `${s.authUrl}/magic-link/verify?`;
const deletePrefix = (s) => `${s.authUrl}/delete-user/callback?`;

async function sdkSignUp(s, tag) {
  const b = browser(s);
  const email = uniqueEmail(tag);
  const res = await b.client.signUp.email({ email, password: PASSWORD, name: `User ${tag}` });
  assert.equal(res.error, null, `sign-up: ${JSON.stringify(res.error)}`);
  return { email, data: res.data, ...b };
}

/** signIn.magicLink through the SDK; returns the mailed link. */
async function requestMagicLink(s, body) {
  const b = browser(s);
  const mark = mb.mark();
  const res = await b.client.signIn.magicLink(body);
  assert.equal(res.error, null, JSON.stringify(res.error));
  assert.deepEqual(res.data, { status: true });
  return linkIn(await mb.next(body.email, { after: mark }), magicPrefix(s));
}

// ---------------------------------------------------------------- magic link

const M = {};

test('signIn.magicLink mails a link; opening it redirects to the callbackURL with a verifier and a session cookie', async () => {
  const u = await sdkSignUp(srv, 'magic');
  Object.assign(M, u);
  const link = await requestMagicLink(srv, { email: u.email, callbackURL: '/dash', name: 'Magic' });
  assert.equal(link.origin + link.pathname, `${srv.authUrl}/magic-link/verify`);
  assert.equal(link.searchParams.get('callbackURL'), `${APP_ORIGIN}/dash`);
  assert.ok(link.searchParams.get('token'));
  const jar = new CookieJar();
  const r = await navigate(link, jar);
  assert.equal(r.status, 302, r.text);
  assert.ok(r.location.startsWith(`${APP_ORIGIN}/dash?${VERIFIER}=`), r.location);
  assert.equal(withoutVerifier(r.location), `${APP_ORIGIN}/dash`);
  assert.ok(r.session, 'session cookie set');
  const s = await get(srv, '/get-session', { cookie: r.session });
  assert.equal(s.json?.user?.email, u.email);

  const v = verifierOf(r.location);
  const exchanged = await raw(`${srv.authUrl}/get-session?${VERIFIER}=${encodeURIComponent(v)}`, { headers: { Origin: APP_ORIGIN } });
  assert.equal(exchanged.status, 200, exchanged.text);
  assert.equal(exchanged.json?.user?.email, u.email);
  assert.ok(cookieValue(exchanged.setCookies), 'the verifier exchange sets the session cookie');
  M.link = link;
});

test('a used magic link redirects with ?error=INVALID_TOKEN and no cookie', async () => {
  const r = await navigate(M.link);
  assert.equal(r.status, 302, r.text);
  assert.equal(r.location, `${APP_ORIGIN}/dash?error=INVALID_TOKEN`);
  assert.equal(r.session, undefined);
});

test('the stored (hashed) identifier presented as the token does not sign in (no pass-the-hash from a database read)', async () => {
  const email = uniqueEmail('magichash');
  const link = await requestMagicLink(srv, { email, callbackURL: '/dash' });
  const token = link.searchParams.get('token');
  const hashed = crypto.createHash('sha256').update(token).digest('base64url');
  const { rows } = await srv.db.query('SELECT identifier, value FROM neon_auth.verification WHERE identifier = $1', [hashed]);
  assert.equal(rows.length, 1, 'the row is stored under base64url(SHA-256(token))');
  assert.ok(!rows[0].value.includes(token) && rows[0].identifier !== token, 'the raw token is not stored');
  const forged = new URL(link);
  forged.searchParams.set('token', hashed);
  const r = await navigate(forged);
  assert.equal(r.status, 302, r.text);
  assert.equal(r.location, `${APP_ORIGIN}/dash?error=INVALID_TOKEN`);
  assert.equal(r.session, undefined);
  assert.equal(await userRow(srv, email), undefined, 'no user created');
  const ok = await navigate(link);
  assert.equal(ok.status, 302, 'the real link still works once');
  assert.ok(ok.session);
});

test('a magic link for a new address creates the user and lands on newUserCallbackURL', async () => {
  const email = uniqueEmail('magicnew');
  const link = await requestMagicLink(srv, { email, callbackURL: '/dash', newUserCallbackURL: '/welcome', name: 'New Magic' });
  assert.equal(link.searchParams.get('newUserCallbackURL'), `${APP_ORIGIN}/welcome`);
  assert.equal(await userRow(srv, email), undefined, 'no user before the link is opened');
  const r = await navigate(link);
  assert.equal(r.status, 302, r.text);
  assert.equal(withoutVerifier(r.location), `${APP_ORIGIN}/welcome`);
  verifierOf(r.location);
  assert.ok(r.session);
  const row = await userRow(srv, email);
  assert.ok(row, 'user created');
  assert.equal(row.name, 'New Magic');
  assert.equal(row.emailVerified, true);
});

test('magicLink.verify({query:{token}}) without callbackURL answers 200 {token, user, session} and sets the cookie', async () => {
  const link = await requestMagicLink(srv, { email: M.email });
  const b = browser(srv);
  const res = await b.client.magicLink.verify({ query: { token: link.searchParams.get('token') } });
  assert.equal(res.error, null, JSON.stringify(res.error));
  assert.equal(typeof res.data.token, 'string');
  assert.equal(res.data.user.email, M.email);
  assert.equal(res.data.session.userId, res.data.user.id);
  assert.equal(b.jar.get(COOKIE), signCookie(srv.secret, res.data.token));
  const s = await b.client.getSession();
  assert.equal(s.data?.user?.email, M.email);
});

test('an untrusted callbackURL is refused when the link is requested (403 INVALID_CALLBACK_URL)', async () => {
  const b = browser(srv);
  const mark = mb.mark();
  const res = await b.client.signIn.magicLink({ email: M.email, callbackURL: 'https://evil.example/x' });
  assertSdkError(res, 403, 'INVALID_CALLBACK_URL');
  await mb.none((x) => x.index >= mark && x.to === M.email);
});

test('with PGWARDEN_MAGIC_LINK_SIGN_UP=false a link for an address without account redirects with error=new_user_signup_disabled', async () => {
  // The link is issued while the account exists, which is then deleted: opening it must not sign anybody up.
  const u = await sdkSignUp(closed, 'gone');
  const link = await requestMagicLink(closed, { email: u.email, callbackURL: '/dash', errorCallbackURL: '/login-error' });
  assert.equal(link.searchParams.get('errorCallbackURL'), `${APP_ORIGIN}/login-error`);
  await closed.db.query('DELETE FROM neon_auth."user" WHERE id = $1', [u.data.user.id]);
  const r = await navigate(link);
  assert.equal(r.status, 302, r.text);
  const loc = new URL(r.location);
  assert.equal(loc.origin + loc.pathname, `${APP_ORIGIN}/login-error`);
  assert.equal(loc.searchParams.get('error'), 'new_user_signup_disabled');
  assert.equal(loc.searchParams.get(VERIFIER), null);
  assert.equal(r.session, undefined);
  assert.equal(await userRow(closed, u.email), undefined, 'no user row');
});

test('with PGWARDEN_MAGIC_LINK_SIGN_UP=false an unknown address gets the same {status:true}, no mail and no user (decisions D28)', async () => {
  const email = uniqueEmail('nosignup');
  const known = await sdkSignUp(closed, 'known');
  const b = browser(closed);
  const mark = mb.mark();
  const res = await b.client.signIn.magicLink({ email, callbackURL: '/dash', errorCallbackURL: '/login-error' });
  assert.equal(res.error, null, JSON.stringify(res.error));
  assert.deepEqual(res.data, { status: true }, 'same answer as for a known address');
  const res2 = await b.client.signIn.magicLink({ email: known.email, callbackURL: '/dash' });
  assert.deepEqual(res2.data, { status: true });
  await mb.next(known.email, { after: mark });  // the known address is mailed ...
  await mb.none((x) => x.index >= mark && x.to === email);  // ... the unknown one is not
  assert.equal(await userRow(closed, email), undefined, 'no user row');
});

test('an unverified user signing in by magic link becomes verified and loses the unproven password and sessions', async () => {
  const u = await sdkSignUp(srv, 'unproven');
  assert.equal(u.data.user.emailVerified, false);
  const oldCookie = u.jar.get(COOKIE);
  const link = await requestMagicLink(srv, { email: u.email, callbackURL: '/dash' });
  const r = await navigate(link);
  assert.equal(r.status, 302, r.text);
  assert.ok(r.session);
  assert.equal((await userRow(srv, u.email)).emailVerified, true);
  assert.equal((await post(srv, '/sign-in/email', { email: u.email, password: PASSWORD })).status, 401,
    'the password set before the address was proven no longer signs in');
  assert.equal((await get(srv, '/get-session', { cookie: oldCookie })).json, null, 'pre-existing session revoked');
});

// ---------------------------------------------------------------- delete user with e-mail confirmation

async function requestDeletion(u) {
  const mark = mb.mark();
  const res = await u.client.deleteUser({ callbackURL: '/bye' });
  assert.equal(res.error, null, JSON.stringify(res.error));
  assert.deepEqual(res.data, { success: true, message: 'Verification email sent' });
  assert.ok(await userRow(srv, u.email), 'user still there after the request');
  const link = linkIn(await mb.next(u.email, { after: mark }), deletePrefix(srv));
  assert.equal(link.searchParams.get('callbackURL'), `${APP_ORIGIN}/bye`);
  assert.ok(link.searchParams.get('token'));
  return link;
}

test('deleteUser mails a confirmation; the link opened with the user\'s session deletes the user and redirects to /bye', async () => {
  const u = await sdkSignUp(srv, 'deleteme');
  const link = await requestDeletion(u);
  const r = await navigate(link, u.jar);
  assert.equal(r.status, 302, r.text);
  assert.equal(r.location, `${APP_ORIGIN}/bye`);
  assert.equal(await userRow(srv, u.email), undefined, 'user row gone');
  assert.equal(await sessionCount(srv, u.data.user.id), 0);
  const { rows } = await srv.db.query('SELECT count(*)::int AS n FROM neon_auth.account WHERE "userId" = $1', [u.data.user.id]);
  assert.equal(rows[0].n, 0);
  assert.equal(u.jar.get(COOKIE), undefined, 'the session cookie is expired');

  const again = await navigate(link, u.jar);
  assert.equal(again.status, 404, `second use: ${again.status} ${again.text}`);
  assert.equal(again.location, undefined);
});

test('the deletion link without a session, or with another user\'s session, fails and keeps both users', async () => {
  const victim = await sdkSignUp(srv, 'keepme');
  const other = await sdkSignUp(srv, 'intruder');
  const link = await requestDeletion(victim);

  const anon = await navigate(link);
  assert.equal(anon.status, 404, `no session: ${anon.status} ${anon.text}`);
  assert.equal(anon.location, undefined);
  assert.ok(await userRow(srv, victim.email));

  const wrong = await navigate(link, other.jar);
  assert.equal(wrong.status, 404, `other user's session: ${wrong.status} ${wrong.text}`);
  assert.equal(wrong.json?.code, 'INVALID_TOKEN');
  assert.equal(wrong.location, undefined);
  assert.ok(await userRow(srv, victim.email), 'victim kept');
  assert.ok(await userRow(srv, other.email), 'intruder kept');
});

test('no mailed token appears in the server logs', () => {
  const secrets = mailedSecrets(mb.messages);
  assert.ok(secrets.length >= 5);
  for (const s of [srv, closed]) assertLogClean(s.stderr(), secrets);
});
