// Differential test: the oracle's own recorder (record.mjs, ~190 exchanges) is run against a fresh pgwarden on a
// fresh database, and its transcript is compared exchange by exchange with the golden one recorded from the
// real Better Auth 1.6.23 (golden/transcripts.json). Writes the per-exchange table to docs/differential.md.
//
//   cd tests/e2e && PGWARDEN_TEST_PG='<conninfo>' node --test --test-concurrency=1 --test-reporter=tap ../interop/differential.test.mjs
//
// Sections the auth core covers must match exchange by exchange (one test per section). Accepted differences:
// the documented decisions D1 (update-user body), D2 (/token/anonymous exists), D3 (Sec-Fetch-Mode without
// Origin on sign-in) and a Better Auth quirk the spec says not to copy (Q1). pgwarden's CORS layer is set apart
// and asserted by a test of its own (Better Auth does no CORS). The other sections (e-mail flows, OAuth,
// anonymous, organization, admin, rate limiting: later issues) only must not produce a 500.
//
// The recorder is copied to build/oracle/record.pgwarden.mjs (its node_modules live there) with small patches,
// each asserted to apply (see RECORDER_PATCHES): record.mjs reads the mails it needs (tokens, OTPs) from the
// oracle's /__oracle/outbox and would throw at the first missing one, and two "state bridges" set via SQL what
// the not-yet-implemented change-email and e-mail-OTP password reset would have changed, so that the covered
// sections recorded after them (origin-check, sign-out, delete-user) start from the oracle's state. With the
// oracle as the target (ORACLE_BRIDGE unset) the patched recorder behaves exactly like the original.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  ORACLE_DIR, ORACLE_SRC, ROOT, createDatabase, dropDatabase, formatConninfo, oracleUnavailable, startOracle,
  startPgwarden, testCluster,
} from './oracle.mjs';
import { compare, normalise, pair, requestLine, responseLine } from './transcripts.mjs';

// Sections implemented by the auth core: every exchange must match.
const COVERED = ['basics', 'sign-up', 'sign-in', 'session', 'jwt', 'sessions', 'session-lifetime', 'update-user',
  'change-password', 'origin-check', 'sign-out', 'delete-user'];
// Why the other sections differ (features of later issues).
const LATER = {
  'email-verification': 'e-mail verification not implemented yet (issues 4–6)',
  'change-email': 'change-email not implemented yet (issues 4–6)',
  'password-reset': 'password reset not implemented yet (issues 4–6)',
  'email-otp': 'email-otp plugin not implemented yet (issues 4–6)',
  'magic-link': 'magic-link plugin not implemented yet (issues 4–6)',
  social: 'OAuth (sign-in/social, callback) not implemented yet (issues 4–6)',
  anonymous: 'anonymous sign-in plugin not implemented yet (issues 4–6)',
  organization: 'organization plugin not implemented yet (issues 4–6)',
  admin: 'admin plugin not implemented yet (issues 4–6)',
  'strict-email-verification': 'requireEmailVerification instance and verify-email not implemented yet (issues 4–6); the recorder does not map /auth-strict to pgwarden, so these hit a 404',
  'rate-limit': 'rate limiting not implemented yet (issue 6); request-password-reset not implemented yet (issues 4–6)',
};
const DECISIONS = {
  D1: 'docs/decisions.md D1: update-user answers {"user":{…}} instead of {"status":true} (the SDK\'s Supabase-style adapter reads {"status":true} as a failure)',
  D2: 'docs/decisions.md D2, spec §1: GET /token/anonymous is the Neon SDK\'s anonymous-role JWT endpoint (404 in Better Auth), served by pgwarden',
  D3: 'docs/decisions.md D3: sign-in/sign-up accept Sec-Fetch-Mode: cors without Origin (Node\'s fetch sends it; browsers always send Origin on POST)',
  Q1: 'spec §3 quirk, deliberately not copied: for an expired session Better Auth still sends a 15-min set-auth-jwt (and exposes it); pgwarden sends no JWT for a dead session',
};

const GOLDEN_FILE = path.join(ORACLE_SRC, 'golden', 'transcripts.json');
let GOLDEN_BASE_ORIGIN = 'http://localhost:4100'; // set from the golden JWT iss
const DOC = path.join(ROOT, 'docs', 'differential.md');
const RECORDER_COPY = path.join(ORACLE_DIR, 'record.pgwarden.mjs');

