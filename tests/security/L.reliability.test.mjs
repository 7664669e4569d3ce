// security.md section L (reliability and fault behaviour), black-box: the built binary against Postgres through
// a TCP fault injector (tcp-proxy.mjs) or a private cluster that is stopped and started, with the SDK-free raw
// HTTP helpers of the e2e harness.
//
//   RF-01  the database goes away: every auth and Data API answer is 503 + Retry-After (never "no session", never
//          anonymous data, never a 500 with internals), quickly; it comes back: requests succeed again within
//          35 s, same process; reconnects back off exponentially, capped
//   RF-02  /health/live and /health/ready (down, back, draining)
//   RF-03  SIGTERM with 100 requests in flight
//   RF-04  1000 concurrent sign-ups; sign-ups while connections are cut
//   RF-05  50 concurrent sign-ups for one address
//   RF-06  SMTP that never answers; a statement over the Data API's statement_timeout
//   RF-07  a wrong-password sign-in flood does not slow cheap requests; the hashing queue overflows into 503s
//
// Needs PGWARDEN_TEST_PG and PGWARDEN_BIN as tests/e2e (see tests/e2e/harness.mjs); run with
// `cd tests/security && node --test L.reliability.test.mjs`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import {
  BIN, APP_ORIGIN, COOKIE, PASSWORD, createDatabase, spawnServer, newSecret, assertCleanExit, parseConninfo, raw,
  cookieValue, uniqueEmail,
} from '../e2e/harness.mjs';
import { start as startMailbox } from '../e2e/mailbox.mjs';
import { TcpProxy } from './tcp-proxy.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const SECRET = newSecret();

// Every body a client can get while the database is away: the generic ones, nothing from libpq or the socket.
const INTERNALS = /closed|refused|terminat|timeout|no answer|libpq|PQ|socket|127\.0\.0\.1|\.s\.PGSQL|port|connect:|receive|pipeline|sqlstate|57P0|08006/i;

let database;  // one migrated database with the app's table, shared by the tests that use the test cluster
let db;        // pg.Pool on it (direct, not through any proxy)

before(async () => {
  database = await createDatabase();
  // Migrations first (roles, auth.uid()), then the app's table: the Data API reads its schema at start.
  execFileSync(BIN, ['migrate'], { env: { ...process.env, DATABASE_URL: database.databaseUrl }, stdio: 'pipe' });
  db = new pg.Pool({ ...database.pgConfig, max: 3 });
  await db.query(APP_SQL);
});

after(async () => {
  await db?.end();
  await database?.drop();
});

const APP_SQL = `
  CREATE TABLE public.notes (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id uuid NOT NULL DEFAULT auth.uid(),
    body text NOT NULL,
    public boolean NOT NULL DEFAULT false);
  ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
  CREATE POLICY own ON public.notes TO authenticated USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());
  CREATE POLICY pub ON public.notes FOR SELECT TO anonymous USING (public);
  GRANT USAGE ON SCHEMA public TO authenticated, anonymous;
  GRANT SELECT, INSERT ON public.notes TO authenticated;
  GRANT SELECT ON public.notes TO anonymous;
  INSERT INTO public.notes (user_id, body, public) VALUES ('00000000-0000-0000-0000-000000000001', 'a public note', true);
  CREATE FUNCTION public.sleepy(seconds float8) RETURNS int LANGUAGE sql AS 'SELECT 1 FROM pg_sleep(seconds)';
  GRANT EXECUTE ON FUNCTION public.sleepy(float8) TO authenticated, anonymous;`;

// ------------------------------------------------------------------------------------------------ helpers

function formatConninfo(obj) {
  return Object.entries(obj).map(([k, v]) => `${k}='${String(v).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`).join(' ');
}

/** A proxy in front of the test cluster, and the conninfo of `databaseUrl` rerouted through it. */
async function proxyFor(databaseUrl) {
  const ci = parseConninfo(databaseUrl);
  const host = ci.host || ci.hostaddr || 'localhost';
  const port = Number(ci.port || 5432);
  const proxy = await TcpProxy.start(host.startsWith('/') ? { path: `${host}/.s.PGSQL.${port}` } : { host, port });
  const routed = { ...ci, host: '127.0.0.1', port: proxy.port };
  delete routed.hostaddr;
  return { proxy, url: formatConninfo(routed) };
}

async function spawn(databaseUrl, env = {}) {
  const server = await spawnServer({ databaseUrl, secret: SECRET, env });
  const base = `http://localhost:${server.port}`;
  return { ...server, base, authUrl: `${base}/neondb/auth`, restUrl: `${base}/neondb/rest/v1` };
}

