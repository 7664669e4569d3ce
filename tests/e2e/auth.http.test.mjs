// Raw-HTTP contract checks against the Better Auth golden shapes (better-auth-oracle.md §3, §5, §6;
// sdk-contract §2, §7, §8). node:http is used so that no header is added behind our back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify, decodeProtectedHeader, customFetch } from 'jose';
import {
  startServer, raw, post, get, signUp, signIn, signCookie, cookieValue, header, uniqueEmail,
  APP_ORIGIN, COOKIE, ISO_MS, EXPIRED_COOKIES,
  showServerOutputOnFailure,
} from './harness.mjs';

let srv;
let alice;  // {email, token, cookie, user}
let jwks;

const USER_KEYS = ['name', 'email', 'emailVerified', 'image', 'createdAt', 'updatedAt', 'isAnonymous', 'role',
  'banned', 'banReason', 'banExpires', 'id'];
const SESSION_KEYS = ['expiresAt', 'token', 'createdAt', 'updatedAt', 'ipAddress', 'userAgent', 'userId',
  'activeOrganizationId', 'impersonatedBy', 'id'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

before(async () => {
  srv = await startServer();
  alice = await signUp(srv, { email: uniqueEmail('Alice.HTTP'), name: 'Alice' });
  jwks = createRemoteJWKSet(new URL(`${srv.authUrl}/jwks`), { [customFetch]: fetch });
});
after(async () => { await srv?.stop(); });
showServerOutputOnFailure(() => srv);

function expectedSessionCookie(token) {
  return `${COOKIE}=${signCookie(srv.secret, token)}; Max-Age=604800; Path=/; HttpOnly; Secure; SameSite=Lax`;
}

test('sign-up sets exactly one session cookie: value = encodeURIComponent(token.base64(HMAC-SHA256(secret, token)))', async () => {
  const { res, token } = alice;
  assert.match(token, /^[A-Za-z0-9]{32}$/);
  // Recomputed here independently of the harness helper.
  const sig = createHmac('sha256', srv.secret).update(token).digest('base64');
  assert.equal(sig.length, 44);
  assert.deepEqual(res.setCookies, [
    `__Secure-neon-auth.session_token=${encodeURIComponent(`${token}.${sig}`)}; Max-Age=604800; Path=/; HttpOnly; Secure; SameSite=Lax`,
  ]);
  assert.equal(header(res, 'set-auth-token'), `${token}.${sig}`, 'set-auth-token is the signed value, not URL-encoded');
  assert.ok(header(res, 'access-control-expose-headers').split(/,\s*/).includes('set-auth-token'));
  assert.equal(header(res, 'set-auth-jwt'), undefined, 'no set-auth-jwt outside get-session (sdk-contract §3)');
  const { rows } = await srv.db.query('SELECT token FROM neon_auth.session WHERE "userId" = $1', [alice.user.id]);
  assert.deepEqual(rows.map((r) => r.token), [token], 'the raw token is what the database stores');
});

test('sign-up answers {token, user}: Better Auth member order, lower-cased email, ISO timestamps with ms', async () => {
  const { res, email } = alice;
  assert.equal(res.status, 200);
  assert.match(header(res, 'content-type'), /^application\/json/);
  assert.deepEqual(Object.keys(res.json), ['token', 'user']);
  const u = res.json.user;
  assert.deepEqual(Object.keys(u), USER_KEYS);
  assert.notEqual(email, email.toLowerCase(), 'the test signs up with a mixed-case email');
  assert.equal(u.email, email.toLowerCase());
  assert.equal(u.name, 'Alice');
  assert.equal(u.emailVerified, false);
  assert.equal(u.image, null);
  assert.equal(u.isAnonymous, false);
  assert.equal(u.banned, false);
  assert.match(u.createdAt, ISO_MS);
  assert.match(u.updatedAt, ISO_MS);
  assert.ok(Math.abs(Date.parse(u.createdAt) - Date.now()) < 60_000);
  assert.match(u.id, UUID);
});

test('sign-in answers {redirect:false, token, user} with a new session cookie', async () => {
  const r = await post(srv, '/sign-in/email', { email: alice.email.toUpperCase(), password: alice.password }, { 'User-Agent': 'e2e-agent/1.0' });
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.json), ['redirect', 'token', 'user']);
  assert.equal(r.json.redirect, false);
  assert.deepEqual(Object.keys(r.json.user), USER_KEYS);
  assert.equal(r.json.user.id, alice.user.id);
  assert.notEqual(r.json.token, alice.token);
  assert.deepEqual(r.setCookies, [expectedSessionCookie(r.json.token)]);
  assert.equal(header(r, 'location'), undefined);
  const s = await get(srv, '/get-session', { cookie: cookieValue(r.setCookies) });
  assert.equal(s.json.session.userAgent, 'e2e-agent/1.0');
  assert.equal(s.json.session.ipAddress, '127.0.0.1');
});

