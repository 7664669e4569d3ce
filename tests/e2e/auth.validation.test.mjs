// Bad input never yields a 500; Better Auth's validation errors, Origin/CSRF rules (better-auth-oracle.md
// §6, §8, decision D3) and the callbackURL vectors of security.md CS-04.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import {
  startServer, raw, post, get, signUp, signIn, cookieValue, header, uniqueEmail, APP_ORIGIN, COOKIE, PASSWORD,
  showServerOutputOnFailure,
} from './harness.mjs';

let srv;
let user;  // a signed-up user for sign-in and cookie-bearing requests

before(async () => {
  srv = await startServer({ env: { PGWARDEN_TRUSTED_ORIGINS: 'https://trusted.com,https://*.trusted.com' } });
  user = await signUp(srv, { name: 'Validation' });
});
after(async () => { await srv?.stop(); });
showServerOutputOnFailure(() => srv);

function url(p) { return `${srv.authUrl}${p}`; }

async function userCount(email) {
  const { rows } = await srv.db.query('SELECT count(*)::int AS n FROM neon_auth."user" WHERE email = lower($1)', [email]);
  return rows[0].n;
}

async function assertAlive() {
  const ok = await raw(url('/ok'));
  assert.equal(ok.status, 200, 'the server still answers');
}

function assertError(r, status, code, message) {
  assert.equal(r.status, status, `${status} expected, got ${r.status} ${r.text}`);
  assert.match(header(r, 'content-type') ?? '', /^application\/json/);
  if (code !== undefined) assert.equal(r.json?.code, code, r.text);
  if (message !== undefined) {
    if (message instanceof RegExp) assert.match(r.json?.message, message);
    else assert.equal(r.json?.message, message);
  }
}

// ---------------------------------------------------------------- bodies

test('malformed JSON is 400 BAD_REQUEST "Invalid JSON in request body"', async () => {
  for (const p of ['/sign-up/email', '/sign-in/email']) {
    const r = await raw(url(p), { method: 'POST', headers: { Origin: APP_ORIGIN, 'Content-Type': 'application/json' }, body: '{bad json' });
    assertError(r, 400, 'BAD_REQUEST', 'Invalid JSON in request body');
  }
});

test('a POST without a body is 400 VALIDATION_ERROR', async () => {
  const r = await raw(url('/sign-up/email'), { method: 'POST', headers: { Origin: APP_ORIGIN } });
  assertError(r, 400, 'VALIDATION_ERROR',
    '[body] Invalid input: expected object, received undefined; [body] Invalid input: expected record, received undefined');
});

test('Content-Type text/plain is 415 UNSUPPORTED_MEDIA_TYPE', async () => {
  const r = await raw(url('/sign-in/email'), {
    method: 'POST', headers: { Origin: APP_ORIGIN, 'Content-Type': 'text/plain' }, body: JSON.stringify({ email: user.email, password: PASSWORD }),
  });
  assertError(r, 415, 'UNSUPPORTED_MEDIA_TYPE',
    'Content-Type "text/plain" is not allowed. Allowed types: application/x-www-form-urlencoded, application/json');
});

test('an application/x-www-form-urlencoded body is accepted', async () => {
  const r = await raw(url('/sign-in/email'), {
    method: 'POST',
    headers: { Origin: APP_ORIGIN, 'Content-Type': 'application/x-www-form-urlencoded' },
    body: `email=${encodeURIComponent(user.email)}&password=wrong-password-1`,
  });
  assertError(r, 401, 'INVALID_EMAIL_OR_PASSWORD', 'Invalid email or password');
});

