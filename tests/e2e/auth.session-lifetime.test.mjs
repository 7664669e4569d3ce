// Session lifetime (better-auth-oracle.md §3 "Session lifetime", §6 get-session rows): sliding refresh
// after updateAge, expiry, rememberMe:false sessions, and pgwarden's absolute maximum (SE-05).
// Sessions are aged by editing neon_auth.session directly.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, get, signUp, signIn, signCookie, header, COOKIE, ISO_MS, EXPIRED_COOKIES, raw,
  showServerOutputOnFailure,
} from './harness.mjs';

const DAY = 86_400_000;
let srv;
let user;

before(async () => {
  srv = await startServer();
  user = await signUp(srv, { name: 'Lifetime' });
});
after(async () => { await srv?.stop(); });
showServerOutputOnFailure(() => srv);

async function setSession(token, sql) {
  const r = await srv.db.query(`UPDATE neon_auth.session SET ${sql} WHERE token = $1`, [token]);
  assert.equal(r.rowCount, 1);
}
async function sessionRow(token) {
  const { rows } = await srv.db.query('SELECT "expiresAt", "updatedAt", "createdAt" FROM neon_auth.session WHERE token = $1', [token]);
  return rows[0];
}

test('a session past updateAge (expiresAt = now + 5 d) is extended to now + 7 d and its cookie re-sent', async () => {
  const s = await signIn(srv, user.email);
  await setSession(s.token, `"expiresAt" = now() + interval '5 days', "updatedAt" = now() - interval '2 days'`);
  const r = await get(srv, '/get-session', { cookie: s.cookie });
  assert.equal(r.status, 200);
  assert.equal(r.json.session.token, s.token);
  const expiresAt = Date.parse(r.json.session.expiresAt);
  assert.match(r.json.session.expiresAt, ISO_MS);
  assert.ok(Math.abs(expiresAt - (Date.now() + 7 * DAY)) < 10_000, `expiresAt ≈ now + 7 d, got ${r.json.session.expiresAt}`);
  assert.ok(Math.abs(Date.parse(r.json.session.updatedAt) - Date.now()) < 10_000, 'updatedAt is now');
  assert.deepEqual(r.setCookies, [
    `${COOKIE}=${signCookie(srv.secret, s.token)}; Max-Age=604800; Path=/; HttpOnly; Secure; SameSite=Lax`,
  ]);
  assert.equal(header(r, 'set-auth-token'), decodeURIComponent(signCookie(srv.secret, s.token)));
  assert.equal(header(r, 'access-control-expose-headers'), 'set-auth-jwt, set-auth-token');
  assert.ok(header(r, 'set-auth-jwt'));
  const row = await sessionRow(s.token);
  assert.ok(Math.abs(row.expiresAt.getTime() - (Date.now() + 7 * DAY)) < 10_000, 'the database row was extended');
  // A second call right after is not a refresh any more.
  const again = await get(srv, '/get-session', { cookie: s.cookie });
  assert.deepEqual(again.setCookies, []);
  assert.equal(header(again, 'access-control-expose-headers'), 'set-auth-jwt');
});

test('a session within updateAge (expiresAt = now + 6.5 d) is not refreshed', async () => {
  const s = await signIn(srv, user.email);
  await setSession(s.token, `"expiresAt" = now() + interval '6 days 12 hours'`);
  const before = await sessionRow(s.token);
  const r = await get(srv, '/get-session', { cookie: s.cookie });
  assert.equal(r.json.session.token, s.token);
  assert.deepEqual(r.setCookies, []);
  assert.equal(header(r, 'set-auth-token'), undefined);
  assert.equal(header(r, 'access-control-expose-headers'), 'set-auth-jwt');
  assert.equal((await sessionRow(s.token)).expiresAt.getTime(), before.expiresAt.getTime());
});

