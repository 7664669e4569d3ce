// Shared harness of the interop and differential tests against the real Better Auth 1.6.23 oracle.
//
//   startOracle()        scripts/oracle.sh start (idempotent; copies the oracle to build/oracle, npm-installs it
//                        once, starts its Postgres and its HTTP server) -> {url, pg, secret, dir}
//   startPgwarden(opts)  `pgwarden serve` on a given database, own port -> {url, authUrl, port, stop(), log()}
//   createDatabase / dropDatabase   throwaway databases in the PGWARDEN_TEST_PG cluster
//   request(url, opts)   one exact HTTP exchange with node:http (no implicit Origin / Sec-Fetch-* headers)
//   Jar                  cookie jar (one value per name; Max-Age<=0 deletes)
//   pg, jose             the packages of tests/e2e/node_modules (this folder has no package.json)
//
// Environment: PGWARDEN_SHARED (default ../shared next to the repo), PGWARDEN_BIN (default
// build/release/pgwarden), PGWARDEN_TEST_PG (libpq conninfo of a throwaway superuser cluster).
//
// The oracle is left running after the tests (scripts/oracle.sh is idempotent, so the next file or run reuses
// it); stop it with `scripts/oracle.sh stop`.
import { execFile, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '../..');
export const SHARED = path.resolve(process.env.PGWARDEN_SHARED || path.join(ROOT, '..', 'shared'));
export const ORACLE_SRC = path.join(SHARED, 'oracle', 'better-auth');
export const ORACLE_DIR = path.join(ROOT, 'build', 'oracle');
export const BIN = process.env.PGWARDEN_BIN || path.join(ROOT, 'build', 'release', 'pgwarden');
export const APP_ORIGIN = 'http://localhost:3000'; // trusted by the oracle (and by our pgwarden instances)
export const COOKIE = '__Secure-neon-auth.session_token';

// ---------------------------------------------------------------- packages of tests/e2e/node_modules
const e2eRequire = createRequire(path.join(ROOT, 'tests', 'e2e', 'package.json'));
export const pg = e2eRequire('pg');
export const jose = await import(pathToFileURL(e2eRequire.resolve('jose')).href);