/** Every event the server logged (its JSON lines), optionally only `name`. */
function events(server, name) {
  const out = [];
  for (const line of server.output().split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const e = JSON.parse(line);
      if (!name || e.event === name) out.push(e);
    } catch { /* not a log line */ }
  }
  return out;
}

const post = (srv, p, body, headers = {}) => raw(`${srv.authUrl}${p}`, { method: 'POST', headers: { Origin: APP_ORIGIN, ...headers }, body });

/** Signs a fresh user up; returns {email, cookie, jwt, userId}. */
async function newUser(srv, tag = 'rf') {
  const email = uniqueEmail(tag);
  const up = await post(srv, '/sign-up/email', { name: 'RF', email, password: PASSWORD });
  assert.equal(up.status, 200, up.text);
  const cookie = cookieValue(up.setCookies);
  const s = await raw(`${srv.authUrl}/get-session`, { headers: { Cookie: `${COOKIE}=${cookie}` } });
  assert.equal(s.status, 200, s.text);
  return { email, cookie, jwt: s.headers['set-auth-jwt'], userId: up.json.user.id };
}

/** One timed request: {name, status, headers, text, json, ms} (status 'ERR:<code>' when the exchange failed). */
async function timed(name, url, opts) {
  const t0 = performance.now();
  try {
    const r = await raw(url, opts);
    return { name, ...r, ms: performance.now() - t0 };
  } catch (e) {
    return { name, status: `ERR:${e.code || e.message}`, headers: {}, text: '', ms: performance.now() - t0 };
  }
}

/** The requests RF-01 watches: a signed-in browser's get-session, a sign-in, the Data API with and without JWT. */
function probes(srv, user) {
  return [
    timed('get-session', `${srv.authUrl}/get-session`, { headers: { Cookie: `${COOKIE}=${user.cookie}` } }),
    timed('sign-in', `${srv.authUrl}/sign-in/email`, { method: 'POST', headers: { Origin: APP_ORIGIN }, body: { email: user.email, password: PASSWORD } }),
    timed('rest-jwt', `${srv.restUrl}/notes?select=body`, { headers: { Authorization: `Bearer ${user.jwt}` } }),
    timed('rest-anon', `${srv.restUrl}/notes?select=body`),
  ];
}

/** Asserts what every answer must be while the database is unreachable: 503, Retry-After, a generic body. */
function assertFailedClosed(r) {
  const where = `${r.name}: ${r.status} ${r.text.slice(0, 200)}`;
  assert.equal(r.status, 503, where);
  assert.match(String(r.headers['retry-after'] ?? ''), /^[1-9][0-9]*$/, `${where}: Retry-After`);
  assert.doesNotMatch(r.text, INTERNALS, where);
  if (r.name.startsWith('rest')) assert.equal(r.json?.code, 'PGRST000', where);
  else assert.equal(r.json?.code, 'SERVICE_UNAVAILABLE', where);
}

/** Asserts the answers of probes() when the database is up (the user's own note, the public one). */
function assertServed(results, user) {
  const by = Object.fromEntries(results.map((r) => [r.name, r]));
  assert.equal(by['get-session'].status, 200, by['get-session'].text);
  assert.equal(by['get-session'].json?.user?.email, user.email);
  assert.equal(by['sign-in'].status, 200, by['sign-in'].text);
  assert.equal(by['rest-jwt'].status, 200, by['rest-jwt'].text);
  assert.deepEqual(by['rest-jwt'].json, [{ body: `note of ${user.email}` }]);  // RLS: own rows only
  assert.equal(by['rest-anon'].status, 200, by['rest-anon'].text);
  assert.deepEqual(by['rest-anon'].json, [{ body: 'a public note' }]);
}

function percentile(values, p) {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : 0;
}

/** Polls probes() until all are served; returns the seconds it took (or throws after `limitS`). */
async function waitServed(srv, user, limitS) {
  const t0 = Date.now();
  let last;
  while ((Date.now() - t0) / 1000 < limitS) {
    last = await Promise.all(probes(srv, user));
    try {
      assertServed(last, user);
      return (Date.now() - t0) / 1000;
    } catch { /* not yet */ }
    await sleep(250);
  }
  throw new Error(`not served again within ${limitS} s: ${last.map((r) => `${r.name} ${r.status} ${r.text.slice(0, 100)}`).join('; ')}`);
}

