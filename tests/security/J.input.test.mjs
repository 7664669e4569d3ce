// security.md §J Input validation & parsers: IV-01 (HTTP framing and size limits), IV-02 (strict typing, parameter
// pollution, content types), IV-03 (mass assignment). IV-04 (fuzzing harnesses) is a CI job, not a black-box test.
//
// Server: `srv`, defaults. Framing tests talk to the socket directly.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHmac } from 'node:crypto';
import {
  startServer, raw, post, get, signUp, uniqueEmail, COOKIE, PASSWORD, APP_ORIGIN, showServerOutputOnFailure,
} from '../e2e/harness.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv?.stop(); });
showServerOutputOnFailure(() => srv);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const cookieHeader = (c) => ({ Cookie: `${COOKIE}=${c}` });
const P = '/neondb/auth';

async function assertAlive() {
  const r = await raw(`${srv.authUrl}/ok`);
  assert.equal(r.status, 200, 'the server still answers');
}

/**
 * Writes `chunks` (strings/Buffers; a number = pause in ms) to a fresh connection and collects what comes back
 * until the server closes or `waitMs` passed after the last write. Returns {text, closed, firstByteMs, error}.
 */
function exchange(chunks, { waitMs = 600 } = {}) {
  return new Promise((resolve) => {
    const s = net.connect(srv.port, '127.0.0.1');
    const t0 = performance.now();
    let text = '';
    let firstByteMs = null;
    let closed = false;
    let error = null;
    let timer;
    const finish = () => { clearTimeout(timer); s.destroy(); resolve({ text, closed, firstByteMs, error }); };
    s.on('data', (d) => { if (firstByteMs === null) firstByteMs = performance.now() - t0; text += d.toString('latin1'); });
    s.on('error', (e) => { error = e.code; });
    s.on('close', () => { closed = true; finish(); });
    (async () => {
      for (const c of chunks) {
        if (closed) return;
        if (typeof c === 'number') await sleep(c);
        else await new Promise((r) => s.write(c, () => r()));
      }
      timer = setTimeout(finish, waitMs);
    })().catch(() => {});
  });
}
const statusLines = (text) => text.match(/HTTP\/1\.[01] \d{3}[^\r\n]*/g) ?? [];

// ---------------------------------------------------------------- IV-01

test('IV-01: a 10 MiB JSON body is refused with 413 before it is read', async () => {
  const head = `POST ${P}/sign-up/email HTTP/1.1\r\nHost: x\r\nOrigin: ${APP_ORIGIN}\r\nContent-Type: application/json\r\nContent-Length: ${10 * 1024 * 1024}\r\n\r\n`;
  const r = await exchange([head, `{"name":"${'x'.repeat(64 * 1024)}`], { waitMs: 3000 });
  assert.match(statusLines(r.text)[0] ?? '', / 413 /, `got ${JSON.stringify(r.text.slice(0, 80))} (${r.error})`);
  assert.ok(r.firstByteMs < 3000, `413 after ${r.firstByteMs} ms with only 64 KiB sent`);
  await assertAlive();
});

test('IV-01: a chunked body growing past the limit is refused with 413 too', async () => {
  const head = `POST ${P}/sign-up/email HTTP/1.1\r\nHost: x\r\nOrigin: ${APP_ORIGIN}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`;
  const chunk = Buffer.from(`10000\r\n${'y'.repeat(0x10000)}\r\n`);
  const parts = [head];
  for (let i = 0; i < 40; i++) parts.push(chunk, 5);  // 2.5 MiB in 64 KiB chunks
  parts.push('0\r\n\r\n');
  const r = await exchange(parts, { waitMs: 1500 });
  assert.match(statusLines(r.text)[0] ?? '', / 413 /, `got ${JSON.stringify(r.text.slice(0, 80))} (${r.error})`);
  await assertAlive();
});

test('IV-01: a 64 KiB header → 431; a 20 KiB request target → 414', async () => {
  const h = await raw(`${srv.authUrl}/get-session`, { headers: { 'X-Big': 'a'.repeat(64 * 1024) } });
  assert.equal(h.status, 431);
  const u = await raw(`${srv.authUrl}/ok?x=${'a'.repeat(20 * 1024)}`);
  assert.equal(u.status, 414);
  const many = {};
  for (let i = 0; i < 2000; i++) many[`X-H${i}`] = 'v'.repeat(10);
  const m = await raw(`${srv.authUrl}/ok`, { headers: many });
  assert.ok(m.status === 431 || m.status === 400, `2000 headers: ${m.status}`);
  await assertAlive();
});