test('?disableRefresh=true leaves an aged session as it is', async () => {
  const s = await signIn(srv, user.email);
  await setSession(s.token, `"expiresAt" = now() + interval '5 days'`);
  const before = await sessionRow(s.token);
  const r = await get(srv, '/get-session?disableRefresh=true', { cookie: s.cookie });
  assert.equal(r.json.session.token, s.token);
  assert.deepEqual(r.setCookies, []);
  assert.equal((await sessionRow(s.token)).expiresAt.getTime(), before.expiresAt.getTime());
});

test('a rememberMe:false session (1 day) is not extended by get-session', async () => {
  // Better Auth 1.6.23 api/routes/session.mjs: "We don't need to update the session if the user doesn't
  // want to be remembered" -> with a valid dont_remember cookie, get-session never refreshes.
  const s = await signIn(srv, user.email, undefined, { rememberMe: false });
  const dontRemember = signCookie(srv.secret, 'true');
  assert.deepEqual(s.res.setCookies, [
    `${COOKIE}=${s.cookie}; Path=/; HttpOnly; Secure; SameSite=Lax`,
    `__Secure-neon-auth.dont_remember=${dontRemember}; Path=/; HttpOnly; Secure; SameSite=Lax`,
  ]);
  const before = await sessionRow(s.token);
  assert.ok(Math.abs(before.expiresAt.getTime() - (Date.now() + DAY)) < 10_000, 'the session lasts 1 day');
  const r = await raw(`${srv.authUrl}/get-session`, {
    headers: { Cookie: `${COOKIE}=${s.cookie}; __Secure-neon-auth.dont_remember=${dontRemember}` },
  });
  assert.equal(r.json?.session?.token, s.token);
  const afterRow = await sessionRow(s.token);
  assert.equal(afterRow.expiresAt.toISOString(), before.expiresAt.toISOString(),
    'expiresAt must stay at sign-in + 1 d (the response said ' + r.json?.session?.expiresAt + ')');
  assert.deepEqual(r.setCookies, [], 'no cookie is re-sent for a rememberMe:false session');
});

test('an expired session gives null, the 3 expiring cookies, no JWT, and its row is deleted', async () => {
  const s = await signIn(srv, user.email);
  await setSession(s.token, `"expiresAt" = now() - interval '1 minute'`);
  const r = await get(srv, '/get-session', { cookie: s.cookie });
  assert.equal(r.status, 200);
  assert.equal(r.text, 'null');
  assert.deepEqual(r.setCookies, EXPIRED_COOKIES);
  assert.equal(header(r, 'set-auth-jwt'), undefined, 'no JWT for an expired session (oracle §3 quirk, not to be copied)');
  assert.equal(await sessionRow(s.token), undefined, 'the expired row is deleted');
  const t = await get(srv, '/token', { cookie: s.cookie });
  assert.equal(t.status, 401);
});

test('with PGWARDEN_SESSION_ABSOLUTE_MAX=120 a session created 3 minutes ago is over, however fresh its expiresAt', async () => {
  const short = await startServer({ env: { PGWARDEN_SESSION_ABSOLUTE_MAX: '120' } });
  try {
    const u = await signUp(short, { name: 'Absolute' });
    const ok = await get(short, '/get-session', { cookie: u.cookie });
    assert.equal(ok.json?.session?.token, u.token, 'a new session is valid');
    const r0 = await short.db.query(
      `UPDATE neon_auth.session SET "createdAt" = now() - interval '3 minutes', "expiresAt" = now() + interval '7 days' WHERE token = $1`,
      [u.token],
    );
    assert.equal(r0.rowCount, 1);
    const r = await get(short, '/get-session', { cookie: u.cookie });
    assert.equal(r.status, 200);
    assert.equal(r.text, 'null');
    assert.deepEqual(r.setCookies, EXPIRED_COOKIES);
    const { rows } = await short.db.query('SELECT count(*)::int AS n FROM neon_auth.session WHERE token = $1', [u.token]);
    assert.equal(rows[0].n, 0);
  } finally {
    await short.stop();
  }
});
