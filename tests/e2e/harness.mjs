// Test harness for the end-to-end suite: one pgwarden process + one fresh database per startServer().
//
// Environment (set by scripts/test.sh):
//   PGWARDEN_BIN      the pgwarden binary (default: ../../build/release/pgwarden)
//   PGWARDEN_TEST_PG  libpq key=value conninfo of a superuser connection to a throwaway cluster
//
// Exports:
//   startServer({env})    -> {baseUrl, authUrl, secret, port, db (pg.Pool), stderr(), stop()}; stop() asserts
//                            exit 0 within 5 s of SIGTERM and drops the database
//   createDatabase(), spawnServer({databaseUrl, secret, env}), assertCleanExit(): the pieces of startServer
//   showServerOutputOnFailure(() => srv): prints the server log of a failing test
//   raw(url, opts)         -> exact HTTP exchange via node:http (headers in wire order, no implicit
//                            Sec-Fetch-* / Origin headers as Node's fetch adds)
//   CookieJar / jarFetch   -> a browser stand-in for the SDKs (cookies + Origin: http://localhost:3000)
//   installGlobalFetch / withGlobalFetch: swap globalThis.fetch (the Neon SDK calls it at request time)
//   helpers: post, get, signUp, signIn, signCookie, cookieValue, header, uniqueEmail
import { spawn } from 'node:child_process';
import { beforeEach, afterEach } from 'node:test';
import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import pg from 'pg';

const here = path.dirname(fileURLToPath(import.meta.url));
export const BIN = process.env.PGWARDEN_BIN || path.resolve(here, '../../build/release/pgwarden');
export const APP_ORIGIN = 'http://localhost:3000';
export const COOKIE = '__Secure-neon-auth.session_token';
export const PASSWORD = 'correct-horse-battery';

// ---------------------------------------------------------------- libpq conninfo

/** Parses a libpq key=value conninfo (values may be single-quoted with backslash escapes). */
export function parseConninfo(s) {
  const out = {};
  let i = 0;
  const ws = () => { while (i < s.length && /\s/.test(s[i])) i++; };
  while (true) {
    ws();
    if (i >= s.length) break;
    let key = '';
    while (i < s.length && s[i] !== '=' && !/\s/.test(s[i])) key += s[i++];
    ws();
    if (s[i] !== '=') throw new Error(`bad conninfo near "${key}": ${s}`);
    i++;
    ws();
    let val = '';
    if (s[i] === "'") {
      i++;
      while (i < s.length && s[i] !== "'") {
        if (s[i] === '\\') i++;
        val += s[i++];
      }
      i++;
    } else {
      while (i < s.length && !/\s/.test(s[i])) {
        if (s[i] === '\\') i++;
        val += s[i++];
      }
    }
    out[key] = val;
  }
  return out;
}

function formatConninfo(obj) {
  return Object.entries(obj)
    .map(([k, v]) => `${k}='${String(v).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`)
    .join(' ');
}

function pgConfig(ci, database) {
  return {
    host: ci.host || ci.hostaddr || 'localhost',
    port: ci.port ? Number(ci.port) : 5432,
    user: ci.user || 'postgres',
    password: ci.password,
    database,
  };
}

function testConninfo() {
  const s = process.env.PGWARDEN_TEST_PG;
  if (!s) throw new Error('PGWARDEN_TEST_PG is not set (start a cluster: pgwarden cluster start /tmp/e2e-pg postgres)');
  return parseConninfo(s);
}

// ---------------------------------------------------------------- server lifecycle

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Spawns `pgwarden serve` against `databaseUrl` on a free port and waits until /health/live answers.
 * Returns {proc, port, output(), exited (promise of {code, signal}), terminate()}; terminate() sends
 * SIGTERM and resolves to {code, signal} or 'timeout' (then the process is killed) after 5 s.
 */