test('IV-01: Content-Length + Transfer-Encoding → 400, connection closed, the smuggled request never answered', async () => {
  const r = await exchange([
    `POST ${P}/sign-in/email HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n` +
    `0\r\n\r\nGET ${P}/ok HTTP/1.1\r\nHost: x\r\n\r\n`,
  ]);
  const lines = statusLines(r.text);
  assert.match(lines[0] ?? '', / 400 /, JSON.stringify(r.text.slice(0, 100)));
  assert.equal(lines.length, 1, `answers: ${lines.join(' | ')}`);
  assert.ok(!r.text.includes('{"ok":true}'), 'the smuggled GET was not answered');
  assert.ok(r.closed, 'connection closed');
});

test('IV-01: ambiguous framing is refused with 400: two Content-Lengths, space before colon, bad chunk size, TE variants', async () => {
  const cases = {
    'two different Content-Length': `POST ${P}/sign-in/email HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 30\r\n\r\n{}`,
    'Content-Length list': `POST ${P}/sign-in/email HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2, 30\r\n\r\n{}`,
    'Content-Length with sign': `POST ${P}/sign-in/email HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: +2\r\n\r\n{}`,
    'whitespace before the colon': `POST ${P}/sign-in/email HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length : 2\r\n\r\n{}`,
    'bad chunk size': `POST ${P}/sign-in/email HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
    'Transfer-Encoding: chunked, identity': `POST ${P}/sign-in/email HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked, identity\r\n\r\n2\r\n{}\r\n0\r\n\r\n`,
    'Transfer-Encoding: xchunked': `POST ${P}/sign-in/email HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: xchunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n`,
    'obs-fold': `GET ${P}/ok HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  b\r\n\r\n`,
    'bare CR': `GET ${P}/ok HTTP/1.1\r\nHost: x\rX-A: b\r\n\r\n`,
    'bare LF line ends inside a header': `GET ${P}/ok HTTP/1.1\r\nHost: x\r\nX-A: a\nX-B: b\r\n\r\n`,
    'NUL in a header value': `GET ${P}/ok HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n`,
  };
  const bad = [];
  for (const [what, req] of Object.entries(cases)) {
    const r = await exchange([req], { waitMs: 400 });
    const first = statusLines(r.text)[0] ?? '(no answer)';
    if (!/ (400|501) /.test(first)) bad.push(`${what}: ${first}`);
  }
  assert.deepEqual(bad, []);
  await assertAlive();
});

test('IV-01: pipelined requests: a request hidden in the first body is never interpreted', async () => {
  const hidden = `GET ${P}/ok HTTP/1.1\r\nHost: x\r\n\r\n`;
  const r = await exchange([
    `POST ${P}/sign-in/email HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(hidden)}\r\n\r\n${hidden}` +
    `GET ${P}/get-session HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
  ], { waitMs: 800 });
  const lines = statusLines(r.text);
  assert.match(lines[0] ?? '', / 4\d\d /, `the POST with a non-JSON body: ${lines.join(' | ')}`);
  assert.ok(lines.length <= 2, `answers: ${lines.join(' | ')}`);
  assert.ok(!r.text.includes('{"ok":true}'), 'the request inside the body was answered');
  if (lines.length === 2) assert.match(r.text, /\r\n\r\nnull$/, 'the second answer is the get-session one');
});

// ---------------------------------------------------------------- IV-02