/** Why the oracle tests cannot run here, or null. */
export function oracleUnavailable() {
  if (!fs.existsSync(path.join(ORACLE_SRC, 'record.mjs')))
    return `Better Auth oracle not found at ${ORACLE_SRC} (set PGWARDEN_SHARED to the shared folder): interop/differential tests skipped`;
  if (!fs.existsSync(BIN)) return `pgwarden binary not found at ${BIN} (set PGWARDEN_BIN or build it)`;
  return null;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- oracle
let oracleInfo;
/** Starts (or reuses) the oracle via scripts/oracle.sh; resolves to {url, pg, secret, dir}. */
export async function startOracle() {
  if (oracleInfo) return oracleInfo;
  const out = await new Promise((resolve, reject) => {
    execFile(path.join(ROOT, 'scripts', 'oracle.sh'), ['start'], {
      cwd: ROOT, env: { ...process.env, PGWARDEN_SHARED: SHARED }, timeout: 600_000, maxBuffer: 16 << 20,
    }, (err, stdout, stderr) => {
      if (err) reject(new Error(`scripts/oracle.sh start failed: ${err.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
  const v = {};
  for (const line of out.split('\n')) {
    const m = /^(ORACLE_[A-Z]+)=(.*)$/.exec(line.trim());
    if (m) v[m[1]] = m[2].replace(/^'(.*)'$/, '$1');
  }
  if (!v.ORACLE_URL || !v.ORACLE_PG || !v.ORACLE_SECRET) throw new Error(`unexpected oracle.sh output:\n${out}`);
  oracleInfo = { url: v.ORACLE_URL, pg: v.ORACLE_PG, secret: v.ORACLE_SECRET, dir: ORACLE_DIR };
  return oracleInfo;
}

// ---------------------------------------------------------------- libpq conninfo / databases
/** Parses a libpq key=value conninfo (values may be single-quoted with backslash escapes). */
export function parseConninfo(s) {
  const out = {};
  let i = 0;
  const ws = () => { while (i < s.length && /\s/.test(s[i])) i++; };
  for (;;) {
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
      while (i < s.length && s[i] !== "'") { if (s[i] === '\\') i++; val += s[i++]; }
      i++;
    } else {
      while (i < s.length && !/\s/.test(s[i])) { if (s[i] === '\\') i++; val += s[i++]; }
    }
    out[key] = val;
  }
  return out;
}

export function formatConninfo(obj) {
  return Object.entries(obj).map(([k, v]) => `${k}='${String(v).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`).join(' ');
}

/** node-postgres client config for a conninfo object (search_path optional). */
export function pgConfig(ci, { database, searchPath } = {}) {
  return {
    host: ci.host || ci.hostaddr || 'localhost',
    port: ci.port ? Number(ci.port) : 5432,
    user: ci.user || 'postgres',
    password: ci.password || undefined,
    database: database || ci.dbname || 'postgres',
    ...(searchPath ? { options: `-c search_path=${searchPath}` } : {}),
  };
}

/** The throwaway cluster of the test run, or null. */
export function testCluster() {
  const s = process.env.PGWARDEN_TEST_PG;
  return s ? parseConninfo(s) : null;
}

export async function createDatabase(ci, name) {
  const c = new pg.Client(pgConfig(ci));
  await c.connect();
  try { await c.query(`CREATE DATABASE "${name}"`); } finally { await c.end(); }
  return { ...ci, dbname: name };
}

export async function dropDatabase(ci, name) {
  const c = new pg.Client(pgConfig(ci));
  await c.connect();
  try { await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`); } finally { await c.end(); }
}

// ---------------------------------------------------------------- pgwarden
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

/**
 * Spawns `pgwarden serve` (DATABASE_URL = databaseUrl) on a free port and waits for /health/live.
 * Resolves to {url, authUrl, authPath, port, log(), stop()}; stop() sends SIGTERM (SIGKILL after 5 s).
 */
export async function startPgwarden({ databaseUrl, secret, baseUrl, trustedOrigins = APP_ORIGIN, env = {} }) {
  let lastErr = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    let log = '';
    let exit = null;
    const proc = spawn(BIN, ['serve'], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        DATABASE_URL: databaseUrl,
        PGWARDEN_SECRET: secret,
        PGWARDEN_LISTEN: `127.0.0.1:${port}`,
        PGWARDEN_BASE_URL: baseUrl,
        PGWARDEN_DB_NAME: 'neondb',
        PGWARDEN_TRUSTED_ORIGINS: trustedOrigins,
        // The oracle trusts its baseURL and http://localhost:3000 only; pgwarden's default also trusts any localhost.
        PGWARDEN_TRUST_LOCALHOST: 'false',
        PGWARDEN_THREADS: '2',
        PGWARDEN_RATE_LIMIT: 'off',  // the differential test turns limits on, like the oracle (production)
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise((resolve) => proc.on('exit', (code, signal) => { exit = { code, signal }; resolve(exit); }));
    proc.stdout.on('data', (d) => { log += d; });
    proc.stderr.on('data', (d) => { log += d; });
    const deadline = Date.now() + 20_000;
    let up = false;
    while (Date.now() < deadline && !exit) {
      try {
        const r = await request(`http://127.0.0.1:${port}/health/live`);
        if (r.status === 200) { up = true; break; }
      } catch { /* not listening yet */ }
      await sleep(50);
    }
    if (up) {
      const url = `http://127.0.0.1:${port}`;
      let stopped = false;
      return {
        port, url, authPath: '/neondb/auth', authUrl: `${url}/neondb/auth`,
        log: () => log,
        async stop() {
          if (stopped) return exit;
          stopped = true;
          if (!exit) proc.kill('SIGTERM');
          const r = await Promise.race([exited, sleep(5000).then(() => 'timeout')]);
          if (r === 'timeout') { proc.kill('SIGKILL'); await exited; }
          return exit;
        },
      };
    }
    if (!exit) { proc.kill('SIGKILL'); await exited; }
    lastErr = `exit ${JSON.stringify(exit)}:\n${log}`;
    if (!/listen_failed/.test(log)) break; // only a port race is worth a retry
  }
  throw new Error(`pgwarden did not start (${lastErr})`);
}

// ---------------------------------------------------------------- HTTP
/**
 * One exact HTTP exchange (node:http adds only Host / Content-Length / Connection). `body`: object -> JSON
 * (content-type application/json unless given), string -> as is. Resolves to {status, headers (lower-cased),
 * rawHeaders [[k, v]...] in wire order, setCookies, text, json}.
 */
export function request(url, { method = 'GET', headers = {}, body } = {}) {
  const u = new URL(url);
  const hdrs = { ...headers };
  let payload;
  if (body !== undefined) {
    payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    if (typeof body === 'object' && !Buffer.isBuffer(body) && !Object.keys(hdrs).some((k) => k.toLowerCase() === 'content-type'))
      hdrs['content-type'] = 'application/json';
  } else if (method === 'POST') {
    hdrs['content-length'] = '0';
  }
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers: hdrs, agent: false }, (res) => {
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
    });
    req.on('error', reject);
    if (payload !== undefined) req.end(payload); else req.end();
  });
}

/** A browser stand-in: one value per cookie name; Max-Age<=0 deletes. */
export class Jar {
  constructor() { this.c = new Map(); }
  update(setCookies) {
    for (const sc of setCookies) {
      const [pair, ...attrs] = sc.split(';');
      const i = pair.indexOf('=');
      const k = pair.slice(0, i).trim();
      const v = pair.slice(i + 1).trim();
      const maxAge = attrs.map((a) => a.trim()).find((a) => /^max-age=/i.test(a));
      if (maxAge && Number(maxAge.split('=')[1]) <= 0) this.c.delete(k); else this.c.set(k, v);
    }
    return this;
  }
  header() { return [...this.c].map(([k, v]) => `${k}=${v}`).join('; '); }
  get(k = COOKIE) { return this.c.get(k); }
  /** The raw session token (the part before the signature). */
  token() { const v = decodeURIComponent(this.get() || ''); return v.slice(0, v.lastIndexOf('.')); }
}

/** A fresh single client IP per request, so the oracle's rate limiter (3 sign-ins / 10 s / IP) never interferes. */
export function freshIp() {
  const b = crypto.randomBytes(3);
  return `10.${b[0]}.${b[1]}.${(b[2] % 250) + 1}`;
}

/**
 * A client of one auth server: `base` is the auth API root (…/auth or …/neondb/auth). POSTs carry
 * Origin: http://localhost:3000; every request carries a fresh X-Forwarded-For.
 */
export function client(base) {
  const call = async (method, p, { jar, body, headers = {}, origin } = {}) => {
    const h = { accept: 'application/json', 'x-forwarded-for': freshIp(), ...headers };
    const o = origin === undefined ? (method === 'GET' ? undefined : APP_ORIGIN) : origin;
    if (o) h.origin = o;
    if (jar && jar.c.size) h.cookie = jar.header();
    const r = await request(base + p, { method, headers: h, body });
    if (jar) jar.update(r.setCookies);
    return r;
  };
  return {
    base,
    get: (p, opts) => call('GET', p, opts),
    post: (p, body, opts = {}) => call('POST', p, { ...opts, body }),
  };
}

/** Better Auth's signed cookie value (not URL-encoded): token + "." + base64(HMAC-SHA256(secret, token)). */
export function signToken(secret, token) {
  return `${token}.${crypto.createHmac('sha256', Buffer.from(secret, 'utf8')).update(token).digest('base64')}`;
}

export function uniqueEmail(tag) {
  return `${tag}.${Date.now().toString(36)}${crypto.randomBytes(3).toString('hex')}@example.com`;
}
