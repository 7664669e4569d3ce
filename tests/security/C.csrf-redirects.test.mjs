// security.md §C CSRF, origins, redirects: CS-01 … CS-06, and CS-07 (P2: security headers).
//
// Servers:
//   srv    PGWARDEN_TRUSTED_ORIGINS https://trusted.com,https://*.trusted.com; SMTP sink; GitHub provider with
//          dummy credentials (sign-in/social only builds the authorize URL); Data API CORS allowlist
//          PGRST_SERVER_CORS_ALLOWED_ORIGINS=https://app.trusted.com
//   plain  defaults, PGWARDEN_BASE_URL https://auth.example.test (Data API CORS default; CS-07 over https)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import {
  startServer, raw, post, get, signUp, signIn, cookieValue, header, uniqueEmail, COOKIE, PASSWORD, APP_ORIGIN,
  showServerOutputOnFailure,
} from '../e2e/harness.mjs';
import * as mailbox from '../e2e/mailbox.mjs';
import { mailEnv, linkIn, stopAll } from '../e2e/email.common.mjs';

const EVIL = 'https://evil.example';
const TRUSTED = 'https://app.trusted.com';
let mb;
let srv;
let plain;

before(async () => {
  mb = await mailbox.start();
  [srv, plain] = await Promise.all([
    startServer({
      env: mailEnv(mb, {
        PGWARDEN_TRUSTED_ORIGINS: 'https://trusted.com,https://*.trusted.com',
        PGWARDEN_OAUTH_GITHUB_CLIENT_ID: 'gh-client-id',
        PGWARDEN_OAUTH_GITHUB_CLIENT_SECRET: 'gh-client-secret',
        PGRST_SERVER_CORS_ALLOWED_ORIGINS: TRUSTED,
      }),
    }),
    startServer({ env: { PGWARDEN_BASE_URL: 'https://auth.example.test' } }),
  ]);
});
after(() => stopAll([srv, plain], [mb]));
showServerOutputOnFailure(() => [srv, plain]);

const url = (p, s = srv) => `${s.authUrl}${p}`;
const cookieHeader = (c) => ({ Cookie: `${COOKIE}=${c}` });
const b64u = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');

function signJwt(payload, secret) {
  const input = `${b64u({ alg: 'HS256' })}.${b64u(payload)}`;
  return `${input}.${createHmac('sha256', Buffer.from(secret, 'utf8')).update(input).digest('base64url')}`;
}

async function userRow(id) {
  const { rows } = await srv.db.query('SELECT name, email, "emailVerified" FROM neon_auth."user" WHERE id = $1', [id]);
  return rows[0];
}
async function sessionAlive(s, cookie) {
  return !!(await get(s, '/get-session', { cookie })).json?.session;
}
async function signInStatus(email, password) {
  return (await post(srv, '/sign-in/email', { email, password })).status;
}

// ---------------------------------------------------------------- CS-01

test('CS-01: cookie-authenticated update-user: foreign Origin, foreign Referer, Origin: null → 403 and nothing changes; trusted Origin → 200', async () => {
  const u = await signUp(srv, { name: 'Origin Check' });
  const h = cookieHeader(u.cookie);
  const body = { name: 'Changed by CSRF' };
  const cases = {
    'foreign Origin': { Origin: EVIL },
    'foreign Referer, no Origin': { Referer: `${EVIL}/x` },
    'Origin: null': { Origin: 'null' },
    'look-alike Origin': { Origin: 'https://trusted.com.evil.example' },
    'foreign Origin, trusted Referer': { Origin: EVIL, Referer: `${TRUSTED}/settings` },
  };
  for (const [what, hdrs] of Object.entries(cases)) {
    const r = await raw(url('/update-user'), { method: 'POST', headers: { ...h, ...hdrs }, body });
    assert.equal(r.status, 403, `${what}: ${r.status} ${r.text}`);
    assert.ok(['INVALID_ORIGIN', 'MISSING_OR_NULL_ORIGIN'].includes(r.json?.code), `${what}: ${r.text}`);
  }
  assert.equal((await userRow(u.user.id)).name, 'Origin Check', 'user unchanged');
  const ok = await raw(url('/update-user'), { method: 'POST', headers: { ...h, Origin: TRUSTED }, body: { name: 'Changed legitimately' } });
  assert.equal(ok.status, 200, ok.text);
  assert.equal((await userRow(u.user.id)).name, 'Changed legitimately');
});

