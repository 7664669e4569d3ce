// Better Auth 1.6.23's own client (better-auth/client) against pgwarden. Each "browser" is a client with
// its own cookie jar (customFetchImpl), sending Origin: http://localhost:3000 like a page would.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createAuthClient } from 'better-auth/client';
import { jwtClient } from 'better-auth/client/plugins';
import { createRemoteJWKSet, jwtVerify, customFetch } from 'jose';
import { startServer, CookieJar, jarFetch, signCookie, uniqueEmail, COOKIE, PASSWORD, showServerOutputOnFailure } from './harness.mjs';

let srv;
let jwks;
const NEW_PASSWORD = 'new-correct-horse-2';

before(async () => {
  srv = await startServer();
  jwks = createRemoteJWKSet(new URL(`${srv.authUrl}/jwks`), { [customFetch]: fetch });
});
after(async () => { await srv?.stop(); });
showServerOutputOnFailure(() => srv);

/** A browser: a Better Auth client with its own cookie jar. */
function browser() {
  const f = jarFetch(new CookieJar());
  const client = createAuthClient({
    baseURL: srv.authUrl,
    plugins: [jwtClient()],
    fetchOptions: { customFetchImpl: f },
  });
  return { client, fetch: f, jar: f.jar, last: (p) => f.log.filter((e) => e.path === `/neondb/auth${p}`).at(-1) };
}

async function sessionCount(userId) {
  const { rows } = await srv.db.query('SELECT count(*)::int AS n FROM neon_auth.session WHERE "userId" = $1', [userId]);
  return rows[0].n;
}

// One user, several browsers (sessions), used in order by the tests below.
const email = uniqueEmail('baclient');
let userId;
const A = {};
const B = {};

test('signUp.email returns {token, user} and sets the session cookie', async () => {
  Object.assign(A, browser());
  const { data, error } = await A.client.signUp.email({ email, password: PASSWORD, name: 'BA Client' });
  assert.equal(error, null);
  assert.equal(data.user.email, email);
  assert.equal(data.user.emailVerified, false);
  assert.ok(data.user.createdAt instanceof Date);
  userId = data.user.id;
  assert.equal(A.jar.get(COOKIE), signCookie(srv.secret, data.token));
  const res = A.last('/sign-up/email');
  assert.equal(res.responseHeaders.get('set-auth-token'), decodeURIComponent(signCookie(srv.secret, data.token)));
});

test('signIn.email with rememberMe:false sets a browser-session cookie (no Max-Age) plus dont_remember', async () => {
  Object.assign(B, browser());
  const { data, error } = await B.client.signIn.email({ email, password: PASSWORD, rememberMe: false });
  assert.equal(error, null);
  assert.equal(data.redirect, false);
  assert.equal(data.user.id, userId);
  const cookies = B.last('/sign-in/email').setCookies;
  assert.deepEqual(cookies, [
    `${COOKIE}=${signCookie(srv.secret, data.token)}; Path=/; HttpOnly; Secure; SameSite=Lax`,
    `__Secure-neon-auth.dont_remember=${signCookie(srv.secret, 'true')}; Path=/; HttpOnly; Secure; SameSite=Lax`,
  ]);
  const { rows } = await srv.db.query('SELECT "expiresAt" FROM neon_auth.session WHERE token = $1', [data.token]);
  const days = (rows[0].expiresAt.getTime() - Date.now()) / 86_400_000;
  assert.ok(Math.abs(days - 1) < 0.01, `rememberMe:false session lasts 1 day, got ${days} days`);
  B.token = data.token;
});

test('getSession returns {session, user} with Date fields and a set-auth-jwt header', async () => {
  const { data, error } = await A.client.getSession();
  assert.equal(error, null);
  assert.equal(data.user.id, userId);
  assert.equal(data.session.userId, userId);
  assert.ok(data.session.expiresAt instanceof Date);
  assert.ok(data.session.expiresAt.getTime() > Date.now() + 6.9 * 86_400_000);
  const jwt = A.last('/get-session').responseHeaders.get('set-auth-jwt');
  const { payload } = await jwtVerify(jwt, jwks, { issuer: srv.baseUrl, audience: srv.baseUrl });
  assert.equal(payload.sub, userId);
  A.token = data.session.token;
  assert.equal(A.jar.get(COOKIE), signCookie(srv.secret, A.token));
});

test('listSessions lists every session of the user, each with its token', async () => {
  const { data, error } = await A.client.listSessions();
  assert.equal(error, null);
  assert.ok(Array.isArray(data));
  assert.deepEqual(data.map((s) => s.token).sort(), [A.token, B.token].sort());
  for (const s of data) assert.equal(s.userId, userId);
});