test('get-session answers {session, user} in member order with a set-auth-jwt header', async () => {
  const r = await get(srv, '/get-session', { cookie: alice.cookie });
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.json), ['session', 'user']);
  assert.deepEqual(Object.keys(r.json.session), SESSION_KEYS);
  assert.deepEqual(Object.keys(r.json.user), USER_KEYS);
  const s = r.json.session;
  assert.equal(s.token, alice.token);
  assert.equal(s.userId, alice.user.id);
  for (const k of ['expiresAt', 'createdAt', 'updatedAt']) assert.match(s[k], ISO_MS, k);
  assert.equal(s.userAgent, '', 'no User-Agent header -> empty string, not null');
  assert.equal(s.activeOrganizationId, null);
  assert.equal(s.impersonatedBy, null);
  assert.deepEqual(r.setCookies, [], 'a fresh session is not re-sent');
  assert.equal(header(r, 'access-control-expose-headers'), 'set-auth-jwt');
  const jwt = header(r, 'set-auth-jwt');
  const { payload } = await jwtVerify(jwt, jwks, { issuer: srv.baseUrl, audience: srv.baseUrl });
  assert.deepEqual(Object.keys(payload), ['iat', 'email', 'role', 'sub', 'exp', 'iss', 'aud']);
  assert.equal(payload.sub, alice.user.id);
  assert.equal(payload.role, 'authenticated');
  assert.equal(payload.exp - payload.iat, 900);
  const { rows } = await srv.db.query('SELECT id FROM neon_auth.jwks');
  assert.deepEqual(decodeProtectedHeader(jwt), { alg: 'EdDSA', kid: rows[0].id }, 'kid = jwks.id, no typ');
});

test('get-session is 200 null (no Set-Cookie) without a cookie or with a tampered, unsigned or unprefixed one', async () => {
  const [tok, sig] = decodeURIComponent(alice.cookie).split('.');
  const flipped = (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1);
  const cases = {
    'no cookie': {},
    'tampered signature': { Cookie: `${COOKIE}=${encodeURIComponent(`${tok}.${flipped}`)}` },
    'signature of another token': { Cookie: `${COOKIE}=${encodeURIComponent(`${tok.slice(0, -1)}x.${sig}`)}` },
    'unsigned token': { Cookie: `${COOKIE}=${tok}` },
    'cookie name without __Secure-': { Cookie: `neon-auth.session_token=${alice.cookie}` },
  };
  for (const [name, headers] of Object.entries(cases)) {
    const r = await raw(`${srv.authUrl}/get-session`, { headers });
    assert.equal(r.status, 200, name);
    assert.equal(r.text, 'null', name);
    assert.deepEqual(r.setCookies, [], name);
    assert.equal(header(r, 'set-auth-jwt'), undefined, name);
  }
});

test('Authorization: Bearer accepts the signed value (raw or URL-encoded) and the raw token', async () => {
  const signed = decodeURIComponent(alice.cookie);
  for (const value of [signed, alice.cookie, alice.token]) {
    const r = await raw(`${srv.authUrl}/get-session`, { headers: { Authorization: `Bearer ${value}` } });
    assert.equal(r.status, 200, value);
    assert.equal(r.json?.session?.token, alice.token, `Bearer ${value}`);
    assert.ok(header(r, 'set-auth-jwt'), value);
  }
  const bad = await raw(`${srv.authUrl}/get-session`, { headers: { Authorization: 'Bearer garbage' } });
  assert.equal(bad.text, 'null');
});