test('CS-01: every cookie-authenticated state-changing endpoint refuses a foreign Origin and changes nothing', async () => {
  const u = await signUp(srv, { name: 'All endpoints' });
  const other = await signIn(srv, u.email);
  const h = { ...cookieHeader(u.cookie), Origin: EVIL };
  const calls = [
    ['/sign-out', {}],
    ['/revoke-sessions', {}],
    ['/revoke-other-sessions', {}],
    ['/revoke-session', { token: other.token }],
    ['/change-password', { currentPassword: PASSWORD, newPassword: 'csrf-new-password-1', revokeOtherSessions: true }],
    ['/change-email', { newEmail: uniqueEmail('csrf-new') }],
    ['/delete-user', { password: PASSWORD }],
    ['/update-session', { activeOrganizationId: null }],
    ['/send-verification-email', { email: u.email }],
    ['/unlink-account', { providerId: 'credential' }],
    ['/link-social', { provider: 'github', callbackURL: '/x' }],
    ['/email-otp/request-email-change', { newEmail: uniqueEmail('csrf-otp') }],
    ['/update-user', { image: 'https://evil.example/x.png' }],
  ];
  for (const [p, body] of calls) {
    const r = await raw(url(p), { method: 'POST', headers: h, body });
    assert.equal(r.status, 403, `${p}: ${r.status} ${r.text}`);
  }
  assert.ok(await sessionAlive(srv, u.cookie), 'session alive');
  assert.ok(await sessionAlive(srv, other.cookie), 'other session alive');
  const row = await userRow(u.user.id);
  assert.equal(row?.email, u.email.toLowerCase(), 'user exists with the same address');
  assert.equal(await signInStatus(u.email, PASSWORD), 200, 'password unchanged');
});

// ---------------------------------------------------------------- CS-02

test('CS-02: change-password as a "simple" request (text/plain, form, multipart; no Origin) is refused and the password is unchanged', async () => {
  const u = await signUp(srv, { name: 'Simple request' });
  const json = JSON.stringify({ currentPassword: PASSWORD, newPassword: 'simple-new-password-1' });
  const form = `currentPassword=${encodeURIComponent(PASSWORD)}&newPassword=simple-new-password-1`;
  const cases = [
    ['text/plain, no Origin', { 'Content-Type': 'text/plain' }, json],
    ['text/plain, trusted Origin', { 'Content-Type': 'text/plain', Origin: TRUSTED }, json],
    ['form, no Origin', { 'Content-Type': 'application/x-www-form-urlencoded' }, form],
    ['form, trusted Origin', { 'Content-Type': 'application/x-www-form-urlencoded', Origin: TRUSTED }, form],
    ['multipart, trusted Origin', { 'Content-Type': 'multipart/form-data; boundary=xyz', Origin: TRUSTED },
      `--xyz\r\nContent-Disposition: form-data; name="currentPassword"\r\n\r\n${PASSWORD}\r\n--xyz\r\nContent-Disposition: form-data; name="newPassword"\r\n\r\nsimple-new-password-1\r\n--xyz--\r\n`],
  ];
  for (const [what, hdrs, body] of cases) {
    const r = await raw(url('/change-password'), { method: 'POST', headers: { ...cookieHeader(u.cookie), ...hdrs }, body });
    assert.ok(r.status >= 400 && r.status < 500, `${what}: ${r.status} ${r.text}`);
  }
  assert.equal(await signInStatus(u.email, PASSWORD), 200, 'password unchanged');
  assert.equal(await signInStatus(u.email, 'simple-new-password-1'), 401);
});

