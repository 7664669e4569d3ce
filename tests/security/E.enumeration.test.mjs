// security.md §E User enumeration & error disclosure: EN-01 … EN-04.
//
// Servers (one SMTP sink):
//   lax     defaults (no e-mail verification required; a duplicate sign-up is Better Auth's 422)
//   strict  PGWARDEN_REQUIRE_EMAIL_VERIFICATION=true: Better Auth 1.6's enumeration-protected mode (EN-03)
// Timing checks compare medians of interleaved samples (pairs in random order) with a generous tolerance: they
// catch the real leaks (a skipped password hash is 10-50x faster, a synchronous mail lookup/insert is far
// slower) without flaking on a busy machine.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, raw, post, get, signUp, signIn, cookieValue, header, uniqueEmail, COOKIE, PASSWORD, APP_ORIGIN,
  showServerOutputOnFailure,
} from '../e2e/harness.mjs';
import * as mailbox from '../e2e/mailbox.mjs';
import { mailEnv, linkIn, codeIn, stopAll } from '../e2e/email.common.mjs';

let mb;
let lax;
let strict;

before(async () => {
  mb = await mailbox.start();
  [lax, strict] = await Promise.all([
    startServer({ env: mailEnv(mb) }),
    startServer({ env: mailEnv(mb, { PGWARDEN_REQUIRE_EMAIL_VERIFICATION: 'true' }) }),
  ]);
});
after(() => stopAll([lax, strict], [mb]));
showServerOutputOnFailure(() => [lax, strict]);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const cookieHeader = (c) => ({ Cookie: `${COOKIE}=${c}` });

/** Headers that may legitimately differ between two answers. */
const VOLATILE = new Set(['date', 'content-length', 'connection', 'keep-alive', 'x-request-id']);
function headerNames(r) {
  return r.rawHeaders.map(([k]) => k.toLowerCase()).filter((k) => !VOLATILE.has(k)).sort();
}

/** Runs `pairs` interleaved (random order) pairs of the two request functions; returns latency arrays. */
async function interleaved(pairs, a, b) {
  const ta = [];
  const tb = [];
  for (let i = 0; i < pairs; i++) {
    for (const first of Math.random() < 0.5 ? ['a', 'b'] : ['b', 'a']) {
      const t = performance.now();
      await (first === 'a' ? a(i) : b(i));
      (first === 'a' ? ta : tb).push(performance.now() - t);
    }
  }
  return [ta, tb];
}

// ---------------------------------------------------------------- EN-01

test('EN-01: unknown email, wrong password and a user without password get byte-identical 401 answers', async () => {
  const u = await signUp(lax, { name: 'Known' });
  // a user created by email OTP has no credential account
  const otpOnly = uniqueEmail('otp-only');
  const mark = mb.mark();
  assert.equal((await post(lax, '/email-otp/send-verification-otp', { email: otpOnly, type: 'sign-in' })).status, 200);
  const otp = codeIn(await mb.next(otpOnly, { after: mark }));
  assert.equal((await post(lax, '/sign-in/email-otp', { email: otpOnly, otp })).status, 200);

  const unknown = await post(lax, '/sign-in/email', { email: uniqueEmail('nobody'), password: 'some-password-1' });
  const wrong = await post(lax, '/sign-in/email', { email: u.email, password: 'some-password-1' });
  const noPassword = await post(lax, '/sign-in/email', { email: otpOnly, password: 'some-password-1' });
  for (const [what, r] of [['unknown', unknown], ['wrong', wrong], ['no password', noPassword]]) {
    assert.equal(r.status, 401, `${what}: ${r.status} ${r.text}`);
    assert.equal(r.text, unknown.text, `${what}: body`);
    assert.deepEqual(headerNames(r), headerNames(unknown), `${what}: header names`);
    assert.deepEqual(r.setCookies, [], `${what}: no cookies`);
  }
  assert.equal(unknown.json?.code, 'INVALID_EMAIL_OR_PASSWORD');
});