test('IV-02: arrays, objects and operators where strings are expected are 400, never 500', async () => {
  const u = await signUp(srv, { name: 'Types' });
  const cases = [
    ['/sign-in/email', { email: ['a@b.c'], password: { $ne: 1 } }, {}],
    ['/sign-in/email', { email: { $gt: '' }, password: PASSWORD }, {}],
    ['/sign-in/email', { email: u.email, password: [PASSWORD] }, {}],
    ['/sign-up/email', { name: { first: 'a' }, email: uniqueEmail('iv02'), password: PASSWORD }, {}],
    ['/sign-up/email', { name: 'n', email: uniqueEmail('iv02'), password: PASSWORD, rememberMe: 'false' }, {}],
    ['/request-password-reset', { email: [u.email] }, {}],
    ['/reset-password', { token: ['a', 'b'], newPassword: 'whatever-pass' }, {}],
    ['/reset-password', { token: 'x', newPassword: 123456789 }, {}],
    ['/change-password', { currentPassword: { $ne: '' }, newPassword: 'whatever-pass' }, cookieHeader(u.cookie)],
    ['/change-password', { currentPassword: PASSWORD, newPassword: 'whatever-pass', revokeOtherSessions: 'yes' }, cookieHeader(u.cookie)],
    ['/update-user', { name: ['x'] }, cookieHeader(u.cookie)],
    ['/update-user', { image: { url: 'x' } }, cookieHeader(u.cookie)],
    ['/revoke-session', { token: { $ne: '' } }, cookieHeader(u.cookie)],
    ['/email-otp/send-verification-otp', { email: u.email, type: ['sign-in'] }, {}],
    ['/sign-in/email-otp', { email: u.email, otp: 123456 }, {}],
    ['/sign-in/social', { provider: ['github'] }, {}],
  ];
  for (const [p, body, h] of cases) {
    const r = await post(srv, p, body, h);
    assert.equal(r.status, 400, `${p} ${JSON.stringify(body)}: ${r.status} ${r.text.slice(0, 120)}`);
  }
  assert.ok((await get(srv, '/get-session', { cookie: u.cookie })).json?.session, 'the session survived (revoke-session with an operator did nothing)');
  assert.equal((await post(srv, '/sign-in/email', { email: u.email, password: PASSWORD })).status, 200, 'password unchanged');
});

test('IV-02: duplicate JSON members and duplicate form fields are 400', async () => {
  const u = await signUp(srv, { name: 'Dups' });
  const json = [
    ['/sign-in/email', `{"email":"nobody@example.com","email":${JSON.stringify(u.email)},"password":"${PASSWORD}"}`, {}],
    ['/change-password', `{"currentPassword":"${PASSWORD}","newPassword":"first-new-pass","newPassword":"second-new-pass"}`, cookieHeader(u.cookie)],
    ['/sign-up/email', `{"name":"a","email":"${uniqueEmail('dup')}","password":"x","password":"${PASSWORD}"}`, {}],
  ];
  for (const [p, body, h] of json) {
    const r = await post(srv, p, body, { 'Content-Type': 'application/json', ...h });
    assert.equal(r.status, 400, `${p}: ${r.status} ${r.text.slice(0, 120)}`);
  }
  const form = await raw(`${srv.authUrl}/sign-in/email`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: APP_ORIGIN },
    body: `email=nobody%40example.com&email=${encodeURIComponent(u.email)}&password=${encodeURIComponent(PASSWORD)}`,
  });
  assert.equal(form.status, 400, `duplicate form field: ${form.status} ${form.text.slice(0, 120)}`);
  assert.equal((await post(srv, '/sign-in/email', { email: u.email, password: PASSWORD })).status, 200, 'password unchanged');
});