test('CS-02: GET, HEAD and OPTIONS on state-changing endpoints are 404/405 (or a preflight) and change nothing', async () => {
  const u = await signUp(srv, { name: 'Safe methods' });
  const paths = ['/sign-out', '/delete-user', '/revoke-sessions', '/revoke-other-sessions', '/revoke-session', '/change-password',
    '/update-user', '/change-email', '/update-session', '/unlink-account'];
  for (const p of paths) {
    for (const method of ['GET', 'HEAD']) {
      const r = await raw(`${url(p)}?password=${encodeURIComponent(PASSWORD)}&token=${u.token}`, { method, headers: cookieHeader(u.cookie) });
      assert.ok(r.status === 404 || r.status === 405, `${method} ${p}: ${r.status} ${r.text}`);
    }
    const o = await raw(url(p), { method: 'OPTIONS', headers: { ...cookieHeader(u.cookie), Origin: TRUSTED, 'Access-Control-Request-Method': 'POST' } });
    assert.ok(o.status < 500, `OPTIONS ${p}: ${o.status}`);
  }
  assert.ok(await sessionAlive(srv, u.cookie), 'session alive');
  assert.ok(await userRow(u.user.id), 'user exists');
});

// ---------------------------------------------------------------- CS-03

function formSignIn(email, password, headers, s = srv) {
  return raw(url('/sign-in/email', s), {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body: `email=${encodeURIComponent(email)}&password=${encodeURIComponent(password)}`,
  });
}

test('CS-03: cookie-less form sign-in: cross-site navigation → 403; same-origin → 200; foreign Origin or Referer → 403; no headers → 200', async () => {
  const u = await signUp(srv, { name: 'Login CSRF' });
  const cases = [
    ['Sec-Fetch-Site: cross-site + Sec-Fetch-Mode: navigate', { 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'navigate', 'Sec-Fetch-Dest': 'document' }, 403],
    ['Sec-Fetch-Site: same-origin', { 'Sec-Fetch-Site': 'same-origin', 'Sec-Fetch-Mode': 'cors' }, 200],
    ['Origin: evil', { Origin: EVIL }, 403],
    ['Referer: evil, no Origin', { Referer: `${EVIL}/login` }, 403],
    ['Origin: evil with Sec-Fetch-Site: same-origin', { Origin: EVIL, 'Sec-Fetch-Site': 'same-origin' }, 403],
    ['no headers', {}, 200],
    ['trusted Origin', { Origin: TRUSTED }, 200],
  ];
  for (const [what, hdrs, status] of cases) {
    const r = await formSignIn(u.email, PASSWORD, hdrs);
    assert.equal(r.status, status, `${what}: ${r.status} ${r.text}`);
    if (status === 403) assert.equal(cookieValue(r.setCookies), undefined, `${what}: no session cookie`);
    else assert.ok(cookieValue(r.setCookies), `${what}: a session cookie`);
  }
});

test('CS-03: the same rules on sign-up: refused requests create no user', async () => {
  const cases = [
    ['cross-site navigation', { 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'navigate' }, 403],
    ['Origin: evil', { Origin: EVIL }, 403],
    ['Referer: evil', { Referer: `${EVIL}/signup` }, 403],
    ['no headers', {}, 200],
  ];
  for (const [what, hdrs, status] of cases) {
    const email = uniqueEmail('cs03');
    const r = await raw(url('/sign-up/email'), {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...hdrs },
      body: `name=CS03&email=${encodeURIComponent(email)}&password=${encodeURIComponent(PASSWORD)}`,
    });
    assert.equal(r.status, status, `${what}: ${r.status} ${r.text}`);
    const { rows } = await srv.db.query('SELECT count(*)::int AS n FROM neon_auth."user" WHERE email = $1', [email]);
    assert.equal(rows[0].n, status === 200 ? 1 : 0, `${what}: user rows`);
  }
});

// ---------------------------------------------------------------- CS-04

const VECTORS = [
  'https://evil.com',
  '//evil.com',
  '/\\evil.com',
  '/\\/\\/evil.com',
  '/%5C/evil.com',
  '/%2F/evil.com',
  'https://trusted.com.evil.com',
  'https://trusted.com@evil.com',
  'https://evil.com#@trusted.com',
  'http://123.123.123.123?trusted.com/',
  'javascript:alert(1)',
  'data:text/html,x',
  'evil.com',
  'https://xn--trsted-kva.com/cb',
  // wildcard *.trusted.com must match a sub-domain label of the given scheme only
  'http://app.trusted.com/cb',
  'https://app.trusted.com.evil.com/cb',
  'https://app.trusted.com@evil.com/cb',
  'https://evil.com?.trusted.com',
  'https://evil.com#.trusted.com',
  'https://evil.com\\.trusted.com',
  // browser URL parsing quirks
  'https:evil.com',
  'https:/evil.com',
  '\\\\evil.com',
  '/\t/evil.com',
  '/\n/evil.com',
  ' //evil.com',
];