async function prepareUser(srv, tag) {
  const user = await newUser(srv, tag);
  const ins = await raw(`${srv.restUrl}/notes`, {
    method: 'POST', headers: { Authorization: `Bearer ${user.jwt}` }, body: { body: `note of ${user.email}` },
  });
  assert.equal(ins.status, 201, ins.text);
  return user;
}

// ------------------------------------------------------------------------------------------------ RF-01

test('RF-01: connections cut and refused -> 503 + Retry-After everywhere, fast; back within 35 s, same process, with capped backoff', async () => {
  const { proxy, url } = await proxyFor(database.databaseUrl);
  const srv = await spawn(url);
  try {
    const user = await prepareUser(srv, 'rf01');
    assertServed(await Promise.all(probes(srv, user)), user);

    proxy.cut();
    const cutAt = Date.now();
    const answers = [];
    // 12 s of outage: long enough for the reconnect delay to reach its cap (0.25 -> 0.5 -> ... -> 8 s).
    while (Date.now() - cutAt < 12_000) {
      answers.push(...(await Promise.all(probes(srv, user))));
      await sleep(300);
    }
    for (const r of answers) assertFailedClosed(r);
    const p99 = percentile(answers.map((r) => r.ms), 99);
    assert.ok(p99 < 11_000, `p99 of the 503s: ${p99.toFixed(0)} ms`);
    const ready = await raw(`${srv.base}/health/ready`);
    assert.equal(ready.status, 503);
    const live = await raw(`${srv.base}/health/live`);
    assert.equal(live.status, 200);

    // Reconnect attempts back off exponentially, each delay at most 8 s (decisions D39).
    const delays = events(srv, 'db.connect_failed').map((e) => Number(e.retry_in_ms));
    assert.ok(delays.length >= 4, `connect failures logged: ${delays.length}`);
    assert.ok(delays.every((d) => d >= 250 && d <= 8000), `reconnect delays: ${delays.join(', ')}`);
    assert.equal(Math.max(...delays), 8000, `the delay grows to its cap: ${delays.join(', ')}`);
    const attemptsDuringOutage = proxy.accepted;

    proxy.restore();
    const took = await waitServed(srv, user, 35);
    assert.equal(srv.proc.exitCode, null, 'the same process serves again');
    assert.ok(events(srv, 'db.reconnected').length >= 1);
    console.log(`RF-01 cut: ${answers.length} answers during 12 s, all 503; p50 ${percentile(answers.map((r) => r.ms), 50).toFixed(1)} ms, ` +
      `p99 ${p99.toFixed(1)} ms; ${attemptsDuringOutage} TCP connects to the proxy in all; served again ${took.toFixed(1)} s after the restore`);
  } finally {
    assertCleanExit(await srv.terminate(), srv.output());
    await proxy.close();
  }
});

test('RF-01: a database that stops answering (blackhole) -> 503 within 11 s, never a hang; back after restore', async () => {
  const { proxy, url } = await proxyFor(database.databaseUrl);
  // The Data API's client-side deadline is its statement_timeout + 1 s: 5 s here keeps the test short.
  const srv = await spawn(url, { PGWARDEN_DATA_API_STATEMENT_TIMEOUT_MS: '5000' });
  try {
    const user = await prepareUser(srv, 'rf01b');
    assertServed(await Promise.all(probes(srv, user)), user);
    proxy.blackhole();
    // Two waves: the first runs into the pooled connections that no longer answer (query deadline), the second
    // into new connects that get no answer (connect deadline) or the backoff that follows (at once).
    const first = Promise.all(probes(srv, user));
    await sleep(2000);
    const second = Promise.all(probes(srv, user));
    const answers = [...(await first), ...(await second)];
    for (const r of answers) assertFailedClosed(r);
    const worst = Math.max(...answers.map((r) => r.ms));
    assert.ok(worst < 11_000, `slowest 503: ${worst.toFixed(0)} ms`);
    proxy.restore();
    const took = await waitServed(srv, user, 35);
    console.log(`RF-01 blackhole: slowest 503 after ${worst.toFixed(0)} ms (${answers.map((r) => `${r.name} ${r.ms.toFixed(0)}`).join(', ')}); served again ${took.toFixed(1)} s after the restore`);
  } finally {
    assertCleanExit(await srv.terminate(), srv.output());
    await proxy.close();
  }
});