test('sign-out answers {success:true}, sends the 3 expiring cookies in order and deletes the row', async () => {
  const bob = await signUp(srv, { name: 'Bob' });
  const r = await post(srv, '/sign-out', {}, { Cookie: `${COOKIE}=${bob.cookie}` });
  assert.equal(r.status, 200);
  assert.equal(r.text, '{"success":true}');
  assert.deepEqual(r.setCookies, EXPIRED_COOKIES);
  const { rows } = await srv.db.query('SELECT count(*)::int AS n FROM neon_auth.session WHERE token = $1', [bob.token]);
  assert.equal(rows[0].n, 0);
  const after = await get(srv, '/get-session', { cookie: bob.cookie });
  assert.equal(after.text, 'null');
  assert.deepEqual(after.setCookies, EXPIRED_COOKIES, 'a well-signed cookie of a gone session is expired');
  const anonymous = await post(srv, '/sign-out', {});
  assert.equal(anonymous.status, 200, 'sign-out without a cookie also succeeds');
  assert.deepEqual(anonymous.setCookies, EXPIRED_COOKIES);
});

test('a revoked session gets null, the 3 expiring cookies and no set-auth-jwt', async () => {
  const second = await signIn(srv, alice.email);
  const rv = await post(srv, '/revoke-session', { token: second.token }, { Cookie: `${COOKIE}=${alice.cookie}` });
  assert.equal(rv.status, 200);
  assert.equal(rv.text, '{"status":true}');
  const r = await get(srv, '/get-session', { cookie: second.cookie });
  assert.equal(r.status, 200);
  assert.equal(r.text, 'null');
  assert.deepEqual(r.setCookies, EXPIRED_COOKIES);
  assert.equal(header(r, 'set-auth-jwt'), undefined);
});

test('POST /get-session is 405 METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED', async () => {
  const r = await post(srv, '/get-session', {}, { Cookie: `${COOKIE}=${alice.cookie}` });
  assert.equal(r.status, 405);
  assert.deepEqual(r.json, {
    message: 'POST method requires deferSessionRefresh to be enabled in session config',
    code: 'METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED',
  });
});

test('unknown paths, wrong methods and a trailing slash are 404 with an empty body and no content-type', async () => {
  for (const [method, p] of [['GET', '/does-not-exist'], ['GET', '/ok/'], ['GET', '/sign-in/email'],
    ['POST', '/ok'], ['GET', '/forget-password'], ['GET', '/get-session/']]) {
    const r = await raw(`${srv.authUrl}${p}`, { method, headers: method === 'POST' ? { 'Content-Type': 'application/json' } : {}, body: method === 'POST' ? '{}' : undefined });
    assert.equal(r.status, 404, `${method} ${p}`);
    assert.equal(r.text, '', `${method} ${p}`);
    assert.equal(header(r, 'content-type'), undefined, `${method} ${p}`);
  }
});

test('GET /ok is {"ok":true}; GET /error redirects to /?<query> with an empty body', async () => {
  const ok = await raw(`${srv.authUrl}/ok`);
  assert.equal(ok.status, 200);
  assert.equal(ok.text, '{"ok":true}');
  const r = await raw(`${srv.authUrl}/error?error=some_error_code&error_description=x`);
  assert.equal(r.status, 302);
  assert.equal(header(r, 'location'), '/?error=some_error_code&error_description=x');
  assert.equal(r.text, '');
  assert.equal(header(r, 'content-type'), undefined);
});

test('GET /jwks has the Better Auth shape and member order; /.well-known/jwks.json and /jwt are identical', async () => {
  const r = await raw(`${srv.authUrl}/jwks`);
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.json), ['keys']);
  assert.equal(r.json.keys.length, 1);
  const k = r.json.keys[0];
  assert.deepEqual(Object.keys(k), ['alg', 'crv', 'x', 'kty', 'kid']);
  assert.equal(k.alg, 'EdDSA');
  assert.equal(k.crv, 'Ed25519');
  assert.equal(k.kty, 'OKP');
  assert.match(k.x, /^[A-Za-z0-9_-]{43}$/, '32 bytes, base64url without padding');
  assert.match(k.kid, UUID);
  const wellKnown = await raw(`${srv.authUrl}/.well-known/jwks.json`);
  assert.equal(wellKnown.status, 200);
  assert.equal(wellKnown.text, r.text);
  const alias = await raw(`${srv.authUrl}/jwt`);
  assert.equal(alias.status, 200, 'toolkit alias GET /jwt (sdk-contract §2.7)');
  assert.equal(alias.text, r.text);
});