function isTrustedOrigin(origin, s) {
  return origin === new URL(s.baseUrl).origin || origin === 'https://trusted.com' || /^https:\/\/[a-z0-9-]+\.trusted\.com$/.test(origin)
    || /^https?:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/.test(origin);
}

/** A redirect answer must stay on trusted origins, as a browser would resolve its Location. */
function assertNoOffsiteRedirect(res, what, s = srv) {
  const loc = res.headers.location;
  if (loc === undefined) return;
  const target = new URL(loc, `${s.baseUrl}/neondb/auth/x`);
  assert.ok(isTrustedOrigin(target.origin, s), `${what}: redirects to ${target.href} (Location ${JSON.stringify(loc)})`);
}

test('CS-04: every redirect vector in callbackURL is refused on sign-in (403 INVALID_CALLBACK_URL, no session, no Location)', async () => {
  const u = await signUp(srv, { name: 'Redirects' });
  const failures = [];
  for (const callbackURL of VECTORS) {
    const r = await post(srv, '/sign-in/email', { email: u.email, password: PASSWORD, callbackURL });
    if (r.status !== 403 || r.json?.code !== 'INVALID_CALLBACK_URL' || cookieValue(r.setCookies) || r.headers.location !== undefined) {
      failures.push(`${JSON.stringify(callbackURL)} → ${r.status} ${r.text.slice(0, 120)} Location=${r.headers.location}`);
    }
  }
  assert.deepEqual(failures, []);
});

test('CS-04: redirect vectors in redirectTo (password reset) are refused with 403 INVALID_REDIRECT_URL and no mail', async () => {
  const u = await signUp(srv, { name: 'Reset redirect' });
  const mark = mb.mark();
  const failures = [];
  for (const redirectTo of VECTORS) {
    const r = await post(srv, '/request-password-reset', { email: u.email, redirectTo });
    if (r.status !== 403 || r.json?.code !== 'INVALID_REDIRECT_URL') failures.push(`${JSON.stringify(redirectTo)} → ${r.status} ${r.text.slice(0, 120)}`);
  }
  assert.deepEqual(failures, []);
  await mb.none((m) => m.index >= mark && m.to === u.email.toLowerCase(), 800);
});

test('CS-04: callbackURL, errorCallbackURL and newUserCallbackURL of sign-in/social and magic links are validated', async () => {
  const subset = ['https://evil.com', '//evil.com', '/\\evil.com', '/%5C/evil.com', 'https://trusted.com@evil.com', 'javascript:alert(1)', 'https:evil.com'];
  const u = await signUp(srv, { name: 'Social redirect' });
  const mark = mb.mark();
  const failures = [];
  for (const v of subset) {
    for (const [field, code] of [['callbackURL', 'INVALID_CALLBACK_URL'], ['errorCallbackURL', 'INVALID_ERROR_CALLBACK_URL'],
      ['newUserCallbackURL', 'INVALID_NEW_USER_CALLBACK_URL']]) {
      const body = { provider: 'github', callbackURL: '/ok', [field]: v };
      const r = await post(srv, '/sign-in/social', body);
      if (r.status !== 403 || r.json?.code !== code || r.setCookies.length) failures.push(`sign-in/social ${field}=${JSON.stringify(v)} → ${r.status} ${r.text.slice(0, 100)}`);
      const m = await post(srv, '/sign-in/magic-link', { email: u.email, callbackURL: '/ok', [field]: v });
      if (m.status !== 403 || m.json?.code !== code) failures.push(`magic-link ${field}=${JSON.stringify(v)} → ${m.status} ${m.text.slice(0, 100)}`);
    }
  }
  assert.deepEqual(failures, []);
  await mb.none((m) => m.index >= mark && m.to === u.email.toLowerCase(), 800);
});

