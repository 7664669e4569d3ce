// security.md section D: rate limiting and brute force (RL-01..RL-06), against servers started with
// PGWARDEN_RATE_LIMIT=on (the harness turns limits off for every other suite). Decision D37.
//
// Clients are told apart by address: a direct client is its TCP peer (127.0.0.1 here, whatever X-Forwarded-For
// says); behind PGWARDEN_TRUSTED_PROXIES=127.0.0.1 the right-most untrusted X-Forwarded-For entry is the client,
// so each test can act as its own client address (`ip()`).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startServer, spawnServer, assertCleanExit, raw, post, uniqueEmail, signUp, PASSWORD, APP_ORIGIN, showServerOutputOnFailure } from '../e2e/harness.mjs';
import { start as startMailbox } from '../e2e/mailbox.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let next = 1;
/** A fresh client address for one test (TEST-NET-2 / documentation IPv6). */
const ip = () => `198.51.100.${next++}`;

let mb;
let proxied;  // limits on, 127.0.0.1 is a trusted proxy, counters in Postgres
let direct;   // limits on, no trusted proxy
before(async () => {
  mb = await startMailbox();
  proxied = await startServer({
    env: {
      PGWARDEN_RATE_LIMIT: 'on', PGWARDEN_TRUSTED_PROXIES: '127.0.0.1', PGWARDEN_SMTP_URL: `smtp://127.0.0.1:${mb.port}`,
      PGWARDEN_SIGN_IN_FAILURES: '5', PGWARDEN_SIGN_IN_MAX_DELAY: '4',
    },
  });
  direct = await startServer({ env: { PGWARDEN_RATE_LIMIT: 'on' } });
});
after(async () => {
  await proxied?.stop();
  await direct?.stop();
  await mb?.stop();
});
showServerOutputOnFailure(() => proxied);

const signIn = (srv, body, from) => post(srv, '/sign-in/email', body, from ? { 'X-Forwarded-For': from } : {});

test('RL-01: the 4th sign-in from one client within 10 s is 429 with X-Retry-After ≤ 10 and Retry-After; allowed again after the window', async () => {
  const from = ip();
  const body = { email: uniqueEmail(), password: 'wrong-password-1' };
  for (let i = 0; i < 3; i++) assert.equal((await signIn(proxied, body, from)).status, 401);
  const limited = await signIn(proxied, body, from);
  assert.equal(limited.status, 429, limited.text);
  assert.deepEqual(limited.json, { message: 'Too many requests. Please try again later.' });
  const after = Number(limited.headers['x-retry-after']);
  assert.ok(after >= 1 && after <= 10, `X-Retry-After ${limited.headers['x-retry-after']}`);
  assert.equal(limited.headers['retry-after'], limited.headers['x-retry-after']);
  // Another client is not affected.
  assert.equal((await signIn(proxied, body, ip())).status, 401);
  await sleep(after * 1000 + 300);
  assert.equal((await signIn(proxied, body, from)).status, 401, 'allowed again after the window');
});

test('RL-01: 50 concurrent sign-ins from one client: exactly 3 are evaluated, 47 get 429 (atomic counter)', async () => {
  const from = ip();
  const body = { email: uniqueEmail(), password: 'wrong-password-2' };
  const all = await Promise.all(Array.from({ length: 50 }, () => signIn(proxied, body, from)));
  const statuses = all.map((r) => r.status);
  assert.equal(statuses.filter((s) => s !== 429).length, 3, statuses.join(','));
});

test('RL-01: two instances on one database share the counters: 3 per window across both', async () => {
  const s2 = await spawnServer({
    databaseUrl: proxied.databaseUrl, secret: proxied.secret,
    env: { PGWARDEN_RATE_LIMIT: 'on', PGWARDEN_TRUSTED_PROXIES: '127.0.0.1' },
  });
  const second = { authUrl: `http://localhost:${s2.port}/neondb/auth` };
  try {
    const from = ip();
    const body = { email: uniqueEmail(), password: 'wrong-password-3' };
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await signIn(i % 2 ? second : proxied, body, from)).status);
    assert.equal(statuses.filter((s) => s !== 429).length, 3, statuses.join(','));
  } finally {
    assertCleanExit(await s2.terminate(), s2.output());
  }
});