test('GET /token: {token} with a session, 401 UNAUTHORIZED without', async () => {
  const r = await get(srv, '/token', { cookie: alice.cookie });
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.json), ['token']);
  const { payload } = await jwtVerify(r.json.token, jwks, { issuer: srv.baseUrl, audience: srv.baseUrl });
  assert.equal(payload.sub, alice.user.id);
  const none = await get(srv, '/token');
  assert.equal(none.status, 401);
  assert.equal(none.text, '{"message":"Unauthorized","code":"UNAUTHORIZED"}');
});

test('GET /token/anonymous: {token, expires_at} with role anonymous and no sub', async () => {
  const r = await get(srv, '/token/anonymous');
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.json), ['token', 'expires_at']);
  const { payload } = await jwtVerify(r.json.token, jwks, { issuer: srv.baseUrl, audience: srv.baseUrl });
  assert.equal(payload.role, 'anonymous');
  assert.equal(payload.sub, undefined);
  assert.equal(r.json.expires_at, payload.exp);
});

test('CORS preflight from http://localhost:5173 allows credentials and x-neon-client-info', async () => {
  const r = await raw(`${srv.authUrl}/sign-in/email`, {
    method: 'OPTIONS',
    headers: {
      Origin: 'http://localhost:5173',
      'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'content-type,x-neon-client-info',
    },
  });
  assert.ok(r.status === 200 || r.status === 204, `preflight status ${r.status}`);
  assert.equal(header(r, 'access-control-allow-origin'), 'http://localhost:5173');
  assert.equal(header(r, 'access-control-allow-credentials'), 'true');
  const allowed = header(r, 'access-control-allow-headers').toLowerCase().split(/\s*,\s*/);
  assert.ok(allowed.includes('x-neon-client-info'), allowed.join());
  assert.ok(allowed.includes('content-type'), allowed.join());
  assert.ok(header(r, 'access-control-allow-methods').split(/\s*,\s*/).includes('POST'));
  assert.match(header(r, 'vary'), /\bOrigin\b/);
});

test('CORS: a foreign origin gets no Access-Control-Allow-Origin (preflight or request)', async () => {
  const pre = await raw(`${srv.authUrl}/sign-in/email`, {
    method: 'OPTIONS',
    headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
  });
  assert.equal(header(pre, 'access-control-allow-origin'), undefined);
  assert.equal(header(pre, 'access-control-allow-credentials'), undefined);
  const r = await get(srv, '/get-session', { cookie: alice.cookie, headers: { Origin: 'https://evil.example' } });
  assert.equal(header(r, 'access-control-allow-origin'), undefined);
  assert.equal(header(r, 'access-control-allow-credentials'), undefined);
});

test('CORS on get-session from a trusted origin: exact origin, credentials, Vary, set-auth-jwt exposed', async () => {
  const r = await get(srv, '/get-session', { cookie: alice.cookie, headers: { Origin: APP_ORIGIN } });
  assert.equal(r.status, 200);
  assert.equal(header(r, 'access-control-allow-origin'), APP_ORIGIN);
  assert.equal(header(r, 'access-control-allow-credentials'), 'true');
  assert.match(header(r, 'vary'), /\bOrigin\b/);
  const exposed = header(r, 'access-control-expose-headers').split(/\s*,\s*/);
  assert.ok(exposed.includes('set-auth-jwt'), exposed.join());
});

test('sign-up with image, callbackURL and rememberMe:false: {token, user}, browser-session cookie + dont_remember', async () => {
  const email = uniqueEmail('bob');
  const r = await post(srv, '/sign-up/email', {
    email, password: alice.password, name: 'Bob', image: 'https://example.com/bob.png', callbackURL: '/welcome', rememberMe: false,
  });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(Object.keys(r.json), ['token', 'user'], 'sign-up has no redirect/url members');
  assert.equal(r.json.user.image, 'https://example.com/bob.png');
  assert.deepEqual(r.setCookies, [
    `${COOKIE}=${signCookie(srv.secret, r.json.token)}; Path=/; HttpOnly; Secure; SameSite=Lax`,
    `__Secure-neon-auth.dont_remember=${signCookie(srv.secret, 'true')}; Path=/; HttpOnly; Secure; SameSite=Lax`,
  ]);
  const { rows } = await srv.db.query('SELECT "expiresAt" FROM neon_auth.session WHERE token = $1', [r.json.token]);
  assert.ok(Math.abs(rows[0].expiresAt.getTime() - Date.now() - 86_400_000) < 10_000, 'a rememberMe:false session lasts 1 day');
});