export async function spawnServer({ databaseUrl, secret, env = {} }) {
  let lastOutput = '';
  let lastExit = null;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    let output = '';
    let exit = null;
    const proc = spawn(BIN, ['serve'], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        DATABASE_URL: databaseUrl,
        PGWARDEN_SECRET: secret,
        PGWARDEN_LISTEN: `127.0.0.1:${port}`,
        PGWARDEN_BASE_URL: `http://localhost:${port}`,
        PGWARDEN_DB_NAME: 'neondb',
        PGWARDEN_THREADS: '2',
        // The suites sign in far faster than Better Auth's per-IP limits allow; the rate-limit tests turn it on.
        PGWARDEN_RATE_LIMIT: 'off',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise((resolve) => proc.on('exit', (code, signal) => { exit = { code, signal }; resolve(exit); }));
    proc.stdout.on('data', (d) => { output += d; });
    proc.stderr.on('data', (d) => { output += d; });
    const deadline = Date.now() + 20_000;
    let up = false;
    while (Date.now() < deadline && !exit) {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/health/live`);
        if (r.status === 200) { up = true; break; }
      } catch { /* not listening yet */ }
      await sleep(25);
    }
    if (up) {
      return {
        proc,
        port,
        exited,
        output: () => output,
        async terminate() {
          if (!exit) proc.kill('SIGTERM');
          let timer;
          const res = await Promise.race([exited, new Promise((r) => { timer = setTimeout(() => r('timeout'), 5000); })]);
          clearTimeout(timer);
          if (res === 'timeout') { proc.kill('SIGKILL'); await exited; }
          return res;
        },
      };
    }
    if (!exit) { proc.kill('SIGKILL'); await exited; }
    lastOutput = output;
    lastExit = exit;
    if (!/listen_failed/.test(output)) break;  // only a port race is worth a retry
  }
  throw new Error(`pgwarden did not start (exit ${JSON.stringify(lastExit)}):\n${lastOutput}`);
}

/** Creates a fresh database in the test cluster; returns {dbName, databaseUrl, pgConfig, drop()}. */
export async function createDatabase() {
  const ci = testConninfo();
  const dbName = `e2e_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client(pgConfig(ci, ci.dbname || 'postgres'));
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${dbName}"`);
  } finally {
    await admin.end();
  }
  return {
    dbName,
    databaseUrl: formatConninfo({ ...ci, dbname: dbName }),
    pgConfig: pgConfig(ci, dbName),
    drop: () => dropDatabase(ci, dbName),
  };
}

export function newSecret() {
  return `e2e-${randomBytes(24).toString('hex')}`;
}

/** Asserts what a SIGTERM'd pgwarden must do: exit 0 within 5 s. */
export function assertCleanExit(res, output) {
  assert.notEqual(res, 'timeout', `pgwarden did not exit within 5 s of SIGTERM\n${output.slice(-4000)}`);
  assert.deepEqual(res, { code: 0, signal: null }, `pgwarden exit after SIGTERM\n${output.slice(-4000)}`);
}

/**
 * Creates a fresh database, spawns `pgwarden serve` on it and waits until /health/live answers.
 * stop() sends SIGTERM, asserts exit code 0 within 5 s, closes `db` and drops the database.
 */
export async function startServer({ env = {} } = {}) {
  const database = await createDatabase();
  const secret = newSecret();
  let server;
  try {
    server = await spawnServer({ databaseUrl: database.databaseUrl, secret, env });
  } catch (e) {
    await database.drop();
    throw e;
  }
  const baseUrl = `http://localhost:${server.port}`;
  const db = new pg.Pool({ ...database.pgConfig, max: 3 });
  let stopped = false;
  return {
    port: server.port,
    baseUrl,
    authUrl: `${baseUrl}/neondb/auth`,
    secret,
    db,
    dbName: database.dbName,
    databaseUrl: database.databaseUrl,
    proc: server.proc,
    stderr: server.output,
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        assertCleanExit(await server.terminate(), server.output());
      } finally {
        await db.end().catch(() => {});
        await database.drop();
      }
    },
  };
}