test('CS-04: GET /verify-email, /reset-password/:token and /magic-link/verify never redirect off-origin', async () => {
  const u = await signUp(srv, { name: 'GET redirects' });
  const now = Math.floor(Date.now() / 1000);
  const valid = signJwt({ email: u.email.toLowerCase(), iat: now, exp: now + 3600 }, srv.secret);
  const subset = ['https://evil.com', '//evil.com', '/\\evil.com', '/%5C/evil.com', 'https://trusted.com@evil.com', 'https:evil.com', '/\t/evil.com'];
  for (const v of subset) {
    const q = encodeURIComponent(v);
    const cases = [
      [`/verify-email?token=${valid}&callbackURL=${q}`, 'verify-email (valid token)'],
      [`/verify-email?token=garbage&callbackURL=${q}`, 'verify-email (bad token)'],
      [`/reset-password/not-a-token?callbackURL=${q}`, 'reset-password'],
      [`/magic-link/verify?token=not-a-token&callbackURL=${q}`, 'magic-link callbackURL'],
      [`/magic-link/verify?token=not-a-token&callbackURL=%2Fok&errorCallbackURL=${q}`, 'magic-link errorCallbackURL'],
    ];
    for (const [p, what] of cases) {
      const r = await raw(url(p));
      assert.ok(r.status < 500, `${what} ${JSON.stringify(v)}: ${r.status}`);
      assertNoOffsiteRedirect(r, `${what} ${JSON.stringify(v)}`);
      assert.equal(cookieValue(r.setCookies), undefined, `${what} ${JSON.stringify(v)}: no session cookie`);
    }
  }
  assert.equal((await userRow(u.user.id)).emailVerified, false, 'no request with an untrusted callbackURL verified the address');
  // control: the same token with a trusted callbackURL does verify (so the refusals above were about the URL)
  const ok = await raw(url(`/verify-email?token=${valid}&callbackURL=${encodeURIComponent('/done')}`));
  assert.equal(ok.status, 302, ok.text);
  assertNoOffsiteRedirect(ok, 'control');
  assert.equal((await userRow(u.user.id)).emailVerified, true, 'the control verified the address');
});

test('CS-04: non-string redirect values and duplicated callbackURL query parameters are 400, never 500', async () => {
  const u = await signUp(srv, { name: 'Types' });
  const values = [['/a', 'https://evil.com'], { href: 'https://evil.com' }, 42, true];
  for (const v of values) {
    for (const [p, body] of [
      ['/sign-in/email', { email: u.email, password: PASSWORD, callbackURL: v }],
      ['/sign-up/email', { name: 'T', email: uniqueEmail('cs04t'), password: PASSWORD, callbackURL: v }],
      ['/request-password-reset', { email: u.email, redirectTo: v }],
      ['/sign-in/social', { provider: 'github', callbackURL: v }],
      ['/sign-in/social', { provider: 'github', callbackURL: '/ok', errorCallbackURL: v }],
      ['/sign-in/magic-link', { email: u.email, callbackURL: v }],
    ]) {
      const r = await post(srv, p, body);
      assert.equal(r.status, 400, `${p} with ${JSON.stringify(v)}: ${r.status} ${r.text.slice(0, 120)}`);
    }
  }
  const now = Math.floor(Date.now() / 1000);
  const valid = signJwt({ email: u.email.toLowerCase(), iat: now, exp: now + 3600 }, srv.secret);
  for (const p of [
    `/verify-email?token=${valid}&callbackURL=%2Fok&callbackURL=https%3A%2F%2Fevil.com`,
    `/reset-password/not-a-token?callbackURL=%2Fok&callbackURL=https%3A%2F%2Fevil.com`,
    `/magic-link/verify?token=x&callbackURL=%2Fok&callbackURL=https%3A%2F%2Fevil.com`,
  ]) {
    const r = await raw(url(p));
    assert.equal(r.status, 400, `${p}: ${r.status} ${r.text.slice(0, 120)} Location=${r.headers.location}`);
  }
  assert.equal((await userRow(u.user.id)).emailVerified, false);
});