test('a session records a single-IP X-Forwarded-For as its ipAddress', async () => {
  const r = await post(srv, '/sign-in/email', { email: alice.email, password: alice.password }, { 'X-Forwarded-For': '203.0.113.7' });
  assert.equal(r.status, 200);
  const { rows } = await srv.db.query('SELECT "ipAddress" FROM neon_auth.session WHERE token = $1', [r.json.token]);
  assert.equal(rows[0].ipAddress, '203.0.113.7');
});

test('update-user: 200 with the cookie re-sent; {} / email / role / no session are refused like Better Auth', async () => {
  const me = await signUp(srv, { name: 'Carol' });
  const cookie = { Cookie: `${COOKIE}=${me.cookie}` };
  const ok = await post(srv, '/update-user', { name: 'Carol Renamed', image: 'https://example.com/c.png' }, cookie);
  assert.equal(ok.status, 200, ok.text);
  assert.deepEqual(ok.setCookies, [expectedSessionCookie(me.token)], 'update-user re-sends the session cookie');
  assert.equal(ok.json.user?.name, 'Carol Renamed', 'decision D1: {"user": ...}');
  const s = await get(srv, '/get-session', { cookie: me.cookie });
  assert.equal(s.json.user.name, 'Carol Renamed');
  assert.equal(s.json.user.image, 'https://example.com/c.png');
  assert.ok(Date.parse(s.json.user.updatedAt) > Date.parse(s.json.user.createdAt), 'updatedAt moves');
  const empty = await post(srv, '/update-user', {}, cookie);
  assert.equal(empty.status, 400);
  assert.equal(empty.text, '{"message":"No fields to update"}');
  const email = await post(srv, '/update-user', { email: uniqueEmail('x') }, cookie);
  assert.equal(email.status, 400);
  assert.equal(email.text, '{"message":"Email can not be updated","code":"EMAIL_CAN_NOT_BE_UPDATED"}');
  const role = await post(srv, '/update-user', { role: 'admin' }, cookie);
  assert.equal(role.status, 400);
  assert.equal(role.text, '{"message":"role is not allowed to be set","code":"FIELD_NOT_ALLOWED"}');
  const anonymous = await post(srv, '/update-user', { name: 'x' });
  assert.equal(anonymous.status, 401);
  assert.equal(anonymous.text, '{"message":"Unauthorized","code":"UNAUTHORIZED"}');
  const { rows } = await srv.db.query('SELECT role FROM neon_auth."user" WHERE id = $1', [me.user.id]);
  assert.equal(rows[0].role, 'user');
});

test('list-accounts: one credential account in Better Auth member order; list-sessions needs a session', async () => {
  const r = await get(srv, '/list-accounts', { cookie: alice.cookie });
  assert.equal(r.status, 200);
  assert.equal(r.json.length, 1);
  const a = r.json[0];
  assert.deepEqual(Object.keys(a), ['accountId', 'providerId', 'userId', 'createdAt', 'updatedAt', 'id', 'scopes']);
  assert.equal(a.providerId, 'credential');
  assert.equal(a.accountId, alice.user.id);
  assert.equal(a.userId, alice.user.id);
  assert.deepEqual(a.scopes, []);
  assert.match(a.createdAt, ISO_MS);
  assert.equal('password' in a, false);
  const sessions = await get(srv, '/list-sessions', { cookie: alice.cookie });
  assert.equal(sessions.status, 200);
  for (const s of sessions.json) assert.deepEqual(Object.keys(s), SESSION_KEYS);
  assert.ok(sessions.json.some((s) => s.token === alice.token));
  const none = await get(srv, '/list-sessions');
  assert.equal(none.status, 401);
  assert.equal(none.text, '{"message":"Unauthorized","code":"UNAUTHORIZED"}');
});