test('EN-01: unknown email and wrong password take the same time (a dummy hash for unknown users)', async () => {
  const u = await signUp(lax, { name: 'Timing' });
  await post(lax, '/sign-in/email', { email: uniqueEmail('warm'), password: 'warm-up-password' });
  const [tUnknown, tWrong] = await interleaved(11,
    (i) => post(lax, '/sign-in/email', { email: uniqueEmail(`nobody${i}`), password: `wrong-password-${i}` }),
    (i) => post(lax, '/sign-in/email', { email: u.email, password: `wrong-password-${i}` }));
  const ratio = median(tUnknown) / median(tWrong);
  assert.ok(ratio > 0.5 && ratio < 2,
    `median unknown ${median(tUnknown).toFixed(1)} ms vs wrong password ${median(tWrong).toFixed(1)} ms (ratio ${ratio.toFixed(2)})`);
});

test('EN-01: an unverified user: wrong password → 401 INVALID_EMAIL_OR_PASSWORD, right password → 403 EMAIL_NOT_VERIFIED', async () => {
  const email = uniqueEmail('unverified');
  const up = await post(strict, '/sign-up/email', { name: 'Unverified', email, password: PASSWORD });
  assert.equal(up.status, 200, up.text);
  const wrong = await post(strict, '/sign-in/email', { email, password: 'wrong-password-1' });
  assert.equal(wrong.status, 401, wrong.text);
  assert.equal(wrong.json?.code, 'INVALID_EMAIL_OR_PASSWORD');
  const unknown = await post(strict, '/sign-in/email', { email: uniqueEmail('nobody'), password: 'wrong-password-1' });
  assert.equal(wrong.text, unknown.text, 'same body as for an unknown address');
  const right = await post(strict, '/sign-in/email', { email, password: PASSWORD });
  assert.equal(right.status, 403, right.text);
  assert.equal(right.json?.code, 'EMAIL_NOT_VERIFIED');
  assert.equal(cookieValue(right.setCookies), undefined);
});

// ---------------------------------------------------------------- EN-02

test('EN-02: request-password-reset answers existing and unknown addresses identically; only the existing one gets mail', async () => {
  const u = await signUp(lax, { name: 'Reset enum' });
  const ghost = uniqueEmail('ghost');
  const mark = mb.mark();
  const known = await post(lax, '/request-password-reset', { email: u.email, redirectTo: '/reset' });
  const unknown = await post(lax, '/request-password-reset', { email: ghost, redirectTo: '/reset' });
  assert.equal(known.status, 200, known.text);
  assert.equal(unknown.status, known.status);
  assert.equal(unknown.text, known.text);
  assert.deepEqual(headerNames(unknown), headerNames(known));
  await mb.next(u.email, { after: mark });
  await mb.none((m) => m.index >= mark && m.to === ghost.toLowerCase(), 800);
  assert.equal(mb.messages.filter((m) => m.index >= mark && m.to === u.email.toLowerCase()).length, 1, 'exactly one mail to the owner');
});

test('EN-02: request-password-reset takes the same time for existing and unknown addresses', async () => {
  const u = await signUp(lax, { name: 'Reset timing' });
  const mark = mb.mark();
  const PAIRS = 20;
  const [tKnown, tUnknown] = await interleaved(PAIRS,
    () => post(lax, '/request-password-reset', { email: u.email, redirectTo: '/reset' }),
    (i) => post(lax, '/request-password-reset', { email: uniqueEmail(`ghost${i}`), redirectTo: '/reset' }));
  const mk = median(tKnown);
  const mu = median(tUnknown);
  // let the mails go out before the server is stopped
  await mb.waitFor(() => mb.messages.filter((m) => m.index >= mark && m.to === u.email.toLowerCase()).length >= PAIRS, 30_000);
  const ratio = mk / mu;
  assert.ok(Math.abs(mk - mu) < 1 || (ratio > 0.5 && ratio < 2),
    `median existing ${mk.toFixed(2)} ms vs unknown ${mu.toFixed(2)} ms (ratio ${ratio.toFixed(2)})`);
});

// ---------------------------------------------------------------- EN-03 (strict)

function shape(v) {
  if (v === null) return null;
  if (Array.isArray(v)) return v.map(shape);
  if (typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shape(x)]));
  return typeof v;
}