// ---------------------------------------------------------------------------------------------------------
// Patches to the recorder copy. Each [description, from, to] must apply (a changed record.mjs fails loudly).
const NO_MAIL = 'eyJhbGciOiJIUzI1NiJ9.eyJtaXNzaW5nIjp0cnVlfQ.bWlzc2luZw'; // {"alg":"HS256"}.{"missing":true}: decodable
const RECORDER_PATCHES = [
  ['lastMail: a placeholder mail (token/otp that no server accepts) instead of undefined when the target sent none',
    'const lastMail = async (email, kind) => (await outbox(email)).filter((m) => !kind || m.kind === kind).at(-1);',
    `const lastMail = async (email, kind) => (await outbox(email)).filter((m) => !kind || m.kind === kind).at(-1)
  ?? { kind, email, missing: true, token: ${JSON.stringify(NO_MAIL)}, otp: "000000", url: "" };
const bridges = [];
async function bridge(what, fn) { if (process.env.ORACLE_BRIDGE === "1") { const done = await fn(); if (done) bridges.push(what + ": " + done); } }`],
  ['social: tolerate a missing sign-in/social answer (no url)', /\b(soc2?)\.json\.url\b/g,
    '($1.json?.url ?? "http://missing.invalid/?state=missing")'],
  ['bridge 1 (before curEmail): if the target did not change the e-mail, set it (and emailVerified) via SQL',
    '  const curEmail = (await q(',
    `  await bridge("change-email", async () => {
    if ((await q(\`select 1 from "user" where email=$1\`, [newEmail])).length) return null;
    await q(\`update "user" set email=$1, "emailVerified"=true where email=$2\`, [newEmail, email]);
    return \`e-mail of \${email} set to \${newEmail} and emailVerified=true via SQL\`;
  });
  const curEmail = (await q(`],
  ['bridge 2 (before A3 signs in with pw4): if the target did not reset the password via e-mail OTP, set its hash via SQL',
    '  const A3 = new Jar("A3");',
    `  await bridge("email-otp/reset-password", async () => {
    const acc = (await q(\`select a.id, a.password from account a join "user" u on u.id=a."userId" where u.email=$1 and a."providerId"='credential'\`, [curEmail]))[0];
    if (!acc) return null;
    const [salt, key] = acc.password.split(":");
    const hash = (s) => crypto.scryptSync(pw4.normalize("NFKC"), s, 64, { N: 16384, r: 16, p: 1, maxmem: 128 * 16384 * 16 * 2 }).toString("hex");
    if (hash(salt) === key) return null;
    const ns = crypto.randomBytes(16).toString("hex");
    await q(\`update account set password=$1 where id=$2\`, [\`\${ns}:\${hash(ns)}\`, acc.id]);
    return \`password of \${curEmail} set to pw4 via SQL\`;
  });
  const A3 = new Jar("A3");`],
  ['facts.bridges: which bridges were applied',
    'fs.writeFileSync(path.join(OUT, "transcripts.json"), JSON.stringify({ base: BASE, tag: TAG, records, facts }, null, 2));',
    'fs.writeFileSync(path.join(OUT, "transcripts.json"), JSON.stringify({ base: BASE, tag: TAG, records, facts: { ...facts, bridges } }, null, 2));'],
];

function patchRecorder(src) {
  let out = src;
  for (const [what, from, to] of RECORDER_PATCHES) {
    const next = typeof from === 'string' ? out.replace(from, () => to) : out.replace(from, to);
    assert.notEqual(next, out, `record.mjs changed: patch "${what}" does not apply any more`);
    out = next;
  }
  return out;
}

function run(cmd, args, opts) {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeout ?? 110_000);
    p.on('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal, out }); });
  });
}