test('RL-01: the default rule is 100 requests per 10 s (get-session: the 101st is 429)', async () => {
  const from = ip();
  const res = [];
  for (let i = 0; i < 101; i++) res.push((await raw(`${proxied.authUrl}/get-session`, { headers: { 'X-Forwarded-For': from } })).status);
  assert.equal(res.filter((s) => s === 200).length, 100);
  assert.equal(res[100], 429);
});

test('RL-02: 4 reset requests for one address from 4 clients within 60 s send 1 mail (all answered 200); from one client the 4th is 429', async () => {
  const user = await signUp(proxied);
  const mark = mb.mark();
  for (let i = 0; i < 4; i++) {
    const r = await post(proxied, '/request-password-reset', { email: user.email, redirectTo: '/reset' }, { 'X-Forwarded-For': ip() });
    assert.equal(r.status, 200, r.text);
  }
  await mb.next(user.email, { after: mark });
  await sleep(1500);  // mail goes out asynchronously: give any second one time to arrive
  assert.equal(mb.messages.filter((m) => m.index >= mark && m.to === user.email.toLowerCase()).length, 1);

  const from = ip();
  const statuses = [];
  for (let i = 0; i < 4; i++) statuses.push((await post(proxied, '/request-password-reset', { email: uniqueEmail() }, { 'X-Forwarded-For': from })).status);
  assert.deepEqual(statuses, [200, 200, 200, 429]);
});

test('RL-03: path variants of sign-in never add attempts: at most 3 non-429 over 10 alternating requests, variants are 404', async () => {
  const from = ip();
  const body = { email: uniqueEmail(), password: 'wrong-password-4' };
  const variants = ['/sign-in/email', '//sign-in/email', '/sign-in/email/', '/sign-in%2Femail', '/SIGN-IN/email', '/sign-in/Email'];
  let evaluated = 0;
  for (let i = 0; i < 10; i++) {
    const v = variants[i % variants.length];
    const r = await raw(`${proxied.authUrl}${v}`, { method: 'POST', headers: { Origin: APP_ORIGIN, 'X-Forwarded-For': from }, body });
    if (v !== '/sign-in/email') assert.ok([404, 429].includes(r.status), `${v} -> ${r.status}`);
    if (r.status === 401 || r.status === 200) evaluated++;
  }
  assert.ok(evaluated <= 3, `${evaluated} sign-ins evaluated`);
});

test('RL-04: a direct client cannot escape its bucket with X-Forwarded-For (no trusted proxy): 429 after 3', async () => {
  const body = { email: uniqueEmail(), password: 'wrong-password-5' };
  const statuses = [];
  for (let i = 0; i < 10; i++) statuses.push((await signIn(direct, body, `203.0.113.${i + 1}`)).status);
  assert.equal(statuses.filter((s) => s !== 429).length, 3, statuses.join(','));
});

test('RL-04: behind a trusted proxy IPv6 clients share a bucket per /64 and IPv4-mapped IPv6 is IPv4', async () => {
  const body = { email: uniqueEmail(), password: 'wrong-password-6' };
  const p = crypto.randomBytes(2).toString('hex');
  const v6 = [`2001:db8:${p}::1`, `2001:0DB8:${p}:0::1`, `2001:db8:${p}::ffff`, `2001:db8:${p}:0:1:2:3:4`];
  const s6 = [];
  for (const a of v6) s6.push((await signIn(proxied, body, a)).status);
  assert.deepEqual(s6, [401, 401, 401, 429]);
  assert.equal((await signIn(proxied, body, `2001:db8:${p}:1::1`)).status, 401, 'another /64 is another client');

  // (A new address each time: the per-account back-off of RL-05 must not be what answers 429 here.)
  const fresh = () => ({ email: uniqueEmail(), password: 'wrong-password-6' });
  const v4 = ip();
  const s4 = [];
  for (const a of [v4, `::ffff:${v4}`, v4, `::ffff:${v4}`]) s4.push((await signIn(proxied, fresh(), a)).status);
  assert.deepEqual(s4, [401, 401, 401, 429]);
  // The right-most untrusted hop counts, not what the client wrote further left.
  const real = ip();
  const spoof = [];
  for (let i = 0; i < 4; i++) spoof.push((await signIn(proxied, fresh(), `10.${i}.0.1, ${real}`)).status);
  assert.deepEqual(spoof, [401, 401, 401, 429]);
});