test('IV-02: duplicate query parameters (parameter pollution) are 400', async () => {
  const u = await signUp(srv, { name: 'Pollution' });
  const now = Math.floor(Date.now() / 1000);
  const b64u = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${b64u({ alg: 'HS256' })}.${b64u({ email: u.email.toLowerCase(), iat: now, exp: now + 3600 })}`;
  const valid = `${input}.${createHmac('sha256', Buffer.from(srv.secret, 'utf8')).update(input).digest('base64url')}`;
  const cases = [
    `/verify-email?token=${valid}&token=garbage`,
    `/verify-email?token=garbage&token=${valid}`,
    `/verify-email?token=${valid}&callbackURL=%2Fa&callbackURL=%2Fb`,
    '/magic-link/verify?token=a&token=b&callbackURL=%2Fa',
    '/reset-password/abc?callbackURL=%2Fa&callbackURL=%2Fb',
  ];
  const bad = [];
  for (const p of cases) {
    const r = await raw(`${srv.authUrl}${p}`);
    if (r.status !== 400) bad.push(`${p.replace(valid, '<valid>')}: ${r.status} ${r.headers.location ?? ''} ${r.text.slice(0, 80)}`);
  }
  const row = await srv.db.query('SELECT "emailVerified" FROM neon_auth."user" WHERE id = $1', [u.user.id]);
  assert.deepEqual({ bad, verified: row.rows[0].emailVerified }, { bad: [], verified: false });
});

test('IV-02: content types other than JSON (and form on sign-in/sign-up) are 415', async () => {
  const u = await signUp(srv, { name: 'Types2' });
  for (const ct of ['application/xml', 'text/xml', 'text/plain', 'multipart/form-data; boundary=x', 'application/octet-stream', 'application/jsonx']) {
    const r = await raw(`${srv.authUrl}/sign-in/email`, { method: 'POST', headers: { 'Content-Type': ct, Origin: APP_ORIGIN }, body: '<a/>' });
    assert.equal(r.status, 415, `${ct}: ${r.status} ${r.text.slice(0, 120)}`);
  }
  const upd = await raw(`${srv.authUrl}/update-user`, {
    method: 'POST', headers: { 'Content-Type': 'application/xml', Origin: APP_ORIGIN, ...cookieHeader(u.cookie) }, body: '<name>x</name>',
  });
  assert.equal(upd.status, 415, `update-user xml: ${upd.status}`);
});

// ---------------------------------------------------------------- IV-03

const SERVER_FIELDS = {
  role: 'admin',
  emailVerified: true,
  banned: true,
  banReason: 'attacker',
  banExpires: '2099-01-01T00:00:00.000Z',
  isAnonymous: true,
  id: '00000000-0000-4000-8000-000000000001',
  userId: '00000000-0000-4000-8000-000000000002',
  createdAt: '2000-01-01T00:00:00.000Z',
  updatedAt: '2000-01-01T00:00:00.000Z',
};

async function userById(id) {
  const { rows } = await srv.db.query(
    'SELECT id, role, "emailVerified", banned, "banReason", "banExpires", "isAnonymous", "createdAt", email FROM neon_auth."user" WHERE id = $1', [id]);
  return rows[0];
}

function assertServerValues(row, what) {
  assert.equal(row.role, 'user', `${what}: role`);
  assert.equal(row.emailVerified, false, `${what}: emailVerified`);
  assert.ok(!row.banned, `${what}: banned`);
  assert.equal(row.banReason, null, `${what}: banReason`);
  assert.equal(row.banExpires, null, `${what}: banExpires`);
  assert.ok(!row.isAnonymous, `${what}: isAnonymous`);
  assert.ok(!Object.values(SERVER_FIELDS).includes(row.id), `${what}: id`);
  assert.ok(row.createdAt.getTime() > Date.parse('2020-01-01'), `${what}: createdAt`);
}

test('IV-03: sign-up ignores or refuses server-only fields (role, emailVerified, banned, isAnonymous, id, createdAt …)', async () => {
  for (const [field, value] of Object.entries(SERVER_FIELDS)) {
    const email = uniqueEmail(`iv03-${field}`);
    const r = await post(srv, '/sign-up/email', { name: 'Mass', email, password: PASSWORD, [field]: value });
    const { rows } = await srv.db.query('SELECT id FROM neon_auth."user" WHERE email = lower($1)', [email]);
    if (r.status === 200) {
      assert.equal(rows.length, 1);
      assertServerValues(await userById(rows[0].id), `sign-up with ${field}`);
      assert.equal(r.json.user[field === 'userId' ? 'id' : field] === value, false, `sign-up answer echoes ${field}`);
    } else {
      assert.equal(r.status, 400, `${field}: ${r.status} ${r.text}`);
      assert.equal(rows.length, 0, `${field}: no user created`);
    }
  }
  // all at once
  const email = uniqueEmail('iv03-all');
  const r = await post(srv, '/sign-up/email', { name: 'Mass', email, password: PASSWORD, ...SERVER_FIELDS });
  assert.ok(r.status === 200 || r.status === 400, `${r.status} ${r.text}`);
  const { rows } = await srv.db.query('SELECT id FROM neon_auth."user" WHERE email = lower($1)', [email]);
  if (r.status === 200) assertServerValues(await userById(rows[0].id), 'sign-up with all fields');
  else assert.equal(rows.length, 0);
});

test('IV-03: update-user ignores or refuses server-only fields and the address', async () => {
  const u = await signUp(srv, { name: 'Mass update' });
  const before = await userById(u.user.id);
  for (const [field, value] of Object.entries({ ...SERVER_FIELDS, email: uniqueEmail('iv03-email') })) {
    const r = await post(srv, '/update-user', { [field]: value }, cookieHeader(u.cookie));
    assert.ok(r.status === 200 || r.status === 400, `${field}: ${r.status} ${r.text}`);
    const now = await userById(u.user.id);
    assert.ok(now, `${field}: the user still exists under its id`);
    assertServerValues(now, `update-user ${field}`);
    assert.equal(now.email, before.email, `update-user ${field}: email`);
    assert.equal(now.createdAt.getTime(), before.createdAt.getTime(), `update-user ${field}: createdAt`);
  }
  assert.ok((await get(srv, '/get-session', { cookie: u.cookie })).json?.user?.id === u.user.id);
});