test('wrong JSON types are 400 VALIDATION_ERROR naming the field', async () => {
  const base = { name: 'T', email: uniqueEmail('types'), password: PASSWORD };
  const cases = [
    ['/sign-up/email', { ...base, email: 123 }, '[body.email] Invalid input: expected string, received number'],
    ['/sign-up/email', { ...base, name: [] }, '[body.name] Invalid input: expected string, received array'],
    ['/sign-up/email', { ...base, password: {} }, '[body.password] Invalid input: expected string, received object'],
    ['/sign-up/email', { ...base, rememberMe: 'no' }, '[body.rememberMe] Invalid input: expected boolean, received string'],
    ['/sign-up/email', { ...base, callbackURL: ['/a'] }, '[body.callbackURL] Invalid input: expected string, received array'],
    ['/sign-up/email', { email: base.email, password: PASSWORD }, '[body.name] Invalid input: expected string, received undefined'],
    ['/sign-in/email', { email: 123, password: PASSWORD }, '[body.email] Invalid input: expected string, received number'],
    ['/sign-in/email', { email: user.email, password: null }, '[body.password] Invalid input: expected string, received null'],
  ];
  for (const [p, body, message] of cases) {
    const r = await post(srv, p, body);
    assertError(r, 400, 'VALIDATION_ERROR', message);
  }
  assert.equal(await userCount(base.email), 0);
  const arr = await post(srv, '/sign-up/email', [base]);
  assertError(arr, 400, 'VALIDATION_ERROR', /^\[body\] /);
});

test('an invalid email is 400 "[body.email] Invalid email address" on sign-up and 400 INVALID_EMAIL on sign-in', async () => {
  for (const email of ['not-an-email', 'a@b', 'a@@b.com', 'a b@c.com', '']) {
    const up = await post(srv, '/sign-up/email', { name: 'X', email, password: PASSWORD });
    assertError(up, 400, 'VALIDATION_ERROR', '[body.email] Invalid email address');
    const inn = await post(srv, '/sign-in/email', { email, password: PASSWORD });
    assertError(inn, 400, 'INVALID_EMAIL', 'Invalid email');
  }
});

test('passwords of 7 and 129 characters are PASSWORD_TOO_SHORT / PASSWORD_TOO_LONG; 8 and 128 are accepted', async () => {
  const short = await post(srv, '/sign-up/email', { name: 'S', email: uniqueEmail('short'), password: '1234567' });
  assertError(short, 400, 'PASSWORD_TOO_SHORT', 'Password too short');
  const long = await post(srv, '/sign-up/email', { name: 'L', email: uniqueEmail('long'), password: 'x'.repeat(129) });
  assertError(long, 400, 'PASSWORD_TOO_LONG', 'Password too long');
  const min = await post(srv, '/sign-up/email', { name: 'M', email: uniqueEmail('min'), password: '12345678' });
  assert.equal(min.status, 200, min.text);
  const max = await post(srv, '/sign-up/email', { name: 'M', email: uniqueEmail('max'), password: 'y'.repeat(128) });
  assert.equal(max.status, 200, max.text);
});

test('a 2 MB body is 413', async () => {
  // Only the first 64 KiB are sent before the answer is awaited: whether a client that pushes the whole
  // body can still read the 413 is the next test (it races with the server's close otherwise).
  const body = JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024), email: uniqueEmail('big'), password: PASSWORD });
  const r = await new Promise((resolve) => {
    const s = net.connect(srv.port, '127.0.0.1');
    let got = '';
    let error = null;
    s.on('data', (d) => { got += d; });
    s.on('error', (e) => { error = e.code; });
    s.on('close', () => resolve({ got, error }));
    s.write(`POST /neondb/auth/sign-up/email HTTP/1.1\r\nHost: x\r\nOrigin: ${APP_ORIGIN}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 64 * 1024)}`);
  });
  assert.match(r.got.split('\r\n')[0], /^HTTP\/1\.1 413 /, `got ${JSON.stringify(r.got.slice(0, 60))} (socket error ${r.error})`);
  assert.match(r.got, /\r\n\r\n\{"message":/, 'a JSON error body');
  await assertAlive();
});

test('after a 413 the server closes gracefully, so a client still uploading can read it (lingering close, RFC 9112 §9.6)', async () => {
  // The client receives the 413 while it is still sending its (10 MiB) body. A server that closes the socket
  // with unread data makes the kernel send RST: the client's next write fails and, depending on timing,
  // the 413 already in its receive buffer is discarded (observed with node:http: EPIPE instead of the answer).
  const r = await new Promise((resolve) => {
    const s = net.connect(srv.port, '127.0.0.1');
    let got = '';
    let error = null;
    let sentMore = false;
    s.on('data', (d) => {
      got += d;
      if (!sentMore && got.includes('\r\n\r\n')) {
        sentMore = true;
        for (let k = 0; k < 4; k++) s.write(Buffer.alloc(64 * 1024, 120), () => {});
        s.end();
      }
    });
    s.on('error', (e) => { error = e.code; });
    s.on('close', () => resolve({ head: got.split('\r\n')[0], error }));
    s.write(`POST /neondb/auth/sign-up/email HTTP/1.1\r\nHost: x\r\nOrigin: ${APP_ORIGIN}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${10 * 1024 * 1024}\r\n\r\n`);
    s.write(Buffer.alloc(64 * 1024, 120));
  });
  assert.match(r.head, /^HTTP\/1\.1 413 /);
  assert.equal(r.error, null, `the connection was reset (${r.error}) while the client was still sending its body`);
  await assertAlive();
});