const gitHead = () => new Promise((resolve) => {
  execFile('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }, (err, stdout) => resolve(err ? 'unknown' : stdout.trim()));
});

// ---------------------------------------------------------------------------------------------------------
const unavailable = oracleUnavailable() ?? (testCluster() ? null
  : 'PGWARDEN_TEST_PG is not set (start a throwaway cluster: build/release/pgwarden cluster start /tmp/interop-pg postgres): differential test skipped');

describe('differential: record.mjs against pgwarden vs the golden Better Auth transcript', { skip: unavailable ?? false }, () => {
  let golden, ours, recorder, results, pgw, dbName, cluster;

  before(async () => {
    const oracle = await startOracle(); // only for build/oracle (the recorder's node_modules)
    golden = JSON.parse(fs.readFileSync(GOLDEN_FILE, 'utf8'));
    // The golden run's baseURL (JWT iss/aud, redirect targets): pgwarden runs with the same one.
    const goldenBase = new URL(golden.facts.jwt.payload.iss).origin;
    GOLDEN_BASE_ORIGIN = goldenBase;

    cluster = testCluster();
    dbName = `interop_diff_${crypto.randomBytes(5).toString('hex')}`;
    const dbCi = await createDatabase(cluster, dbName);
    pgw = await startPgwarden({ databaseUrl: formatConninfo(dbCi), secret: oracle.secret, baseUrl: goldenBase });

    fs.writeFileSync(RECORDER_COPY, patchRecorder(fs.readFileSync(path.join(ORACLE_SRC, 'record.mjs'), 'utf8')));
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwarden-differential-'));
    recorder = await run(process.execPath, [RECORDER_COPY], {
      cwd: ORACLE_DIR,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        NODE_ENV: 'production',
        ORACLE_URL: pgw.url,
        ORACLE_AUTH_PATH: pgw.authPath,
        ORACLE_BASE_URL: goldenBase,
        ORACLE_OUT: out,
        ORACLE_BRIDGE: '1',
        BETTER_AUTH_SECRET: oracle.secret,
        ORACLE_PG_HOST: dbCi.host || dbCi.hostaddr || 'localhost',
        ORACLE_PG_PORT: dbCi.port || '5432',
        ORACLE_PG_DB: dbName,
        ORACLE_PG_USER: dbCi.user || 'postgres',
        ...(dbCi.password ? { ORACLE_PG_PASSWORD: dbCi.password } : {}),
      },
      timeout: 110_000,
    });
    const file = path.join(out, 'transcripts.json');
    ours = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : { records: [], facts: {}, tag: '' };
    fs.rmSync(out, { recursive: true, force: true });

    results = evaluate(golden, ours);
    writeDoc(results, golden, ours, await gitHead());
  });

  after(async () => {
    if (pgw) await pgw.stop();
    if (dbName) await dropDatabase(cluster, dbName).catch(() => {});
  });

  const fmt = (rs) => rs.map((r) => `  #${r.n} ${r.title}\n    ${r.request}\n    ${r.diffs.join('\n    ')}`).join('\n');

  test('the recorder ran to completion against pgwarden', () => {
    assert.equal(recorder.code, 0, `record.mjs exited with ${recorder.code ?? recorder.signal}:\n${recorder.out.slice(-3000)}`);
    assert.doesNotMatch(recorder.out, /\[record\] failed/, recorder.out.slice(-3000));
    assert.ok(ours.records.length >= golden.records.length - 1, `only ${ours.records.length} exchanges recorded`);
  });

  for (const section of COVERED) {
    test(`section ${section}: every exchange matches the golden transcript (CORS headers: separate test)`, () => {
      const rs = results.filter((r) => r.section === section);
      assert.ok(rs.length > 0, `no golden exchanges in section ${section}`);
      const bad = rs.filter((r) => r.result === 'differs' || r.result === 'missing' || r.result === 'extra');
      assert.equal(bad.length, 0, `${bad.length} of ${rs.length} exchanges differ (golden → pgwarden):\n${fmt(bad)}`);
    });
  }

  test('CORS: pgwarden adds only decision D15\'s CORS layer (preflights, expose headers for trusted origins)', () => {
    // Better Auth does no CORS; pgwarden must (issue 2, sdk-contract §8.6). Every CORS difference must be of
    // that kind: a 204 preflight, or set-auth-jwt/set-auth-token added to access-control-expose-headers on a
    // response to a trusted Origin. Anything else shows up in the per-section tests above as a difference.
    const preflights = results.filter((r) => r.method === 'OPTIONS');
    for (const r of preflights) assert.equal(r.ours?.status, 204, `#${r.n} ${r.title}: preflight answered ${r.ours?.status}`);
    const untrusted = results.filter((r) => r.cors && r.cors.length && r.method !== 'OPTIONS'
      && !['http://localhost:3000', GOLDEN_BASE_ORIGIN].includes(r.origin));
    assert.equal(untrusted.length, 0, `CORS headers sent to untrusted origins: ${untrusted.map((r) => '#' + r.n).join(', ')}`);
  });

  test('other sections (later issues): no exchange is a 500', () => {
    const rs = results.filter((r) => !r.covered && r.ours && r.ours.status >= 500);
    assert.equal(rs.length, 0, `5xx answers:\n${fmt(rs)}`);
  });

  test('white-box facts of the covered flows equal the golden ones (JWT, key row, hash, cookie, session rows)', () => {
    const f = ours.facts || {};
    const g = golden.facts;
    assert.ok(f.jwt, 'facts.jwt missing');
    assert.deepEqual(Object.keys(f.jwt.header), Object.keys(g.jwt.header), 'JWT header members');
    assert.deepEqual(Object.keys(f.jwt.payload), Object.keys(g.jwt.payload), 'JWT claims and order');
    assert.deepEqual(Object.keys(f.jwt.set_auth_jwt_payload), Object.keys(g.jwt.set_auth_jwt_payload), 'set-auth-jwt claims');
    assert.equal(f.jwt.lifetime_s, g.jwt.lifetime_s, 'JWT lifetime');
    assert.equal(f.jwt.verified_with_jwks, true, 'JWT verifies with the published JWKS');
    assert.equal(f.jwt.payload.role, g.jwt.payload.role);
    assert.equal(f.jwt.payload.iss, g.jwt.payload.iss);
    assert.equal(f.jwt.payload.aud, g.jwt.payload.aud);
    assert.deepEqual(f.jwt.jwks.keys.map((k) => Object.keys(k)), g.jwt.jwks.keys.map((k) => Object.keys(k)), 'JWKS member order');
    assert.deepEqual(Object.keys(JSON.parse(f.jwks_row.publicKey)), Object.keys(JSON.parse(g.jwks_row.publicKey)), 'jwks.publicKey JSON');
    assert.equal(f.jwks_row.privateKey_len, g.jwks_row.privateKey_len, 'jwks.privateKey length (sealed Ed25519 JWK)');
    assert.equal(f.jwks_row.expiresAt, null);
    assert.deepEqual(f.password_hash && { ...f.password_hash, example: undefined }, { ...g.password_hash, example: undefined }, 'password hash facts');
    assert.equal(f.session_expired_row_left, g.session_expired_row_left, 'expired session row deleted by get-session');
    const cookieNames = (l) => (l || []).map((c) => c.split('=')[0] + ';' + c.split(';').slice(1).join(';'));
    assert.deepEqual(cookieNames(f.session_refresh?.setCookies), cookieNames(g.session_refresh.setCookies), 'refresh Set-Cookie');
    const c = f.cookie || {};
    assert.deepEqual({ len: c.token_len, mac: c.hmac_sha256_base64_of_token_matches, db: c.db_session_token_equals },
      { len: g.cookie.token_len, mac: true, db: g.cookie.db_session_token_equals }, 'session cookie = token.HMAC, token stored raw');
    const cols = (o) => Object.keys(o || {});
    assert.deepEqual(cols(f.db_samples?.session), cols(g.db_samples.session), 'session row columns');
    assert.deepEqual(cols(f.db_samples?.user), cols(g.db_samples.user), 'user row columns');
  });
});