test('CS-04: accepted targets: /dashboard?tab=1 and https://app.trusted.com/cb', async () => {
  const u = await signUp(srv, { name: 'Accepted' });
  for (const callbackURL of ['/dashboard?tab=1', 'https://app.trusted.com/cb']) {
    const r = await post(srv, '/sign-in/email', { email: u.email, password: PASSWORD, callbackURL });
    assert.equal(r.status, 200, `${callbackURL}: ${r.text}`);
    assert.equal(r.json.url, callbackURL);
    const s = await post(srv, '/sign-in/social', { provider: 'github', callbackURL });
    assert.equal(s.status, 200, `social ${callbackURL}: ${s.text}`);
  }
});

// ---------------------------------------------------------------- CS-05

function assertNoCorsGrant(r, what) {
  assert.equal(header(r, 'access-control-allow-origin'), undefined, `${what}: Access-Control-Allow-Origin`);
  assert.equal(header(r, 'access-control-allow-credentials'), undefined, `${what}: Access-Control-Allow-Credentials`);
}
function assertNeverStarWithCredentials(r, what) {
  if (header(r, 'access-control-allow-credentials') === 'true') {
    assert.notEqual(header(r, 'access-control-allow-origin'), '*', `${what}: * with credentials`);
  }
}

test('CS-05: auth API: foreign, null and look-alike origins get no CORS grant; a trusted origin gets exactly itself, credentials and Vary: Origin', async () => {
  const u = await signUp(srv, { name: 'CORS' });
  const pre = (origin) => raw(url('/sign-in/email'), {
    method: 'OPTIONS', headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
  });
  for (const origin of [EVIL, 'null', 'https://trusted.com.evil.example', 'http://app.trusted.com', 'https://evil.example.trusted.com.evil']) {
    const p = await pre(origin);
    assertNoCorsGrant(p, `preflight from ${origin}`);
    const g = await get(srv, '/get-session', { cookie: u.cookie, headers: { Origin: origin } });
    assertNoCorsGrant(g, `get-session from ${origin}`);
  }
  for (const origin of [TRUSTED, 'https://trusted.com', APP_ORIGIN]) {
    const p = await pre(origin);
    assert.ok(p.status === 200 || p.status === 204, `preflight from ${origin}: ${p.status}`);
    assert.equal(header(p, 'access-control-allow-origin'), origin);
    assert.equal(header(p, 'access-control-allow-credentials'), 'true');
    assert.match(header(p, 'vary') ?? '', /\bOrigin\b/i);
    const g = await get(srv, '/get-session', { cookie: u.cookie, headers: { Origin: origin } });
    assert.equal(header(g, 'access-control-allow-origin'), origin);
    assert.equal(header(g, 'access-control-allow-credentials'), 'true');
    assert.match(header(g, 'vary') ?? '', /\bOrigin\b/i);
    assertNeverStarWithCredentials(g, origin);
  }
});

test('CS-05: Data API with an allowlist: a foreign origin gets no grant, the listed origin exactly itself with Vary: Origin', async () => {
  const api = `${srv.baseUrl}/neondb/rest/v1/`;
  const pre = (origin) => raw(`${api}anything`, { method: 'OPTIONS', headers: { Origin: origin, 'Access-Control-Request-Method': 'GET' } });
  const p1 = await pre(EVIL);
  assertNoCorsGrant(p1, 'Data API preflight from evil');
  const g1 = await raw(`${api}`, { headers: { Origin: EVIL } });
  assertNoCorsGrant(g1, 'Data API GET from evil');
  const p2 = await pre(TRUSTED);
  assert.equal(header(p2, 'access-control-allow-origin'), TRUSTED);
  assert.match(header(p2, 'vary') ?? '', /\bOrigin\b/i);
  assertNeverStarWithCredentials(p2, 'Data API preflight from the allowlisted origin');
  const g2 = await raw(`${api}`, { headers: { Origin: TRUSTED } });
  assert.equal(header(g2, 'access-control-allow-origin'), TRUSTED);
  assertNeverStarWithCredentials(g2, 'Data API GET');
});