test('EN-03: sign-up with a taken address answers like a fresh sign-up: same shape, no cookie, no second row, a mail to the owner', async () => {
  const email = uniqueEmail('taken');
  const fresh = await post(strict, '/sign-up/email', { name: 'Owner', email, password: PASSWORD });
  assert.equal(fresh.status, 200, fresh.text);
  const other = await post(strict, '/sign-up/email', { name: 'Someone', email: uniqueEmail('free'), password: 'another-password-1' });
  await mb.next(email);  // the owner's verification mail
  const mark = mb.mark();
  const dup = await post(strict, '/sign-up/email', { name: 'Attacker', email: email.toUpperCase(), password: 'attacker-password-1' });
  assert.equal(dup.status, 200, dup.text);
  assert.deepEqual(shape(dup.json), shape(other.json), 'same JSON shape as a fresh sign-up');
  assert.deepEqual(Object.keys(dup.json.user), Object.keys(other.json.user), 'same member order');
  assert.equal(dup.json.token, null);
  assert.equal(dup.json.user.email, email.toLowerCase());
  assert.equal(dup.json.user.name, 'Attacker', 'echoes the request like a fresh sign-up');
  assert.equal(dup.json.user.emailVerified, false);
  assert.notEqual(dup.json.user.id, fresh.json.user.id, 'the owner\'s id is not revealed');
  assert.ok(Math.abs(Date.parse(dup.json.user.createdAt) - Date.now()) < 60_000, 'a fresh-looking createdAt');
  assert.deepEqual(dup.setCookies, []);
  assert.deepEqual(headerNames(dup), headerNames(other), 'same header names');
  const { rows } = await strict.db.query('SELECT count(*)::int AS n FROM neon_auth."user" WHERE lower(email) = lower($1)', [email]);
  assert.equal(rows[0].n, 1, 'no second user row');
  await mb.next(email, { after: mark });  // "someone tried to sign up with your address"
  const signInAttacker = await post(strict, '/sign-in/email', { email, password: 'attacker-password-1' });
  assert.equal(signInAttacker.status, 401, 'the attacker\'s password was not stored');
});

test('EN-03: change-email to a taken address answers exactly like to a free one', async () => {
  const email = uniqueEmail('mover');
  const mark = mb.mark();
  assert.equal((await post(strict, '/sign-up/email', { name: 'Mover', email, password: PASSWORD })).status, 200);
  const link = linkIn(await mb.next(email, { after: mark }), `${strict.authUrl}/verify-email?`);
  const v = await raw(link.toString());
  assert.ok(v.status === 200 || v.status === 302, `verify: ${v.status}`);
  const s = await signIn(strict, email);
  const taken = uniqueEmail('occupied');
  assert.equal((await post(strict, '/sign-up/email', { name: 'Occupant', email: taken, password: PASSWORD })).status, 200);
  const toTaken = await post(strict, '/change-email', { newEmail: taken, callbackURL: '/x' }, cookieHeader(s.cookie));
  const toFree = await post(strict, '/change-email', { newEmail: uniqueEmail('vacant'), callbackURL: '/x' }, cookieHeader(s.cookie));
  assert.equal(toTaken.status, 200, toTaken.text);
  assert.equal(toTaken.status, toFree.status);
  assert.equal(toTaken.text, toFree.text);
  assert.deepEqual(headerNames(toTaken), headerNames(toFree));
  const { rows } = await strict.db.query('SELECT email FROM neon_auth."user" WHERE id = $1', [s.user.id]);
  assert.equal(rows[0].email, email.toLowerCase(), 'the address is not changed before confirmation');
  await sleep(300);  // let the confirmation mail go out before the server stops
});

// ---------------------------------------------------------------- EN-04

const LEAKS = [/SQLSTATE/i, /\/src\//, /\.cpp\b/, /\.hpp\b/, /neon_auth/i, /pgwarden\./i, /boost/i, /libpq/i, /std::/, /\bpq[A-Z_]/,
  /postgres/i, /syntax error at/i, /relation "/i, /column "/i, /violates/i, /constraint/i, /duplicate key/i, /\bERROR:/,
  /stack trace/i, /exception/i, /\bat line\b/i, /EN04-INTERNAL/];

function assertGenericError(r, what, { allow5xx = false } = {}) {
  if (!allow5xx) assert.ok(r.status >= 400 && r.status < 500, `${what}: ${r.status} ${r.text.slice(0, 200)}`);
  else assert.ok(r.status >= 400, `${what}: ${r.status} ${r.text.slice(0, 200)}`);
  if (r.text) {
    let body;
    try { body = JSON.parse(r.text); } catch { assert.fail(`${what}: the error body is not JSON: ${r.text.slice(0, 200)}`); }
    assert.equal(typeof body, 'object', what);
    assert.ok(body && !Array.isArray(body), what);
    for (const k of Object.keys(body)) assert.ok(['message', 'code'].includes(k), `${what}: member ${k} in ${r.text.slice(0, 200)}`);
    assert.equal(typeof body.message, 'string', `${what}: ${r.text.slice(0, 200)}`);
  }
  for (const re of LEAKS) assert.ok(!re.test(r.text), `${what}: body matches ${re}: ${r.text.slice(0, 300)}`);
}