test('a 32 KB header is 431', async () => {
  const r = await raw(url('/get-session'), { headers: { 'X-Filler': 'a'.repeat(32 * 1024) } });
  assert.equal(r.status, 431);
  const c = await raw(url('/get-session'), { headers: { Cookie: `${COOKIE}=${'b'.repeat(32 * 1024)}` } });
  assert.equal(c.status, 431);
  await assertAlive();
});

test('deeply nested JSON is a 400, not a crash', async () => {
  const depth = 100_000;
  const nested = `{"name":"n","password":"${PASSWORD}","email":${'['.repeat(depth)}${']'.repeat(depth)}}`;
  const r = await post(srv, '/sign-up/email', nested, { 'Content-Type': 'application/json' });
  assert.equal(r.status, 400, r.text);
  assert.ok(['BAD_REQUEST', 'VALIDATION_ERROR'].includes(r.json?.code), r.text);
  await assertAlive();
});

test('forged, truncated and garbage cookies give a null session, never an error', async () => {
  const signed = decodeURIComponent(user.cookie);
  const values = [
    encodeURIComponent(signed.slice(0, -1)),          // signature one char short
    encodeURIComponent(signed.slice(0, 40)),          // truncated mid-signature
    encodeURIComponent(`${user.token}.`),             // empty signature
    encodeURIComponent(`.${signed.split('.')[1]}`),   // empty token
    '%%%zz',                                           // bad percent-encoding
    '%C3%28.%FF%FE',                                   // not UTF-8
    '"quoted"',
    '.'.repeat(200),
    `${'A'.repeat(8000)}.${'B'.repeat(43)}%3D`,
    encodeURIComponent(`${user.token}.${'A'.repeat(43)}=`),  // well-formed but wrong signature
  ];
  for (const v of values) {
    const r = await raw(url('/get-session'), { headers: { Cookie: `${COOKIE}=${v}` } });
    assert.equal(r.status, 200, v);
    assert.equal(r.text, 'null', v);
    assert.equal(header(r, 'set-auth-jwt'), undefined, v);
    const t = await raw(url('/token'), { headers: { Cookie: `${COOKIE}=${v}` } });
    assert.equal(t.status, 401, v);
  }
  const bearer = await raw(url('/get-session'), { headers: { Authorization: 'Bearer %%%.%%%' } });
  assert.equal(bearer.text, 'null');
});

test('a duplicate email, in a different case, is 422 USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL', async () => {
  const r = await post(srv, '/sign-up/email', { name: 'Dup', email: user.email.toUpperCase(), password: PASSWORD });
  assertError(r, 422, 'USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL', 'User already exists. Use another email.');
  assert.deepEqual(r.setCookies, []);
  assert.equal(await userCount(user.email), 1);
});

test('unknown body fields are ignored and "" URLs count as absent', async () => {
  const email = uniqueEmail('extra');
  const r = await post(srv, '/sign-up/email', {
    name: 'Extra', email, password: PASSWORD, displayName: 'Shown', profile: { nested: [1, 2] }, callbackURL: '',
  });
  assert.equal(r.status, 200, r.text);
  assert.equal('displayName' in r.json.user, false);
  const s = await post(srv, '/sign-in/email', { email, password: PASSWORD, callbackURL: '', unknown: true });
  assert.equal(s.status, 200, s.text);
  assert.equal(s.json.redirect, false);
  assert.equal('url' in s.json, false);
  assert.equal(header(s, 'location'), undefined);
});