test('CS-05: Data API without an allowlist never grants credentials to a foreign origin', async () => {
  const api = `${plain.baseUrl}/neondb/rest/v1/`;
  const p = await raw(`${api}anything`, { method: 'OPTIONS', headers: { Origin: EVIL, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'authorization' } });
  assert.notEqual(header(p, 'access-control-allow-credentials'), 'true', 'preflight: no credentials for any origin');
  assertNeverStarWithCredentials(p, 'preflight');
  const g = await raw(api, { headers: { Origin: EVIL } });
  assert.notEqual(header(g, 'access-control-allow-credentials'), 'true', 'GET: no credentials for any origin');
  // and the auth API of the same server still refuses the foreign origin
  const a = await raw(url('/get-session', plain), { headers: { Origin: EVIL } });
  assertNoCorsGrant(a, 'auth API of the default server');
});

// ---------------------------------------------------------------- CS-06

const SPOOF = { Host: 'evil.com', 'X-Forwarded-Host': 'evil.com', 'X-Forwarded-Proto': 'https', Forwarded: 'host=evil.com;proto=https' };

test('CS-06: mailed links (reset, verification, magic link, change-email) use PGWARDEN_BASE_URL despite Host / X-Forwarded-* headers', async () => {
  const u = await signUp(srv, { name: 'Links' });
  const cases = [
    ['/request-password-reset', { email: u.email, redirectTo: '/reset' }, '/reset-password/'],
    ['/send-verification-email', { email: u.email, callbackURL: '/verified' }, '/verify-email?'],
    ['/sign-in/magic-link', { email: u.email, callbackURL: '/dash' }, '/magic-link/verify?'],
  ];
  for (const [p, body, path] of cases) {
    const mark = mb.mark();
    const r = await post(srv, p, body, SPOOF);
    assert.equal(r.status, 200, `${p}: ${r.status} ${r.text}`);
    const m = await mb.next(u.email, { after: mark });
    assert.ok(!m.raw.includes('evil.com'), `${p}: no evil.com anywhere in the mail`);
    const link = linkIn(m, `${srv.authUrl}${path}`);
    assert.equal(link.origin, srv.baseUrl, p);
    for (const l of m.links) assert.ok(isTrustedOrigin(new URL(l).origin, srv), `${p}: link ${l}`);
  }
  // change-email of a verified user: the confirmation goes to the old address
  await srv.db.query('UPDATE neon_auth."user" SET "emailVerified" = true WHERE id = $1', [u.user.id]);
  const mark = mb.mark();
  const r = await post(srv, '/change-email', { newEmail: uniqueEmail('cs06-new'), callbackURL: '/changed' }, { ...SPOOF, ...cookieHeader(u.cookie), Origin: APP_ORIGIN });
  assert.equal(r.status, 200, r.text);
  const m = await mb.next(u.email, { after: mark });
  assert.ok(!m.raw.includes('evil.com'), 'change-email: no evil.com in the mail');
  for (const l of m.links) assert.ok(isTrustedOrigin(new URL(l).origin, srv), `change-email: link ${l}`);
});

test('CS-06: the OAuth redirect_uri uses the configured base URL despite spoofed Host headers', async () => {
  const r = await post(srv, '/sign-in/social', { provider: 'github', callbackURL: '/dash' }, SPOOF);
  assert.equal(r.status, 200, r.text);
  const authorize = new URL(r.json.url);
  assert.equal(authorize.searchParams.get('redirect_uri'), `${srv.authUrl}/callback/github`);
  assert.ok(!r.json.url.includes('evil.com'));
});

test('CS-06: redirects of GET links resolve relative callbacks without Host / X-Forwarded-Host', async () => {
  const cases = ['/reset-password/not-a-token?callbackURL=%2Freset', '/magic-link/verify?token=not-a-token&callbackURL=%2Fdash',
    '/verify-email?token=garbage&callbackURL=%2Fverified', '/error?error=access_denied'];
  for (const p of cases) {
    const r = await raw(url(p), { headers: SPOOF });
    assert.ok(r.status < 500, `${p}: ${r.status}`);
    const loc = r.headers.location ?? '';
    assert.ok(!loc.includes('evil.com'), `${p}: Location ${loc}`);
  }
});

// ---------------------------------------------------------------- CS-07 (P2)