test('EN-04: malformed bodies (bad JSON, 1e400, NUL, bad UTF-8, surrogates, junk) get {message, code} errors without internals', async () => {
  const u = await signUp(lax, { name: 'Fuzz' });
  const J = 'application/json';
  // Value-level faults go into every field the endpoints read, so each endpoint meets one.
  const FIELDS = ['email', 'password', 'name', 'newPassword', 'currentPassword', 'token', 'type', 'otp'];
  const all = (v) => `{${FIELDS.map((f) => `"${f}":${v}`).join(',')}}`;
  const bodies = [
    ['bad JSON', '{bad json'],
    ['truncated', '{"email":'],
    ['empty', ''],
    ['null', 'null'],
    ['array', '[]'],
    ['string', '"x"'],
    ['1e400', all('1e400')],
    ['-1e400', all('-1e400')],
    ['10^400', all(`1${'0'.repeat(400)}`)],
    ['NUL escape', all('"a\\u0000b@example.com"')],
    ['raw NUL', Buffer.from(all('"a\0b@example.com"'))],
    ['lone surrogate', all('"\\ud800a@example.com"')],
    ['bad UTF-8', Buffer.concat([Buffer.from('{"email":"a'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('@b.co","password":"p'),
      Buffer.from([0xc0, 0xaf]), Buffer.from('pppppp","name":"n","token":"t'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('","newPassword":"x'),
      Buffer.from([0xff]), Buffer.from('xxxxxxx","currentPassword":"c'), Buffer.from([0xfe]), Buffer.from('"}')])],
    ['trailing junk', `${all('"a@b.co"')} trailing`],
    ['deep nesting', `{"name":${'['.repeat(20000)}${']'.repeat(20000)}}`],
    ['long key', `{"${'k'.repeat(200_000)}":1}`],
    ['operators', all('{"$gt":"","$ne":1}')],
    ['arrays', all('["a@b.co"]')],
    ['__proto__', `{"__proto__":{"admin":true},${all('7').slice(1)}`],
  ];
  const endpoints = [
    ['/sign-up/email', {}],
    ['/sign-in/email', {}],
    ['/request-password-reset', {}],
    ['/email-otp/send-verification-otp', {}],
    ['/reset-password', {}],
    ['/change-password', cookieHeader(u.cookie)],
    ['/update-user', cookieHeader(u.cookie)],
  ];
  for (const [p, extra] of endpoints) {
    for (const [what, body] of bodies) {
      const r = await raw(`${lax.authUrl}${p}`, { method: 'POST', headers: { Origin: APP_ORIGIN, 'Content-Type': J, ...extra }, body });
      assertGenericError(r, `${p} ${what}`);
    }
  }
  assert.equal((await raw(`${lax.authUrl}/ok`)).status, 200, 'alive');
});

test('EN-04: database errors (constraint, trigger exception) answer a generic error without SQL, SQLSTATE or internal names', async () => {
  const db = lax.db;
  await db.query(`ALTER TABLE neon_auth."user" ADD CONSTRAINT pgw_sec_en04_check CHECK (name <> 'en04-boom') NOT VALID`);
  await db.query(`CREATE OR REPLACE FUNCTION public.pgw_sec_en04() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN IF NEW.name = 'en04-trigger' THEN RAISE EXCEPTION 'EN04-INTERNAL-DETAIL in %', TG_TABLE_NAME USING HINT = 'EN04-INTERNAL-HINT'; END IF; RETURN NEW; END $$`);
  await db.query('CREATE TRIGGER pgw_sec_en04 BEFORE UPDATE ON neon_auth."user" FOR EACH ROW EXECUTE FUNCTION public.pgw_sec_en04()');
  try {
    const up = await post(lax, '/sign-up/email', { name: 'en04-boom', email: uniqueEmail('en04'), password: PASSWORD });
    assert.ok(up.status >= 400, `a sign-up the database refuses cannot succeed: ${up.status}`);
    assertGenericError(up, 'sign-up hitting a CHECK constraint', { allow5xx: true });
    const u = await signUp(lax, { name: 'Trigger' });
    const upd = await post(lax, '/update-user', { name: 'en04-trigger' }, cookieHeader(u.cookie));
    assert.ok(upd.status >= 400, `an update the database refuses cannot succeed: ${upd.status}`);
    assertGenericError(upd, 'update-user hitting a trigger exception', { allow5xx: true });
  } finally {
    await db.query('DROP TRIGGER IF EXISTS pgw_sec_en04 ON neon_auth."user"');
    await db.query('DROP FUNCTION IF EXISTS public.pgw_sec_en04()');
    await db.query('ALTER TABLE neon_auth."user" DROP CONSTRAINT IF EXISTS pgw_sec_en04_check');
  }
  assert.equal((await raw(`${lax.authUrl}/ok`)).status, 200, 'alive');
});

test('EN-04: Data API errors do not name tables, functions or schemas the caller cannot see', async () => {
  const db = lax.db;
  await db.query('CREATE TABLE public.secret_table (id int primary key, payload text)');
  await db.query('REVOKE ALL ON public.secret_table FROM PUBLIC');
  await db.query(`CREATE FUNCTION public.secret_fn() RETURNS int LANGUAGE sql AS 'SELECT 42'`);
  await db.query('REVOKE ALL ON FUNCTION public.secret_fn() FROM PUBLIC');
  const api = `${lax.baseUrl}/neondb/rest/v1`;
  // wait for the schema reload (the exact name stops being "not found"); NOTIFY again now and then in case the
  // server's listening connection was just being re-established
  let seen = false;
  for (let i = 0; i < 200 && !seen; i++) {
    if (i % 10 === 0) await db.query(`NOTIFY pgrst, 'reload schema'`);
    const r = await raw(`${api}/secret_table`);
    seen = r.status !== 404;
    if (!seen) await sleep(100);
  }
  assert.ok(seen, 'the schema cache picked up secret_table');
  const probes = [
    ['/secret_tabl', /secret_table/],
    ['/secret_tables', /secret_table[^s]/],
    ['/rpc/secret_f', /secret_fn/],
    ['/rpc/secret_fnx', /secret_fn[^x]/],
    ['/sessio', /neon_auth|"session"|'session'/],
    ['/verificatio', /neon_auth|verification'/],
    ['/schema_migration', /pgwarden|schema_migrations/],
  ];
  const leaks = [];
  const anonJwt = (await raw(`${lax.authUrl}/token/anonymous`)).json?.token;
  for (const [p, leak] of probes) {
    for (const [who, headers] of [['no token', {}], ['anonymous JWT', { Authorization: `Bearer ${anonJwt}` }]]) {
      const r = await raw(`${api}${p}`, { headers });
      assert.ok(r.status >= 400 && r.status < 500, `${p}: ${r.status} ${r.text}`);
      const body = JSON.parse(r.text);
      assert.equal(typeof body.code, 'string', r.text);
      assert.equal(typeof body.message, 'string', r.text);
      if (leak.test(r.text)) leaks.push(`${p} (${who}): ${r.text}`);
      for (const re of [/SQLSTATE/i, /\/src\//, /\.cpp\b/, /neon_auth\./]) if (re.test(r.text)) leaks.push(`${p} (${who}): ${re} in ${r.text}`);
    }
  }
  assert.deepEqual(leaks, []);
});

test('EN-04: dropped database connections answer a generic error (or recover) and the server keeps serving', async () => {
  const u = await signUp(lax, { name: 'Dropped' });
  await lax.db.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()');
  const answers = [];
  for (let i = 0; i < 4; i++) {
    answers.push(await get(lax, '/get-session', { cookie: u.cookie }));
    answers.push(await post(lax, '/sign-in/email', { email: uniqueEmail('gone'), password: 'whatever-pass' }));
  }
  for (const r of answers) if (r.status >= 500) assertGenericError(r, `after pg_terminate_backend: ${r.status}`, { allow5xx: true });
  let ok = false;
  for (let i = 0; i < 20 && !ok; i++) {
    ok = (await get(lax, '/get-session', { cookie: u.cookie })).json?.user?.id === u.user.id;
    if (!ok) await sleep(250);
  }
  assert.ok(ok, 'the server reconnects and serves the session again');
});