async function dropDatabase(ci, dbName) {
  const admin = new pg.Client(pgConfig(ci, ci.dbname || 'postgres'));
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

// ---------------------------------------------------------------- raw HTTP

/**
 * One HTTP exchange with full control over the headers (node:http adds only Host, Content-Length and
 * Connection). `body` may be a string/Buffer, or an object (sent as JSON with Content-Type
 * application/json unless a content-type header is given). Resolves to
 * {status, headers (lower-cased, multi-valued joined by ', '), rawHeaders [[name, value]...] in wire
 * order, setCookies [...], text, json (parsed or undefined)}.
 */
export function raw(url, { method = 'GET', headers = {}, body } = {}) {
  const u = new URL(url);
  let payload;
  const hdrs = { ...headers };
  if (body !== undefined) {
    if (typeof body === 'string' || Buffer.isBuffer(body)) {
      payload = body;
    } else {
      payload = JSON.stringify(body);
      if (!Object.keys(hdrs).some((k) => k.toLowerCase() === 'content-type')) hdrs['Content-Type'] = 'application/json';
    }
  }
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: u.port, path: u.pathname + u.search, method, headers: { Host: u.host, ...hdrs }, agent: false },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const rawHeaders = [];
          for (let i = 0; i < res.rawHeaders.length; i += 2) rawHeaders.push([res.rawHeaders[i], res.rawHeaders[i + 1]]);
          const setCookies = rawHeaders.filter(([k]) => k.toLowerCase() === 'set-cookie').map(([, v]) => v);
          let json;
          try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
          resolve({ status: res.statusCode, headers: res.headers, rawHeaders, setCookies, text, json });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (payload !== undefined) req.end(payload); else req.end();
  });
}

// ---------------------------------------------------------------- cookies

/** Better Auth's signed cookie value: encodeURIComponent(token + "." + base64(HMAC-SHA256(secret, token))). */
export function signCookie(secret, token) {
  const sig = createHmac('sha256', Buffer.from(secret, 'utf8')).update(token).digest('base64');
  return encodeURIComponent(`${token}.${sig}`);
}

/** The value of cookie `name` in a list of Set-Cookie strings (undefined if absent). */
export function cookieValue(setCookies, name = COOKIE) {
  for (const sc of setCookies) {
    const first = sc.split(';')[0];
    const eq = first.indexOf('=');
    if (first.slice(0, eq) === name) return first.slice(eq + 1);
  }
  return undefined;
}

/** A minimal browser cookie store: one value per cookie name, Max-Age=0 / past Expires deletes. */
export class CookieJar {
  constructor() { this.cookies = new Map(); }
  store(setCookies) {
    for (const sc of setCookies) {
      const parts = sc.split(';').map((p) => p.trim());
      const eq = parts[0].indexOf('=');
      const name = parts[0].slice(0, eq);
      const value = parts[0].slice(eq + 1);
      let expired = false;
      for (const attr of parts.slice(1)) {
        const [k, v = ''] = attr.split('=');
        if (k.toLowerCase() === 'max-age' && Number(v) <= 0) expired = true;
        if (k.toLowerCase() === 'expires' && Date.parse(v) <= Date.now()) expired = true;
      }
      if (expired) this.cookies.delete(name); else this.cookies.set(name, value);
    }
  }
  header() { return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '); }
  get(name = COOKIE) { return this.cookies.get(name); }
  clear() { this.cookies.clear(); }
}

/**
 * A fetch that behaves like a browser page on http://localhost:3000 talking to the auth server with
 * credentials: sends the jar's cookies and Origin, stores Set-Cookie. `log` records every request.
 */
export function jarFetch(jar = new CookieJar(), { origin = APP_ORIGIN, realFetch = globalThis.fetch } = {}) {
  const log = [];
  const f = async (input, init = {}) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.toString() : input.url;
    const method = init.method || (typeof input === 'object' && input.method) || 'GET';
    const headers = new Headers(init.headers || (typeof input === 'object' && !(input instanceof URL) ? input.headers : undefined));
    const cookie = jar.header();
    if (cookie) headers.set('cookie', cookie); else headers.delete('cookie');
    if (origin) headers.set('origin', origin);
    const res = await realFetch(url, { ...init, method, headers, redirect: 'manual' });
    jar.store(res.headers.getSetCookie());
    log.push({
      method,
      url,
      path: new URL(url).pathname,
      status: res.status,
      requestHeaders: Object.fromEntries(headers),
      responseHeaders: res.headers,
      setCookies: res.headers.getSetCookie(),
      text: res.clone().text(),  // a promise: await it when needed
    });
    return res;
  };
  f.jar = jar;
  f.log = log;
  return f;
}