test('role, banned or isAnonymous in sign-up is 400 FIELD_NOT_ALLOWED and creates nothing', async () => {
  for (const [field, value] of [['role', 'admin'], ['banned', false], ['isAnonymous', true]]) {
    const email = uniqueEmail(`field-${field}`);
    const r = await post(srv, '/sign-up/email', { name: 'F', email, password: PASSWORD, [field]: value });
    assertError(r, 400, 'FIELD_NOT_ALLOWED', `${field} is not allowed to be set`);
    assert.equal(await userCount(email), 0);
  }
});

test('NUL bytes in strings are refused, never silently truncated (security.md EN-04 fuzz input)', async () => {
  const email = uniqueEmail('nul');
  const r = await post(srv, '/sign-up/email', { name: 'a\u0000b', email, password: PASSWORD });
  const { rows } = await srv.db.query('SELECT name FROM neon_auth."user" WHERE email = $1', [email]);
  assert.ok(r.status >= 400 && r.status < 500,
    `sign-up with name "a\\u0000b" must be refused (Postgres text cannot hold NUL); got ${r.status} ${r.text.slice(0, 120)}; stored name ${JSON.stringify(rows[0]?.name)}`);
  assert.equal(rows.length, 0, 'no user is created');
  const upd = await post(srv, '/update-user', { name: 'x\u0000y' }, { Cookie: `${COOKIE}=${user.cookie}` });
  const after = await srv.db.query('SELECT name FROM neon_auth."user" WHERE id = $1', [user.user.id]);
  assert.ok(upd.status >= 400 && upd.status < 500,
    `update-user with name "x\\u0000y" must be refused; got ${upd.status}, stored name ${JSON.stringify(after.rows[0].name)}`);
});

test('duplicate JSON member names are 400 (security.md IV-02)', async () => {
  const body = `{"email":"nobody@example.com","email":${JSON.stringify(user.email)},"password":${JSON.stringify(PASSWORD)}}`;
  const r = await post(srv, '/sign-in/email', body, { 'Content-Type': 'application/json' });
  assert.equal(r.status, 400, `a body with "email" twice must be refused, got ${r.status} ${r.text.slice(0, 80)}`);
  assert.deepEqual(r.setCookies, []);
});

test('server-only user fields in sign-up (emailVerified, id, createdAt) are ignored (security.md IV-03)', async () => {
  const email = uniqueEmail('mass');
  const r = await post(srv, '/sign-up/email', {
    name: 'Mass', email, password: PASSWORD, emailVerified: true, id: 'attacker-chosen', createdAt: '2000-01-01T00:00:00.000Z', userId: 'x',
  });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.user.emailVerified, false);
  assert.notEqual(r.json.user.id, 'attacker-chosen');
  assert.ok(Date.parse(r.json.user.createdAt) > Date.parse('2020-01-01'));
  const { rows } = await srv.db.query('SELECT "emailVerified", role FROM neon_auth."user" WHERE email = $1', [email]);
  assert.deepEqual(rows, [{ emailVerified: false, role: 'user' }]);
});

test('emails with CR/LF, a full-width @ or two @ are 400 on sign-up (security.md TK-08)', async () => {
  for (const email of ['a@b.com\r\nBcc: c@d.com', 'a@b.com%0d%0abcc:c@d', 'alice\uFF20example.com', 'a@b@c.com']) {
    const r = await post(srv, '/sign-up/email', { name: 'E', email, password: PASSWORD });
    assertError(r, 400, 'VALIDATION_ERROR', '[body.email] Invalid email address');
  }
});

// ---------------------------------------------------------------- HTTP framing (security.md IV-01)

function socketExchange(data, { waitMs = 400 } = {}) {
  return new Promise((resolve) => {
    const s = net.connect(srv.port, '127.0.0.1');
    let got = '';
    let closed = false;
    s.on('data', (d) => { got += d; });
    s.on('error', () => {});
    s.on('close', () => { closed = true; });
    s.write(data);
    setTimeout(() => { resolve({ text: got, closed }); s.destroy(); }, waitMs);
  });
}

