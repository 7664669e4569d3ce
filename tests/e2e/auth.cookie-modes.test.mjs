// Cookie modes: cross-site (SameSite=None; Secure; Partitioned) for apps on another site, and the older
// documented cookie name `__Secure-neonauth.session_token` accepted on input.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, raw, uniqueEmail, PASSWORD, signCookie } from './harness.mjs';

let srv;
before(async () => { srv = await startServer({ env: { PGWARDEN_COOKIE_MODE: 'cross-site' } }); });
after(async () => { await srv?.stop(); });

async function signUpRaw() {
  const r = await raw(`${srv.authUrl}/sign-up/email`, {
    method: 'POST',
    headers: { origin: 'http://localhost:3000' },
    body: { email: uniqueEmail('xsite'), password: PASSWORD, name: 'X' },
  });
  assert.equal(r.status, 200);
  return r;
}

test('cross-site mode sets SameSite=None; Secure; Partitioned on the session cookie', async () => {
  const r = await signUpRaw();
  const cookie = r.setCookies.find((c) => c.startsWith('__Secure-neon-auth.session_token='));
  assert.ok(cookie, 'session cookie set');
  assert.match(cookie, /; Max-Age=604800; Path=\/; HttpOnly; Secure; SameSite=None; Partitioned$/);
});

test('cross-site mode expires cookies with the same attributes on sign-out', async () => {
  const r = await raw(`${srv.authUrl}/sign-out`, { method: 'POST', headers: { origin: 'http://localhost:3000' }, body: {} });
  assert.equal(r.status, 200);
  assert.equal(r.setCookies.length, 3);
  for (const c of r.setCookies) assert.match(c, /=; Max-Age=0; Path=\/; HttpOnly; Secure; SameSite=None; Partitioned$/);
});

test('the older cookie name __Secure-neonauth.session_token is accepted on input', async () => {
  const r = await signUpRaw();
  const token = r.json.token;
  const value = signCookie(srv.secret, token);  // already URL-encoded
  const s = await raw(`${srv.authUrl}/get-session`, { headers: { cookie: `__Secure-neonauth.session_token=${value}` } });
  assert.equal(s.status, 200);
  assert.equal(s.json.session.token, token);
  const bad = await raw(`${srv.authUrl}/get-session`, { headers: { cookie: `__Secure-neonauth.session_token=${token}.x` } });
  assert.equal(bad.json, null);
});