test('RF-01: Postgres stopped (fast shutdown, a request in flight) and started again: 503s, then served without a restart', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgw-rf01-'));
  let srv;
  try {
    const conninfo = execFileSync(BIN, ['cluster', 'start', dir, 'postgres'], { stdio: ['ignore', 'pipe', 'pipe'] })
      .toString().trim().split('\n').pop();
    execFileSync(BIN, ['migrate'], { env: { ...process.env, DATABASE_URL: conninfo }, stdio: 'pipe' });
    const ci = parseConninfo(conninfo);
    const admin = new pg.Client({ host: ci.host, port: Number(ci.port), user: 'postgres', database: 'postgres' });
    await admin.connect();
    await admin.query(APP_SQL);
    await admin.end();
    srv = await spawn(conninfo);
    const user = await prepareUser(srv, 'rf01s');
    assertServed(await Promise.all(probes(srv, user)), user);

    // A slow Data API call and a sign-in are in flight when Postgres shuts down: their backends are terminated
    // (57P01): 503, not a 500 with "terminating connection due to administrator command".
    const inFlight = [
      timed('rest-slow', `${srv.restUrl}/rpc/sleepy`, { method: 'POST', headers: { Authorization: `Bearer ${user.jwt}` }, body: { seconds: 5 } }),
      timed('rest-slow-anon', `${srv.restUrl}/rpc/sleepy`, { method: 'POST', body: { seconds: 5 } }),
    ];
    await sleep(500);
    execFileSync(BIN, ['cluster', 'stop', dir], { stdio: 'pipe' });
    const answers = [...(await Promise.all(inFlight))];
    for (let i = 0; i < 5; i++) {
      answers.push(...(await Promise.all(probes(srv, user))));
      await sleep(300);
    }
    for (const r of answers) assertFailedClosed({ ...r, name: r.name.replace('-slow-anon', '').replace('-slow', '') });
    assert.equal((await raw(`${srv.base}/health/ready`)).status, 503);

    execFileSync(BIN, ['cluster', 'start', dir, 'postgres'], { stdio: 'pipe' });
    const took = await waitServed(srv, user, 35);
    assert.equal(srv.proc.exitCode, null);
    assert.equal((await raw(`${srv.base}/health/ready`)).status, 200);
    console.log(`RF-01 stop/start: ${answers.length} answers while stopped, all 503; served again ${took.toFixed(1)} s after the start`);
  } finally {
    if (srv) assertCleanExit(await srv.terminate(), srv.output());
    try { execFileSync(BIN, ['cluster', 'stop', dir], { stdio: 'pipe' }); } catch { /* already stopped */ }
    rmSync(dir, { recursive: true, force: true });
  }
});

// ------------------------------------------------------------------------------------------------ RF-02

test('RF-02: /health/ready is 503 while the database is down and while draining; /health/live stays 200', async () => {
  const { proxy, url } = await proxyFor(database.databaseUrl);
  const srv = await spawn(url);
  try {
    let ready = await raw(`${srv.base}/health/ready`);
    assert.equal(ready.status, 200, ready.text);
    assert.deepEqual(ready.json, { status: 'ready' });

    proxy.cut();
    for (let i = 0; i < 3; i++) {
      ready = await raw(`${srv.base}/health/ready`);
      assert.equal(ready.status, 503, ready.text);
      assert.deepEqual(ready.json, { status: 'unavailable' });
      assert.match(String(ready.headers['retry-after']), /^[1-9][0-9]*$/);
      const live = await raw(`${srv.base}/health/live`);
      assert.equal(live.status, 200);
      await sleep(200);
    }
    proxy.restore();
    const t0 = Date.now();
    while ((await raw(`${srv.base}/health/ready`)).status !== 200) {
      assert.ok(Date.now() - t0 < 35_000, 'ready again within 35 s');
      await sleep(250);
    }

    // Draining: a keep-alive connection opened before SIGTERM still reaches the server; ready says 503 at once
    // while a slow request is finishing.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const viaAgent = (p) => new Promise((resolve, reject) => {
      http.get(`${srv.base}${p}`, { agent }, (res) => {
        let text = '';
        res.on('data', (d) => { text += d; });
        res.on('end', () => resolve({ status: res.statusCode, text }));
      }).on('error', reject);
    });
    assert.equal((await viaAgent('/health/live')).status, 200);
    const slow = timed('slow', `${srv.restUrl}/rpc/sleepy`, { method: 'POST', body: { seconds: 2 } });
    await sleep(300);
    srv.proc.kill('SIGTERM');
    await sleep(200);
    const draining = await viaAgent('/health/ready');
    assert.equal(draining.status, 503, draining.text);
    assert.equal((await slow).status, 200);
    agent.destroy();
  } finally {
    assertCleanExit(await srv.terminate(), srv.output());
    await proxy.close();
  }
});

// ------------------------------------------------------------------------------------------------ RF-03