/** Runs `fn` with globalThis.fetch replaced (the Neon SDK calls the global fetch at request time). */
export async function withGlobalFetch(fetchImpl, fn) {
  const saved = globalThis.fetch;
  globalThis.fetch = fetchImpl;
  try {
    return await fn();
  } finally {
    globalThis.fetch = saved;
  }
}

/** Installs `fetchImpl` as globalThis.fetch until the returned restore() is called. */
export function installGlobalFetch(fetchImpl) {
  const saved = globalThis.fetch;
  globalThis.fetch = fetchImpl;
  return () => { globalThis.fetch = saved; };
}

// ---------------------------------------------------------------- small API helpers

let counter = 0;
export function uniqueEmail(tag = 'user') {
  return `${tag}-${process.pid}-${Date.now().toString(36)}-${++counter}@example.com`;
}

/** POST JSON with the app Origin (raw HTTP). */
export function post(srv, p, body, headers = {}) {
  return raw(`${srv.authUrl}${p}`, { method: 'POST', headers: { Origin: APP_ORIGIN, ...headers }, body });
}

/** GET with optional cookie value (raw HTTP). */
export function get(srv, p, { cookie, headers = {} } = {}) {
  const h = { ...headers };
  if (cookie) h.Cookie = `${COOKIE}=${cookie}`;
  return raw(`${srv.authUrl}${p}`, { headers: h });
}

/** Signs up a fresh user; returns {email, password, name, token, cookie (encoded value), user, res}. */
export async function signUp(srv, { email = uniqueEmail(), password = PASSWORD, name = 'E2E User', extra = {} } = {}) {
  const res = await post(srv, '/sign-up/email', { name, email, password, ...extra });
  assert.equal(res.status, 200, `sign-up failed: ${res.status} ${res.text}\n${srv.stderr().slice(-2000)}`);
  return { email, password, name, token: res.json.token, user: res.json.user, cookie: cookieValue(res.setCookies), res };
}

/** Signs in; returns {token, cookie, user, res}. */
export async function signIn(srv, email, password = PASSWORD, extra = {}) {
  const res = await post(srv, '/sign-in/email', { email, password, ...extra });
  assert.equal(res.status, 200, `sign-in failed: ${res.status} ${res.text}`);
  return { token: res.json.token, user: res.json.user, cookie: cookieValue(res.setCookies), res };
}

/** Header `name` of a raw response (lower-cased lookup). */
export function header(res, name) {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v.join(', ') : v;
}

export const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
export const EXPIRED_COOKIES = [
  '__Secure-neon-auth.session_token=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Lax',
  '__Secure-neon-auth.session_data=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Lax',
  '__Secure-neon-auth.dont_remember=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Lax',
];

/**
 * Registers hooks that print what the server logged during a test when that test fails.
 * `getServers` returns the servers of the file (or a single one); call at module level.
 */
export function showServerOutputOnFailure(getServers) {
  const marks = new Map();
  const list = () => [getServers()].flat().filter(Boolean);
  beforeEach(() => { for (const s of list()) marks.set(s, s.stderr().length); });
  afterEach((t) => {
    if (t.passed !== false) return;
    for (const s of list()) {
      const out = s.stderr().slice(marks.get(s) ?? 0).trimEnd();
      const lines = out ? out.split('\n').slice(-40) : ['(nothing)'];
      console.log(`pgwarden output during "${t.name}" (${s.baseUrl}):\n${lines.map((l) => `  | ${l}`).join('\n')}`);
    }
  });
}