test('verify-password, revoke-session of an unknown token, update-session {}: Better Auth answers', async () => {
  const cookie = { Cookie: `${COOKIE}=${alice.cookie}` };
  const good = await post(srv, '/verify-password', { password: alice.password }, cookie);
  assert.equal(good.status, 200);
  assert.equal(good.text, '{"status":true}');
  const bad = await post(srv, '/verify-password', { password: 'not-the-password' }, cookie);
  assert.equal(bad.status, 400);
  assert.equal(bad.text, '{"message":"Invalid password","code":"INVALID_PASSWORD"}');
  const unknown = await post(srv, '/revoke-session', { token: 'doesnotexist' }, cookie);
  assert.equal(unknown.status, 200);
  assert.equal(unknown.text, '{"status":true}');
  const us = await post(srv, '/update-session', {}, cookie);
  assert.equal(us.status, 400);
  assert.equal(us.text, '{"message":"No fields to update"}');
});

test('change-password without revokeOtherSessions: {token:null, user}, no new cookie, other sessions survive', async () => {
  const me = await signUp(srv, { name: 'Dave' });
  const other = await signIn(srv, me.email);
  const newPassword = 'dave-new-password-1';
  const r = await post(srv, '/change-password', { currentPassword: me.password, newPassword }, { Cookie: `${COOKIE}=${me.cookie}` });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(Object.keys(r.json), ['token', 'user']);
  assert.equal(r.json.token, null);
  assert.deepEqual(Object.keys(r.json.user), USER_KEYS);
  assert.deepEqual(r.setCookies, []);
  assert.equal((await get(srv, '/get-session', { cookie: other.cookie })).json?.session?.token, other.token);
  assert.equal((await get(srv, '/get-session', { cookie: me.cookie })).json?.session?.token, me.token);
  const wrong = await post(srv, '/change-password', { currentPassword: 'nope-nope-1', newPassword: 'whatever-123' }, { Cookie: `${COOKIE}=${me.cookie}` });
  assert.equal(wrong.status, 400);
  assert.equal(wrong.text, '{"message":"Invalid password","code":"INVALID_PASSWORD"}');
  const short = await post(srv, '/change-password', { currentPassword: newPassword, newPassword: 'short' }, { Cookie: `${COOKIE}=${me.cookie}` });
  assert.equal(short.status, 400);
  assert.equal(short.text, '{"message":"Password too short","code":"PASSWORD_TOO_SHORT"}');
  const old = await post(srv, '/sign-in/email', { email: me.email, password: me.password });
  assert.equal(old.status, 401);
  await signIn(srv, me.email, newPassword);
});

test('change-password with revokeOtherSessions: a new session cookie; every previous session is gone', async () => {
  const me = await signUp(srv, { name: 'Erin' });
  const other = await signIn(srv, me.email);
  const r = await post(srv, '/change-password',
    { currentPassword: me.password, newPassword: 'erin-new-password-1', revokeOtherSessions: true }, { Cookie: `${COOKIE}=${me.cookie}` });
  assert.equal(r.status, 200, r.text);
  assert.match(r.json.token, /^[A-Za-z0-9]{32}$/);
  assert.deepEqual(r.setCookies, [expectedSessionCookie(r.json.token)]);
  const { rows } = await srv.db.query('SELECT token FROM neon_auth.session WHERE "userId" = $1', [me.user.id]);
  assert.deepEqual(rows.map((x) => x.token), [r.json.token], 'only the new session remains');
  assert.equal((await get(srv, '/get-session', { cookie: other.cookie })).text, 'null');
  assert.equal((await get(srv, '/get-session', { cookie: me.cookie })).text, 'null');
});

test('POST /revoke-all-sessions (toolkit alias) revokes the other sessions', async () => {
  const me = await signUp(srv, { name: 'Frank' });
  const other = await signIn(srv, me.email);
  const r = await post(srv, '/revoke-all-sessions', {}, { Cookie: `${COOKIE}=${me.cookie}` });
  assert.equal(r.status, 200);
  assert.equal(r.text, '{"status":true}');
  assert.equal((await get(srv, '/get-session', { cookie: other.cookie })).text, 'null');
  assert.equal((await get(srv, '/get-session', { cookie: me.cookie })).json?.session?.token, me.token);
});