test('RF-03: SIGTERM at 0.5 s with 100 requests in flight: all complete 2xx, new connections refused, exit 0, DB has exactly the completed sign-ups', async () => {
  const srv = await spawn(database.databaseUrl);
  let exit;
  try {
    const known = await newUser(srv, 'rf03-known');
    const tag = uniqueEmail('rf03').split('@')[0];
    const work = [];
    for (let i = 0; i < 10; i++) {
      work.push(timed('rpc-sleep', `${srv.restUrl}/rpc/sleepy`, { method: 'POST', headers: { Authorization: `Bearer ${known.jwt}` }, body: { seconds: 2 } }));
    }
    // 40 password hashes: a few seconds on 2 idle cores, well inside the 20 s drain deadline (D39) even when the
    // machine is busy.
    for (let i = 0; i < 20; i++) {
      work.push(timed('sign-up', `${srv.authUrl}/sign-up/email`, { method: 'POST', headers: { Origin: APP_ORIGIN }, body: { name: 'D', email: `${tag}-${i}@example.com`, password: PASSWORD } }));
      work.push(timed('sign-in', `${srv.authUrl}/sign-in/email`, { method: 'POST', headers: { Origin: APP_ORIGIN }, body: { email: known.email, password: PASSWORD } }));
    }
    for (let i = 0; i < 50; i++) {
      work.push(timed('get-session', `${srv.authUrl}/get-session`, { headers: { Cookie: `${COOKIE}=${known.cookie}` } }));
    }
    assert.equal(work.length, 100);
    const started = Date.now();
    await sleep(500);
    srv.proc.kill('SIGTERM');
    await sleep(200);
    const refused = await new Promise((resolve) => {
      const s = net.connect(srv.port, '127.0.0.1');
      s.on('connect', () => { s.destroy(); resolve('connected'); });
      s.on('error', (e) => resolve(e.code));
    });
    const results = await Promise.all(work);
    const doneAfter = (Date.now() - started) / 1000;
    exit = await Promise.race([srv.exited, sleep(15_000).then(() => 'timeout')]);
    const statuses = {};
    for (const r of results) statuses[`${r.name} ${r.status}`] = (statuses[`${r.name} ${r.status}`] ?? 0) + 1;
    assert.ok(results.every((r) => r.status >= 200 && r.status < 300),
      `${JSON.stringify(statuses)}; answered within ${Math.max(...results.map((r) => r.ms)).toFixed(0)} ms; exit ${JSON.stringify(exit)}`);
    assert.equal(refused, 'ECONNREFUSED', 'a new connection after SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null }, srv.output().slice(-2000));
    const { rows: [c] } = await db.query(
      `SELECT (SELECT count(*) FROM neon_auth."user" WHERE email LIKE $1)::int AS users,
              (SELECT count(*) FROM neon_auth.account a JOIN neon_auth."user" u ON u.id = a."userId" WHERE u.email LIKE $1)::int AS accounts`,
      [`${tag}-%`]);
    const signedUp = results.filter((r) => r.name === 'sign-up' && r.status === 200).length;
    assert.deepEqual(c, { users: signedUp, accounts: signedUp });
    console.log(`RF-03: ${JSON.stringify(statuses)}; all answered ${doneAfter.toFixed(1)} s after the start; exit ${JSON.stringify(exit)}`);
  } finally {
    if (!exit) await srv.terminate();
  }
});

// ------------------------------------------------------------------------------------------------ RF-04

/** Runs `total` jobs with at most `concurrency` in flight; returns their results in order. */
async function pool(total, concurrency, job) {
  const out = new Array(total);
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const i = next++;
      out[i] = await job(i);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

test('RF-04: 1000 concurrent sign-ups (50 clients) -> 1000 x 200, exactly 1000 users, accounts and sessions; a sample signs in', async () => {
  const srv = await spawn(database.databaseUrl, { PGWARDEN_LOG_LEVEL: 'warn' });
  try {
    const tag = uniqueEmail('rf04').split('@')[0];
    const t0 = Date.now();
    // 50 clients, each sending its next sign-up as soon as the last is answered (k6's virtual users): the
    // hashing queue (256) is never the limit, and no request waits in it longer than the server's request
    // timeout even when the machine is busy.
    const results = await pool(1000, 50, (i) => timed('sign-up', `${srv.authUrl}/sign-up/email`, {
      method: 'POST', headers: { Origin: APP_ORIGIN }, body: { name: 'L', email: `${tag}-${i}@example.com`, password: PASSWORD },
    }));
    const seconds = (Date.now() - t0) / 1000;
    const statuses = {};
    for (const r of results) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    assert.deepEqual(statuses, { 200: 1000 }, results.filter((r) => r.status !== 200).slice(0, 5).map((r) => `${r.status} ${r.text}`).join('\n'));
    assert.equal(new Set(results.map((r) => r.json.user.id)).size, 1000);
    const { rows: [c] } = await db.query(
      `SELECT (SELECT count(*) FROM neon_auth."user" WHERE email LIKE $1)::int AS users,
              (SELECT count(*) FROM neon_auth.account a JOIN neon_auth."user" u ON u.id = a."userId"
                WHERE u.email LIKE $1 AND a."providerId" = 'credential')::int AS accounts,
              (SELECT count(*) FROM neon_auth.session s JOIN neon_auth."user" u ON u.id = s."userId" WHERE u.email LIKE $1)::int AS sessions`,
      [`${tag}-%`]);
    assert.deepEqual(c, { users: 1000, accounts: 1000, sessions: 1000 });
    for (const i of [0, 333, 999]) {
      const r = await post(srv, '/sign-in/email', { email: `${tag}-${i}@example.com`, password: PASSWORD });
      assert.equal(r.status, 200, r.text);
    }
    console.log(`RF-04: 1000 sign-ups in ${seconds.toFixed(1)} s (${(1000 / seconds).toFixed(0)}/s), p50 ${percentile(results.map((r) => r.ms), 50).toFixed(0)} ms, p99 ${percentile(results.map((r) => r.ms), 99).toFixed(0)} ms`);
  } finally {
    assertCleanExit(await srv.terminate(), srv.output());
  }
});

test('RF-04: sign-ups while the database connections are cut again and again: every 200 has its user and account, no user without account, no 500', async () => {
  const { proxy, url } = await proxyFor(database.databaseUrl);
  const srv = await spawn(url, { PGWARDEN_LOG_LEVEL: 'error' });
  let flapping = true;
  try {
    const tag = uniqueEmail('rf04f').split('@')[0];
    // Every 0.3-0.7 s every open connection is reset (RST), queries in flight included; new connections work at
    // once again, so the pools reconnect without backing off and the sign-ups keep running into cuts.
    let cuts = 0;
    const flapper = (async () => {
      while (flapping) {
        await sleep(300 + Math.random() * 400);
        proxy.cut();
        proxy.restore();
        cuts++;
      }
    })();
    const results = await pool(100, 30, (i) => timed('sign-up', `${srv.authUrl}/sign-up/email`, {
      method: 'POST', headers: { Origin: APP_ORIGIN }, body: { name: 'F', email: `${tag}-${i}@example.com`, password: PASSWORD },
    }));
    flapping = false;
    await flapper;
    const statuses = {};
    for (const r of results) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    assert.ok(Object.keys(statuses).every((s) => s === '200' || s === '503'), JSON.stringify(statuses));
    for (const r of results.filter((x) => x.status === 503)) assertFailedClosed({ ...r, name: 'sign-up' });
    const ok = results.filter((r) => r.status === 200).map((r) => r.json.user.email);
    const { rows } = await db.query(
      `SELECT u.email, count(a.id)::int AS accounts, count(s.id)::int AS sessions
         FROM neon_auth."user" u
         LEFT JOIN neon_auth.account a ON a."userId" = u.id AND a."providerId" = 'credential'
         LEFT JOIN neon_auth.session s ON s."userId" = u.id
        WHERE u.email LIKE $1 GROUP BY u.email`, [`${tag}-%`]);
    const stored = new Map(rows.map((r) => [r.email, r]));
    for (const email of ok) assert.ok(stored.has(email), `acknowledged sign-up lost: ${email}`);
    for (const r of rows) assert.deepEqual({ accounts: r.accounts, sessions: r.sessions }, { accounts: 1, sessions: 1 }, `partial sign-up ${r.email}`);
    assert.ok(ok.length > 0, `some sign-ups succeed between the cuts: ${JSON.stringify(statuses)}`);
    console.log(`RF-04 fault: ${cuts} cuts; ${JSON.stringify(statuses)}; ${rows.length} users stored (${rows.length - ok.length} committed but answered 503), every one with its account and session`);
  } finally {
    flapping = false;
    proxy.restore();
    assertCleanExit(await srv.terminate(), srv.output());
    await proxy.close();
  }
});

// ------------------------------------------------------------------------------------------------ RF-05

test('RF-05: 50 concurrent sign-ups for one address in case variants -> one user, one 200, 49 x 422 USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL', async () => {
  const srv = await spawn(database.databaseUrl);
  try {
    const email = uniqueEmail('rf05');
    const [local, domain] = email.split('@');
    const variant = (i) => [email, email.toUpperCase(), `${local.toUpperCase()}@${domain}`, `${local}@${domain.toUpperCase()}`,
      `${local[0].toUpperCase()}${local.slice(1)}@${domain}`][i % 5];
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => post(srv, '/sign-up/email', { name: 'R', email: variant(i), password: PASSWORD })));
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, ...Array(49).fill(422)], results.map((r) => `${r.status} ${r.text.slice(0, 100)}`).join('\n'));
    for (const r of results.filter((x) => x.status === 422)) assert.equal(r.json.code, 'USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL');
    const { rows: [c] } = await db.query(
      `SELECT (SELECT count(*) FROM neon_auth."user" WHERE lower(email) = $1)::int AS users,
              (SELECT count(*) FROM neon_auth.account a JOIN neon_auth."user" u ON u.id = a."userId" WHERE lower(u.email) = $1)::int AS accounts`,
      [email]);
    assert.deepEqual(c, { users: 1, accounts: 1 });
  } finally {
    assertCleanExit(await srv.terminate(), srv.output());
  }
});