// ---------------------------------------------------------------------------------------------------------
function evaluate(golden, ours) {
  const { pairs, unmatched } = pair(golden.records, ours.records || []);
  const out = pairs.map(({ g, o }) => {
    const r = { n: g.n, section: g.section, title: g.title, request: requestLine(g, golden.tag), covered: COVERED.includes(g.section),
      method: g.request.method, origin: g.request.headers.origin };
    r.golden = normalise(g, golden.tag);
    if (!o) {
      r.result = 'missing';
      r.diffs = ['not recorded against pgwarden'];
      r.why = g.section === 'rate-limit' ? 'no 429 happened: rate limiting not implemented yet (issue 6)' : 'the recorder did not reach it';
      return r;
    }
    r.oursN = o.n;
    r.ours = normalise(o, ours.tag);
    // Not compared, reported in the document: content-type and header names only one side sends.
    const names = (rec) => new Set(rec.response.headers.map(([k]) => k.toLowerCase()));
    const [gn, on] = [names(g), names(o)];
    r.info = {
      ct: [header(g, 'content-type'), header(o, 'content-type')],
      onlyOurs: [...on].filter((k) => !gn.has(k)),
      onlyGolden: [...gn].filter((k) => !on.has(k)),
    };
    // CORS: pgwarden answers preflights and adds CORS headers for trusted origins, Better Auth does no CORS.
    // Those differences are set apart (and asserted by their own test) so that they do not hide others.
    r.cors = [];
    r.diffs = compare(r.golden, r.ours).filter((d) => (isCorsDiff(d, g, r) ? (r.cors.push(d), false) : true));
    if (!r.diffs.length) { r.result = r.cors.length ? 'cors' : 'match'; return r; }
    if (g.title.startsWith('Neon-SDK-only endpoint /token/anonymous') && o.response.status === 200
      && r.diffs.every((d) => d.startsWith('status') || d.startsWith('body'))) {
      r.result = 'expected'; r.why = 'D2'; return r;
    }
    if (g.section === 'session-lifetime' && g.title === 'get-session on an expired session'
      && r.diffs.length === 1 && r.diffs[0] === 'access-control-expose-headers: "set-auth-jwt" → undefined'
      && header(g, 'set-auth-jwt') && !header(o, 'set-auth-jwt')) {
      r.result = 'expected'; r.why = 'Q1'; return r;
    }
    // Documented decisions.
    if (/\/update-user$/.test(g.request.path) && g.response.status === 200 && JSON.stringify(g.response.body) === '{"status":true}'
      && o.response.status === 200 && o.response.body && typeof o.response.body.user === 'object'
      && Object.keys(o.response.body).join() === 'user' && r.diffs.every((d) => d.startsWith('body'))) {
      r.result = 'expected'; r.why = 'D1'; return r;
    }
    if (g.title === 'sign-in/email, Sec-Fetch-Mode cors, no Origin' && o.response.status === 200) {
      // ours must then look like the accepted server-to-server sign-in of the golden run
      const ref = golden.records.find((x) => x.title === 'sign-in/email, no Origin, no cookie (server-to-server)');
      const d = ref ? compare(normalise(ref, golden.tag), r.ours) : ['reference exchange missing'];
      if (!d.length) { r.result = 'expected'; r.why = 'D3'; return r; }
    }
    r.result = 'differs';
    if (!r.covered) {
      const notImpl = r.ours.status === 404 && r.golden.status !== 404 && r.ours.body === '';
      r.why = `${notImpl ? 'endpoint answers 404; ' : ''}${LATER[g.section] || 'later issue'}`;
    }
    return r;
  });
  for (const o of unmatched) {
    out.push({ n: null, oursN: o.n, section: o.section, title: o.title, request: requestLine(o, ours.tag), covered: COVERED.includes(o.section),
      result: 'extra', diffs: ['recorded against pgwarden only'], ours: normalise(o, ours.tag), why: 'not in the golden transcript' });
  }
  return out;
}