test('Content-Length + Transfer-Encoding together is 400 and the connection is closed (no smuggled request)', async () => {
  const r = await socketExchange(
    'POST /neondb/auth/sign-in/email HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4\r\n' +
    'Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /neondb/auth/ok HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.match(r.text, /^HTTP\/1\.1 400 /);
  assert.equal((r.text.match(/HTTP\/1\.1 /g) || []).length, 1, 'the smuggled GET is not answered');
  assert.ok(r.closed, 'the connection is closed');
});

test('a bare CR in the header section is 400', async () => {
  const r = await socketExchange('GET /neondb/auth/ok HTTP/1.1\r\nHost: x\rX-A: b\r\n\r\n');
  assert.match(r.text, /^HTTP\/1\.1 400 /);
});

test('an obs-fold header line is 400 (security.md IV-01)', async () => {
  const r = await socketExchange('GET /neondb/auth/ok HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  b\r\n\r\n');
  assert.match(r.text.split('\r\n')[0], /^HTTP\/1\.1 400 /, `got ${JSON.stringify(r.text.split('\r\n')[0])}`);
});

test('a 20 KB request target is 414 URI Too Long (security.md IV-01)', async () => {
  const r = await raw(url(`/ok?x=${'a'.repeat(20 * 1024)}`));
  assert.equal(r.status, 414, `got ${r.status} ${r.text}`);
  await assertAlive();
});

// ---------------------------------------------------------------- Origin / CSRF (oracle §8, D3)

test('sign-in without cookie, with Sec-Fetch-Mode: cors and no Origin is allowed (decision D3)', async () => {
  const r = await raw(url('/sign-in/email'), {
    method: 'POST',
    headers: { 'Sec-Fetch-Mode': 'cors', 'Sec-Fetch-Site': 'same-site' },
    body: { email: user.email, password: PASSWORD },
  });
  assert.equal(r.status, 200, r.text);
  assert.ok(cookieValue(r.setCookies));
});

test('cross-site navigation to sign-in / sign-up is 403 CROSS_SITE_NAVIGATION_LOGIN_BLOCKED', async () => {
  const headers = { 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'navigate' };
  const email = uniqueEmail('navigate');
  const up = await raw(url('/sign-up/email'), { method: 'POST', headers, body: { name: 'N', email, password: PASSWORD } });
  assertError(up, 403, 'CROSS_SITE_NAVIGATION_LOGIN_BLOCKED');
  const inn = await raw(url('/sign-in/email'), { method: 'POST', headers, body: { email: user.email, password: PASSWORD } });
  assertError(inn, 403, 'CROSS_SITE_NAVIGATION_LOGIN_BLOCKED');
  assert.deepEqual(inn.setCookies, []);
  assert.equal(await userCount(email), 0);
});

test('a foreign Origin (or Referer) is 403 INVALID_ORIGIN; Origin: null is 403 MISSING_OR_NULL_ORIGIN', async () => {
  const body = { email: user.email, password: PASSWORD };
  const foreign = await raw(url('/sign-in/email'), { method: 'POST', headers: { Origin: 'https://evil.example' }, body });
  assertError(foreign, 403, 'INVALID_ORIGIN', 'Invalid origin');
  const referer = await raw(url('/sign-in/email'), { method: 'POST', headers: { Referer: 'https://evil.example/login' }, body });
  assertError(referer, 403, 'INVALID_ORIGIN', 'Invalid origin');
  const nul = await raw(url('/sign-in/email'), { method: 'POST', headers: { Origin: 'null' }, body });
  assertError(nul, 403, 'MISSING_OR_NULL_ORIGIN', 'Missing or null Origin');
  const lookalike = await raw(url('/sign-in/email'), { method: 'POST', headers: { Origin: 'https://trusted.com.evil.example' }, body });
  assertError(lookalike, 403, 'INVALID_ORIGIN');
  const trusted = await raw(url('/sign-in/email'), { method: 'POST', headers: { Origin: 'https://app.trusted.com' }, body });
  assert.equal(trusted.status, 200, `a configured wildcard origin is trusted: ${trusted.text}`);
});

test('a cookie-bearing POST needs a trusted Origin or Referer; Bearer-only POSTs do not', async () => {
  const cookie = `${COOKIE}=${user.cookie}`;
  const body = { name: 'Renamed' };
  const none = await raw(url('/update-user'), { method: 'POST', headers: { Cookie: cookie }, body });
  assertError(none, 403, 'MISSING_OR_NULL_ORIGIN', 'Missing or null Origin');
  const nul = await raw(url('/update-user'), { method: 'POST', headers: { Cookie: cookie, Origin: 'null' }, body });
  assertError(nul, 403, 'MISSING_OR_NULL_ORIGIN');
  const foreign = await raw(url('/update-user'), { method: 'POST', headers: { Cookie: cookie, Origin: 'https://evil.example' }, body });
  assertError(foreign, 403, 'INVALID_ORIGIN', 'Invalid origin');
  const signOut = await raw(url('/sign-out'), { method: 'POST', headers: { Cookie: cookie }, body: {} });
  assertError(signOut, 403, 'MISSING_OR_NULL_ORIGIN');
  const unrelated = await raw(url('/sign-in/email'), { method: 'POST', headers: { Cookie: 'theme=dark' }, body: { email: user.email, password: PASSWORD } });
  assertError(unrelated, 403, 'MISSING_OR_NULL_ORIGIN');
  const { rows } = await srv.db.query('SELECT name FROM neon_auth."user" WHERE id = $1', [user.user.id]);
  assert.equal(rows[0].name, 'Validation', 'none of the refused requests changed anything');
  assert.equal((await get(srv, '/get-session', { cookie: user.cookie })).json?.user?.id, user.user.id, 'still signed in');

  const viaReferer = await raw(url('/update-user'), { method: 'POST', headers: { Cookie: cookie, Referer: `${APP_ORIGIN}/settings` }, body });
  assert.equal(viaReferer.status, 200, viaReferer.text);
  const viaBearer = await raw(url('/update-user'), {
    method: 'POST', headers: { Authorization: `Bearer ${decodeURIComponent(user.cookie)}` }, body: { name: 'Via Bearer' },
  });
  assert.equal(viaBearer.status, 200, viaBearer.text);
  const after = await srv.db.query('SELECT name FROM neon_auth."user" WHERE id = $1', [user.user.id]);
  assert.equal(after.rows[0].name, 'Via Bearer');
});

// ---------------------------------------------------------------- callbackURL (security.md CS-04)

const EVIL_CALLBACKS = [
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
  'https://trüsted.com/cb',
  'http://trusted.com/cb',  // scheme differs from the trusted https origin
];

test('every CS-04 callbackURL vector is 403 INVALID_CALLBACK_URL on sign-in (and no session is created)', async () => {
  const { rows: [{ n: before }] } = await srv.db.query('SELECT count(*)::int AS n FROM neon_auth.session');
  for (const callbackURL of EVIL_CALLBACKS) {
    const r = await post(srv, '/sign-in/email', { email: user.email, password: PASSWORD, callbackURL });
    assertError(r, 403, 'INVALID_CALLBACK_URL', 'Invalid callbackURL');
    assert.deepEqual(r.setCookies, [], callbackURL);
    assert.equal(header(r, 'location'), undefined, callbackURL);
  }
  const { rows: [{ n: after }] } = await srv.db.query('SELECT count(*)::int AS n FROM neon_auth.session');
  assert.equal(after, before);
});

test('a CS-04 callbackURL vector on sign-up is 403 INVALID_CALLBACK_URL and creates no user', async () => {
  for (const callbackURL of ['https://evil.com', '//evil.com', '/%5C/evil.com']) {
    const email = uniqueEmail('cbsignup');
    const r = await post(srv, '/sign-up/email', { name: 'C', email, password: PASSWORD, callbackURL });
    assertError(r, 403, 'INVALID_CALLBACK_URL', 'Invalid callbackURL');
    assert.equal(await userCount(email), 0);
  }
});

test('accepted callbackURLs: a relative path with a query and trusted absolute URLs -> redirect:true, url, Location', async () => {
  for (const callbackURL of ['/dashboard?tab=1', 'https://app.trusted.com/cb', 'https://trusted.com/cb', `${APP_ORIGIN}/after`]) {
    const r = await post(srv, '/sign-in/email', { email: user.email, password: PASSWORD, callbackURL });
    assert.equal(r.status, 200, `${callbackURL}: ${r.text}`);
    assert.deepEqual(Object.keys(r.json), ['redirect', 'token', 'url', 'user']);
    assert.equal(r.json.redirect, true);
    assert.equal(r.json.url, callbackURL);
    assert.equal(header(r, 'location'), callbackURL);
    assert.ok(cookieValue(r.setCookies), 'the session cookie is still set');
  }
});