/** A sample of answers of the https server: JSON 2xx/4xx/5xx-free, 302, 404, 405, 413, 415, HTML, Data API. */
async function sample(s) {
  const u = await signUp(s, { name: 'Headers' });
  const big = JSON.stringify({ name: 'x'.repeat(1_100_000), email: uniqueEmail('big'), password: PASSWORD });
  const out = [
    ['GET /ok', await raw(url('/ok', s))],
    ['GET /get-session (null)', await raw(url('/get-session', s))],
    ['GET /get-session', await get(s, '/get-session', { cookie: u.cookie })],
    ['sign-in 401', await post(s, '/sign-in/email', { email: u.email, password: 'wrong-password-1' })],
    ['sign-in 400', await post(s, '/sign-in/email', { email: 'nope', password: 'x' })],
    ['sign-in 403 origin', await raw(url('/sign-in/email', s), { method: 'POST', headers: { Origin: EVIL }, body: { email: u.email, password: PASSWORD } })],
    ['415', await raw(url('/sign-in/email', s), { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: '{}' })],
    ['413', await raw(url('/sign-up/email', s), { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: big })],
    ['404 unknown path', await raw(url('/no-such-endpoint', s))],
    ['405 POST /get-session', await post(s, '/get-session', {})],
    ['302 /error', await raw(url('/error?error=x', s))],
    ['HTML /?error=', await raw(`${s.baseUrl}/?error=access_denied`)],
    ['GET /jwks', await raw(url('/jwks', s))],
    ['Data API', await raw(`${s.baseUrl}/neondb/rest/v1/`)],
    ['Data API 404', await raw(`${s.baseUrl}/neondb/rest/v1/no_such_table`)],
    ['GET /reset-password/:token', await raw(url('/reset-password/not-a-token?callbackURL=%2Freset', s))],
    ['GET /verify-email', await raw(url('/verify-email?token=garbage', s))],
    ['GET /magic-link/verify', await raw(url('/magic-link/verify?token=x&callbackURL=%2Fdash', s))],
  ];
  return out;
}

let sampled;

test('CS-07: X-Content-Type-Options: nosniff on every answer, errors included', async () => {
  sampled = await sample(plain);
  const missing = sampled.filter(([, r]) => (header(r, 'x-content-type-options') ?? '').toLowerCase() !== 'nosniff').map(([w, r]) => `${w} (${r.status})`);
  assert.deepEqual(missing, []);
});

test('CS-07: Strict-Transport-Security max-age ≥ 31536000 on every answer of an https deployment', async () => {
  sampled ??= await sample(plain);
  const bad = sampled.filter(([, r]) => {
    const m = /max-age=(\d+)/i.exec(header(r, 'strict-transport-security') ?? '');
    return !m || Number(m[1]) < 31536000;
  }).map(([w, r]) => `${w} (${r.status}): ${JSON.stringify(header(r, 'strict-transport-security'))}`);
  assert.deepEqual(bad, []);
});

test('CS-07: every body has a Content-Type; text/* types name their charset', async () => {
  sampled ??= await sample(plain);
  const bad = [];
  for (const [w, r] of sampled) {
    if (!r.text) continue;
    const ct = header(r, 'content-type');
    if (!ct) bad.push(`${w} (${r.status}): no Content-Type`);
    else if (/^text\//i.test(ct) && !/charset=/i.test(ct)) bad.push(`${w} (${r.status}): ${ct}`);
  }
  assert.deepEqual(bad, []);
});

test("CS-07: HTML pages forbid framing (CSP frame-ancestors 'none')", async () => {
  sampled ??= await sample(plain);
  const html = sampled.filter(([, r]) => /^text\/html/i.test(header(r, 'content-type') ?? ''));
  assert.ok(html.length >= 1, 'the error page is HTML');
  for (const [w, r] of html) assert.match(header(r, 'content-security-policy') ?? '', /frame-ancestors 'none'/, w);
});

test('CS-07: answers to URLs that carry reset / verification / magic-link tokens send Referrer-Policy: no-referrer', async () => {
  sampled ??= await sample(plain);
  const bad = sampled.filter(([w]) => /reset-password|verify-email|magic-link/.test(w))
    .filter(([, r]) => (header(r, 'referrer-policy') ?? '') !== 'no-referrer')
    .map(([w, r]) => `${w} (${r.status}): ${JSON.stringify(header(r, 'referrer-policy'))}`);
  assert.deepEqual(bad, []);
});