test('RF-05: the same race with e-mail verification required -> 50 enumeration-safe 200s, one user', async () => {
  const srv = await spawn(database.databaseUrl, { PGWARDEN_REQUIRE_EMAIL_VERIFICATION: 'true' });
  try {
    const email = uniqueEmail('rf05v');
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => post(srv, '/sign-up/email', { name: 'R', email: i % 2 ? email.toUpperCase() : email, password: PASSWORD })));
    assert.deepEqual([...new Set(results.map((r) => r.status))], [200], results.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.text}`).join('\n'));
    for (const r of results) {
      assert.equal(r.json.token, null);
      assert.equal(r.json.user.email, email);
    }
    const { rows: [c] } = await db.query(`SELECT count(*)::int AS users FROM neon_auth."user" WHERE lower(email) = $1`, [email]);
    assert.equal(c.users, 1);
  } finally {
    assertCleanExit(await srv.terminate(), srv.output());
  }
});

// ------------------------------------------------------------------------------------------------ RF-06

test('RF-06: an SMTP server that never answers does not hold up sign-up; once it is back, send-verification-email delivers', async () => {
  const mailbox = await startMailbox();
  const smtp = await TcpProxy.start({ host: '127.0.0.1', port: mailbox.port });
  smtp.blackhole();
  const srv = await spawn(database.databaseUrl, {
    PGWARDEN_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, PGWARDEN_SEND_VERIFICATION_ON_SIGN_UP: 'true',
  });
  try {
    const email = uniqueEmail('rf06');
    const t0 = performance.now();
    const up = await post(srv, '/sign-up/email', { name: 'M', email, password: PASSWORD });
    const ms = performance.now() - t0;
    assert.equal(up.status, 200, up.text);
    assert.ok(ms < 2000, `sign-up took ${ms.toFixed(0)} ms with the SMTP server hanging`);
    smtp.restore();
    const again = await post(srv, '/send-verification-email', { email });
    assert.equal(again.status, 200, again.text);
    const msg = await mailbox.waitFor((m) => m.to.includes(email), 30_000);
    assert.ok(msg.links.length > 0);
  } finally {
    assertCleanExit(await srv.terminate(), srv.output());
    await smtp.close();
    await mailbox.stop();
  }
});

test('RF-06: a Data API statement over statement_timeout is cancelled in the database and answered in time', async () => {
  const srv = await spawn(database.databaseUrl, { PGWARDEN_DATA_API_STATEMENT_TIMEOUT_MS: '1000' });
  try {
    const r = await timed('rpc', `${srv.restUrl}/rpc/sleepy`, { method: 'POST', body: { seconds: 30 } });
    assert.ok(r.ms < 3000, `answered after ${r.ms.toFixed(0)} ms`);
    assert.equal(r.json?.code, '57014', r.text);
    assert.ok(r.status >= 500, r.text);
    const { rows } = await db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%pg_sleep(seconds)%' AND state = 'active' AND pid <> pg_backend_pid()`);
    assert.equal(rows[0].n, 0, 'the statement still runs in the database');
  } finally {
    assertCleanExit(await srv.terminate(), srv.output());
  }
});