test('RL-05: failures from many clients throttle the account (even the right password) until the back-off passes; reset mail still works', async () => {
  const user = await signUp(proxied);
  for (let i = 0; i < 5; i++) assert.equal((await signIn(proxied, { email: user.email, password: `nope-${i}-x` }, ip())).status, 401);
  const blocked = await signIn(proxied, { email: user.email, password: PASSWORD }, ip());
  assert.equal(blocked.status, 429, blocked.text);
  assert.ok(Number(blocked.headers['x-retry-after']) >= 1);
  // An unknown address is throttled the same way (no enumeration through the back-off).
  const ghost = uniqueEmail();
  for (let i = 0; i < 5; i++) assert.equal((await signIn(proxied, { email: ghost, password: `nope-${i}-x` }, ip())).status, 401);
  assert.equal((await signIn(proxied, { email: ghost, password: PASSWORD }, ip())).status, 429);
  // Password reset is not blocked by the back-off.
  const mark = mb.mark();
  const reset = await post(proxied, '/request-password-reset', { email: user.email, redirectTo: '/reset' }, { 'X-Forwarded-For': ip() });
  assert.equal(reset.status, 200);
  await mb.next(user.email, { after: mark });
  // Back-off here: 5 failures -> 1 s, then free (PGWARDEN_SIGN_IN_MAX_DELAY=4 caps it).
  await sleep(Number(blocked.headers['x-retry-after']) * 1000 + 300);
  const ok = await signIn(proxied, { email: user.email, password: PASSWORD }, ip());
  assert.equal(ok.status, 200, ok.text);
  // A success clears the failures: one more wrong password is a plain 401.
  assert.equal((await signIn(proxied, { email: user.email, password: 'nope-again' }, ip())).status, 401);
  assert.equal((await signIn(proxied, { email: user.email, password: PASSWORD }, ip())).status, 200);
});

test('RL-06: 3 wrong OTPs kill the code: the right one then gets 403 TOO_MANY_ATTEMPTS; a new code works', async () => {
  const email = uniqueEmail();
  const mark = mb.mark();
  const from = ip();
  const send = await post(proxied, '/email-otp/send-verification-otp', { email, type: 'sign-in' }, { 'X-Forwarded-For': from });
  assert.equal(send.status, 200, send.text);
  const code = (await mb.next(email, { after: mark })).codes[0];
  const wrong = code === '000000' ? '111111' : '000000';
  const at = (otp) => post(proxied, '/sign-in/email-otp', { email, otp }, { 'X-Forwarded-For': ip() });
  for (let i = 0; i < 3; i++) {
    const r = await at(wrong);
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.code, 'INVALID_OTP');
  }
  const late = await at(code);
  assert.equal(late.status, 403, late.text);
  assert.equal(late.json.code, 'TOO_MANY_ATTEMPTS');
});

test('PGWARDEN_RATE_LIMIT=off (the harness default) never answers 429', async () => {
  const off = await startServer();
  try {
    const body = { email: uniqueEmail(), password: 'wrong-password-7' };
    for (let i = 0; i < 8; i++) assert.equal((await post(off, '/sign-in/email', body)).status, 401);
  } finally {
    await off.stop();
  }
});