test('revokeSession({token}) ends that other session only', async () => {
  const { data, error } = await A.client.revokeSession({ token: B.token });
  assert.equal(error, null);
  assert.deepEqual(data, { status: true });
  const b = await B.client.getSession();
  assert.equal(b.data, null);
  assert.equal(B.jar.get(COOKIE), undefined, 'the revoked session cookie is expired by get-session');
  const a = await A.client.getSession();
  assert.equal(a.data.session.token, A.token);
});

test('revokeOtherSessions ends the other sessions and keeps the current one', async () => {
  const C = browser();
  const signedIn = await C.client.signIn.email({ email, password: PASSWORD });
  assert.equal(signedIn.error, null);
  assert.equal(await sessionCount(userId), 2);
  const { data, error } = await A.client.revokeOtherSessions();
  assert.equal(error, null);
  assert.deepEqual(data, { status: true });
  assert.equal((await C.client.getSession()).data, null);
  assert.equal((await A.client.getSession()).data.session.token, A.token);
  assert.equal(await sessionCount(userId), 1);
});

test('revokeSessions ends every session, the current one included', async () => {
  const D = browser();
  assert.equal((await D.client.signIn.email({ email, password: PASSWORD })).error, null);
  const { data, error } = await D.client.revokeSessions();
  assert.equal(error, null);
  assert.deepEqual(data, { status: true });
  assert.equal(await sessionCount(userId), 0);
  assert.equal((await D.client.getSession()).data, null);
  assert.equal((await A.client.getSession()).data, null);
});

test('updateUser changes the name; getSession and the database see it', async () => {
  const signedIn = await A.client.signIn.email({ email, password: PASSWORD });
  assert.equal(signedIn.error, null);
  A.token = signedIn.data.token;
  const { error } = await A.client.updateUser({ name: 'Renamed User', image: 'https://example.com/me.png' });
  assert.equal(error, null);
  const s = await A.client.getSession();
  assert.equal(s.data.user.name, 'Renamed User');
  assert.equal(s.data.user.image, 'https://example.com/me.png');
  const { rows } = await srv.db.query('SELECT name, image FROM neon_auth."user" WHERE id = $1', [userId]);
  assert.deepEqual(rows[0], { name: 'Renamed User', image: 'https://example.com/me.png' });
});

test('changePassword({revokeOtherSessions:true}) rotates the current session and invalidates the other one', async () => {
  const E = browser();
  assert.equal((await E.client.signIn.email({ email, password: PASSWORD })).error, null);
  assert.ok((await E.client.getSession()).data);
  const { data, error } = await A.client.changePassword({
    currentPassword: PASSWORD, newPassword: NEW_PASSWORD, revokeOtherSessions: true,
  });
  assert.equal(error, null);
  assert.match(data.token, /^[A-Za-z0-9]{32}$/);
  assert.notEqual(data.token, A.token, 'a new session token is issued');
  assert.equal(A.jar.get(COOKIE), signCookie(srv.secret, data.token));
  assert.equal((await E.client.getSession()).data, null, 'the other session is gone');
  const a = await A.client.getSession();
  assert.equal(a.data.session.token, data.token);
  A.token = data.token;
  const old = await browser().client.signIn.email({ email, password: PASSWORD });
  assert.equal(old.error?.status, 401);
  assert.equal(old.error?.code, 'INVALID_EMAIL_OR_PASSWORD');
});

test('token() returns a JWT for the session that verifies against /jwks', async () => {
  const { data, error } = await A.client.token();
  assert.equal(error, null);
  const { payload } = await jwtVerify(data.token, jwks, { issuer: srv.baseUrl, audience: srv.baseUrl });
  assert.equal(payload.sub, userId);
  assert.equal(payload.role, 'authenticated');
  const anonymous = await browser().client.token();
  assert.equal(anonymous.data, null);
  assert.equal(anonymous.error?.status, 401);
  assert.equal(anonymous.error?.code, 'UNAUTHORIZED');
});

test('deleteUser({password}) deletes the user, its sessions and accounts, and expires the cookie', async () => {
  const wrong = await A.client.deleteUser({ password: 'not-the-password' });
  assert.equal(wrong.error?.status, 400);
  assert.equal(wrong.error?.code, 'INVALID_PASSWORD');
  const { data, error } = await A.client.deleteUser({ password: NEW_PASSWORD });
  assert.equal(error, null);
  assert.deepEqual(data, { success: true, message: 'User deleted' });
  assert.equal(A.jar.get(COOKIE), undefined);
  const { rows } = await srv.db.query(
    `SELECT (SELECT count(*) FROM neon_auth."user" WHERE id = $1)::int AS users,
            (SELECT count(*) FROM neon_auth.account WHERE "userId" = $1)::int AS accounts,
            (SELECT count(*) FROM neon_auth.session WHERE "userId" = $1)::int AS sessions`,
    [userId],
  );
  assert.deepEqual(rows[0], { users: 0, accounts: 0, sessions: 0 });
  const again = await browser().client.signIn.email({ email, password: NEW_PASSWORD });
  assert.equal(again.error?.status, 401);
});