const header = (rec, name) => rec.response.headers.find(([k]) => k.toLowerCase() === name)?.[1];
const CORS_EXPOSE = ['set-auth-jwt', 'set-auth-token'];

/** A difference that pgwarden's CORS layer explains (trusted Origin on the request, or an OPTIONS preflight). */
function isCorsDiff(d, g, r) {
  if (g.request.method === 'OPTIONS') return d.startsWith('status: 404 → 204');
  const origin = g.request.headers.origin;
  const trusted = origin === 'http://localhost:3000' || origin === GOLDEN_BASE_ORIGIN;
  if (!trusted || !d.startsWith('access-control-expose-headers:')) return false;
  const merged = (r.golden.expose ? r.golden.expose.split(', ') : []);
  for (const h of CORS_EXPOSE) if (!merged.includes(h)) merged.push(h);
  return r.ours.expose === merged.join(', ');
}

const esc = (s) => String(s ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ').replace(/</g, '&lt;').replace(/>/g, '&gt;');
// inside a code span in a table: only the pipe needs escaping (and backticks are replaced)
const code = (s) => (s === undefined || s === null || s === '' ? '–' : `\`${String(s).replace(/\|/g, '\\|').replace(/\n/g, ' ').replace(/`/g, "'")}\``);

function writeDoc(results, golden, ours, head) {
  const L = [];
  const count = (rs, k) => rs.filter((r) => r.result === k).length;
  L.push('# Differential test: pgwarden vs Better Auth 1.6.23', '');
  L.push('Generated by `tests/interop/differential.test.mjs` (do not edit by hand; re-run the test). It runs the oracle\'s own');
  L.push('recorder (`record.mjs`, copied with the patches listed below) against a fresh pgwarden on a fresh database and');
  L.push('compares the transcript with the golden one recorded from the real Better Auth (`oracle/better-auth/golden/transcripts.json`),');
  L.push('exchange by exchange, after normalising ids, tokens, cookie values, timestamps, JWTs and the recorder\'s tag.');
  L.push('Compared: status; body (shape, member order, normalised values); Set-Cookie (name, empty or not, attributes in');
  L.push('order); the headers `location`, `set-auth-token` (presence) and `access-control-expose-headers`.', '');
  L.push('```sh');
  L.push("build/release/pgwarden cluster start /tmp/interop-pg postgres   # prints the conninfo");
  L.push("cd tests/e2e && PGWARDEN_TEST_PG='<conninfo>' PGWARDEN_SHARED=/work/shared \\");
  L.push('  node --test --test-concurrency=1 --test-reporter=tap ../interop/differential.test.mjs');
  L.push('```', '');
  L.push('The oracle itself (started by `scripts/oracle.sh start`, which this test calls for the recorder\'s node_modules in');
  L.push('`build/oracle`) is left running; `scripts/oracle.sh stop` stops it.', '');
  L.push(`Last run: pgwarden ${head}, golden tag \`${golden.tag}\` (${golden.records.length} exchanges), pgwarden run: ${(ours.records || []).length} exchanges.`, '');
  L.push('Sections the auth core covers must match exchange by exchange (the test asserts it, one test per section);');
  L.push('differences set apart:', '');
  L.push('- pgwarden\'s CORS layer (preflight answers, `access-control-expose-headers` on responses to a trusted Origin):');
  L.push('  asserted by a test of its own, which fails (see "CORS" below);');
  L.push('- documented decisions and deliberate deviations, accepted:', '');
  for (const [k, v] of Object.entries(DECISIONS)) L.push(`  - **${k}** (${v.split(':')[0]}): ${v.slice(v.indexOf(':') + 2)}`);
  L.push('', 'The other sections belong to later issues; for them the test only asserts that nothing is a 500.', '');

  L.push('## Summary', '', '"match except CORS": the only difference is pgwarden\'s CORS layer (see below).', '');
  L.push('| section | covered | exchanges | match | match except CORS | expected (decision) | differ | missing/extra |', '|---|---|---|---|---|---|---|---|');
  const sections = [...new Set(results.map((r) => r.section))];
  const row = (name, cov, rs) => `| ${name} | ${cov} | ${rs.length} | ${count(rs, 'match')} | ${count(rs, 'cors')} | ${count(rs, 'expected')} | ${count(rs, 'differs')} | ${count(rs, 'missing') + count(rs, 'extra')} |`;
  for (const s of sections) L.push(row(s, COVERED.includes(s) ? 'yes' : 'no', results.filter((r) => r.section === s)));
  L.push(row('**covered**', '', results.filter((r) => r.covered)), row('**all**', '', results), '');

  const cors = results.filter((r) => r.cors && r.cors.length);
  L.push('## CORS (failing: asserted by its own test)', '');
  L.push('Better Auth does no CORS: an OPTIONS preflight is a 404 and `access-control-expose-headers` is only sent with');
  L.push('`set-auth-token` / `set-auth-jwt`. pgwarden answers preflights from trusted origins (204) and adds');
  L.push('`access-control-allow-origin`, `-allow-credentials`, `vary: Origin` and `access-control-expose-headers: set-auth-jwt, set-auth-token`');
  L.push('(merged after the handler\'s own list) to every auth response to a trusted `Origin`. The recorder sends');
  L.push('`Origin: http://localhost:3000` on every POST, so this shows on nearly every POST:', '');
  L.push(`- ${cors.length} exchanges (${cors.filter((r) => r.covered).length} in covered sections) differ by it; typical: \`${esc(cors.find((r) => r.covered && r.golden?.expose)?.cors[0] ?? cors[0]?.cors[0] ?? '–')}\`` +
    ` and \`${esc(cors.find((r) => r.covered && !r.golden?.expose && r.request.startsWith('POST'))?.cors[0] ?? '–')}\`.`);
  L.push('- Whether Neon Auth sends CORS headers (its browser SDK calls the auth URL cross-origin with credentials) is not');
  L.push('  in the oracle; if pgwarden keeps CORS on purpose, it needs a recorded decision, and this test an exception.', '');

  const bad = results.filter((r) => r.covered && (r.result === 'differs' || r.result === 'missing' || r.result === 'extra'));
  L.push('## Headers not compared (informational, covered sections)', '');
  const covered = results.filter((r) => r.covered && r.info);
  const tally = (key) => {
    const m = new Map();
    for (const r of covered) for (const h of r.info[key]) m.set(h, [...(m.get(h) || []), r.n]);
    return [...m].map(([h, ns]) => `\`${h}\` (${ns.length}×${ns.length <= 6 ? `: #${ns.join(', #')}` : ''})`).join(', ') || 'none';
  };
  L.push(`- sent by pgwarden only: ${tally('onlyOurs')}`);
  L.push(`- sent by Better Auth only: ${tally('onlyGolden')}`);
  const ct = covered.filter((r) => r.info.ct[0] !== r.info.ct[1]);
  L.push(`- content-type differs: ${ct.length ? ct.map((r) => `#${r.n} ${code(r.info.ct[0])} → ${code(r.info.ct[1])}`).join('; ') : 'nowhere'}`, '');

  L.push('## Differences in covered sections (failures)', '');
  if (!bad.length) L.push('None.', '');
  else {
    L.push('Each: golden → pgwarden.', '');
    for (const r of bad) {
      L.push(`- **#${r.n ?? '–'} ${r.section}: ${esc(r.title)}**  `, `  ${code(r.request)}  `);
      L.push(`  golden: ${code(r.golden && responseLine(r.golden))}  `, `  ours: ${code(r.ours && responseLine(r.ours))}  `);
      for (const d of r.diffs) L.push(`  - ${esc(d)}`);
    }
    L.push('');
  }

  L.push('## Section notes (not covered yet)', '');
  for (const [s, why] of Object.entries(LATER)) L.push(`- **${s}**: ${why}`);
  L.push('', '## Recorder patches and state bridges', '');
  L.push('`record.mjs` is copied to `build/oracle/record.pgwarden.mjs` with these patches (each must apply, else the test fails):', '');
  for (const [what] of RECORDER_PATCHES) L.push(`- ${what}`);
  L.push('', 'Bridges applied in the last run (the SQL stands in for a flow pgwarden does not implement yet; once it does, the bridge is a no-op):', '');
  const br = ours.facts?.bridges || [];
  if (!br.length) L.push('- none');
  for (const b of br) L.push(`- ${code(b.split(ours.tag).join('<tag>'))}`);
  L.push('', 'Check of the method (by hand, 2026-11-27): the patched recorder run against the oracle itself (its DB, no bridges)');
  L.push('reproduced 188 of the 195 golden exchanges under this comparison; the other 7 depend on that oracle\'s port (4191:');
  L.push('`iss`/`aud` inside the JWTs of #37, #39, #130, #140, #145, and the hard-coded baseURL Origin of #147) or on its');
  L.push('database\'s earlier content (#143 admin/list-users). So the comparison itself reports no false differences.', '');

  L.push('## All exchanges', '', '| # | section | exchange | request | golden | pgwarden | result |', '|---|---|---|---|---|---|---|');
  for (const r of results) {
    const corsNote = r.cors && r.cors.length ? ` (+ CORS: ${r.cors.join('; ')})` : '';
    const res = r.result === 'match' ? 'match'
      : r.result === 'cors' ? `match except CORS: ${r.cors.join('; ')}`
        : r.result === 'expected' ? `expected (${r.why})${corsNote}`
          : `**${r.result}** (${r.why || 'see above'}): ${r.diffs.join('; ')}${corsNote}`;
    L.push(`| ${r.n ?? '–'} | ${r.section} | ${esc(r.title)} | ${code(r.request)} | ${code(r.golden && responseLine(r.golden))} | ${code(r.ours && responseLine(r.ours))} | ${esc(res)} |`);
  }
  L.push('');
  fs.mkdirSync(path.dirname(DOC), { recursive: true });
  fs.writeFileSync(DOC, L.join('\n'));
}