// ------------------------------------------------------------------------------------------------ RF-07

test('RF-07: a wrong-password sign-in flood (200/s) leaves get-session fast and /health/live up; queue overflow is 503; SIGTERM with a full hashing queue still exits 0', async (t) => {
  const srv = await spawn(database.databaseUrl, { PGWARDEN_LOG_LEVEL: 'error' });
  let exit;
  try {
    const user = await newUser(srv, 'rf07');
    const getSession = () => timed('get-session', `${srv.authUrl}/get-session`, { headers: { Cookie: `${COOKIE}=${user.cookie}` } });
    // The same measurement without the flood first: how noisy the machine is right now.
    const baseline = [];
    for (const start = Date.now(); Date.now() - start < 1500;) { baseline.push(await getSession()); await sleep(5); }
    const flood = [];
    const settled = [];
    const floodMs = 3000;
    const t0 = Date.now();
    const sender = (async () => {
      let sent = 0;
      while (Date.now() - t0 < floodMs) {
        const due = Math.floor(((Date.now() - t0) / 1000) * 200);
        for (; sent < due; sent++) {
          const p = timed('sign-in', `${srv.authUrl}/sign-in/email`, { method: 'POST', headers: { Origin: APP_ORIGIN }, body: { email: user.email, password: 'wrong-password-1' } });
          flood.push(p.then((r) => { settled.push(r); return r; }));
        }
        await sleep(5);
      }
    })();
    await sleep(1000);  // the hashing queue fills
    const cheap = [];
    while (Date.now() - t0 < floodMs) {
      cheap.push(await getSession());
      await sleep(5);
    }
    await sender;
    const live = await raw(`${srv.base}/health/live`);
    await sleep(1000);
    // What has been answered by now: the overflow (immediate 503s) and the hashes done so far; the rest is queued.
    const statuses = {};
    for (const r of settled) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    const queued = flood.length - settled.length;
    assert.equal(live.status, 200);
    assert.ok(cheap.every((r) => r.status === 200), cheap.filter((r) => r.status !== 200).map((r) => r.status).join(','));
    assert.ok(Object.keys(statuses).every((k) => k === '401' || k === '503'), JSON.stringify(statuses));
    assert.ok((statuses['503'] ?? 0) > 0, `the queue limit was reached: ${JSON.stringify(statuses)}`);
    for (const r of settled.filter((x) => x.status === 503)) {
      assert.match(String(r.headers['retry-after']), /^[1-9][0-9]*$/);
      assert.equal(r.json?.code, 'SERVICE_UNAVAILABLE');
    }
    const rssMb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${srv.proc.pid}/status`, 'utf8'))[1]) / 1024;

    // SIGTERM with the hashing queue still full: the drain waits for it up to its deadline, then the process
    // exits 0 without computing the rest.
    const stopAt = Date.now();
    srv.proc.kill('SIGTERM');
    exit = await Promise.race([srv.exited, sleep(35_000).then(() => 'timeout')]);
    const stopS = (Date.now() - stopAt) / 1000;
    assert.deepEqual(exit, { code: 0, signal: null }, srv.output().slice(-2000));
    assert.ok(stopS < 25, `exit ${stopS.toFixed(1)} s after SIGTERM`);
    await Promise.all(flood);

    const p50 = percentile(cheap.map((r) => r.ms), 50);
    const p99 = percentile(cheap.map((r) => r.ms), 99);
    console.log(`RF-07: ${flood.length} sign-ins, answered within 1 s of the flood ${JSON.stringify(statuses)}, ${queued} still queued; ` +
      `get-session during the flood (${cheap.length}): p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms ` +
      `(without: p50 ${percentile(baseline.map((r) => r.ms), 50).toFixed(1)} ms, p99 ${percentile(baseline.map((r) => r.ms), 99).toFixed(1)} ms); RSS ${rssMb.toFixed(1)} MB; ` +
      `exit 0 ${stopS.toFixed(1)} s after SIGTERM; load ${os.loadavg()[0].toFixed(1)}`);
    // The latency bound is only meaningful on a machine quiet enough to meet it without the flood: on a shared
    // host whose other jobs already push get-session's p99 past 25 ms, it is reported, not asserted.
    const baseP99 = percentile(baseline.map((r) => r.ms), 99);
    if (baseP99 < 25) {
      assert.ok(p99 < 50, `get-session p99 ${p99.toFixed(1)} ms during the flood (${baseP99.toFixed(1)} ms without; load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores)`);
    } else {
      t.diagnostic(`latency bound not checked: get-session p99 is ${baseP99.toFixed(1)} ms even without the flood (load average ${os.loadavg()[0].toFixed(1)})`);
    }
  } finally {
    if (!exit) await srv.terminate();
  }
});
