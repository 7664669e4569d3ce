#!/usr/bin/env node
// The Data API benchmark (`make bench-rest`): `pgwarden rest` beside `pgbench -S` in one run, at 16, 64 and
// 256 connections. Scenarios: single-row GET by primary key, a 10-row GET with a filter and an order, a
// one-row insert, an RPC call. For each connection level: pgbench -S (the database's read limit on this
// machine, right now) then each scenario with autocannon; errors and non-2xx counted; the server's RSS
// sampled during the run (VmRSS) and its peak (VmHWM) at the end.
//
//   node bench/data-api.mjs            # BENCH_DURATION=10 s per phase, BENCH_LEVELS=16,64,256
//   BENCH_DURATION=3 node bench/data-api.mjs
//
// Output: a Markdown table on stdout and bench/results/data-api-<time>.{json,md}. Needs autocannon from the
// oracle's install (build/oracle/node_modules, `scripts/oracle.sh start` installs it) and pgbench.
import { execFileSync, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdirSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from './proc.mjs';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const require = createRequire(join(ROOT, 'build/oracle/package.json'));
const autocannon = require('autocannon');
const BIN = process.env.PGWARDEN_BIN || join(ROOT, 'build/release/pgwarden');
const DURATION = Number(process.env.BENCH_DURATION || 10);
const LEVELS = (process.env.BENCH_LEVELS || '16,64,256').split(',').map(Number);
const STATE = process.env.BENCH_STATE_DIR || join(ROOT, 'build/bench-rest');
const OUT = process.env.BENCH_OUT || join(ROOT, 'bench/results');
const PG_BIN = process.env.PG_BIN || execFileSync('sh', ['-c', 'ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1']).toString().trim();
// Postgres runs with max_connections=200 (pgwarden cluster): pgbench uses at most this many clients.
const PGBENCH_MAX_CLIENTS = Number(process.env.BENCH_PGBENCH_MAX_CLIENTS || 150);

const log = (m) => process.stderr.write(`[bench-rest ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));


function psql(conn, sql) {
  return execFileSync(join(PG_BIN, 'psql'), [conn, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-At', '-c', sql]).toString();
}

function rss(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number((new RegExp(`${k}:\\s+(\\d+)`).exec(s) || [0, 0])[1]);
    return { rss_mb: kb('VmRSS') / 1024, hwm_mb: kb('VmHWM') / 1024 };
  } catch {
    return { rss_mb: 0, hwm_mb: 0 };
  }
}

function cannon(opts) {
  return new Promise((res, rej) => {
    autocannon({ ...opts, duration: DURATION, timeout: 10 }, (err, r) => (err ? rej(err) : res(r)));
  });
}

function pgbench(conn, clients) {
  const out = execFileSync(join(PG_BIN, 'pgbench'),
    ['-n', '-S', '-M', 'prepared', '-c', String(clients), '-j', String(Math.min(clients, 2)), '-T', String(DURATION), conn],
    { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  const m = /tps = ([0-9.]+) \((without|excluding)/.exec(out);
  return m ? Number(m[1]) : 0;
}

// ---------------------------------------------------------------------------------------------------- setup
mkdirSync(OUT, { recursive: true });
if (existsSync(STATE) && !process.env.BENCH_KEEP) rmSync(STATE, { recursive: true, force: true });
const conninfo = execFileSync(BIN, ['cluster', 'start', STATE, 'postgres'], { stdio: ['ignore', 'pipe', 'ignore'] })
  .toString().trim().split('\n').pop();
const pgPort = /port=(\d+)/.exec(conninfo)[1];
const admin = (db) => `postgresql://postgres@127.0.0.1:${pgPort}/${db}`;
let server;
try {
  log(`Postgres on ${pgPort}; creating the bench database and pgbench's (scale 10)`);
  psql(admin('postgres'), 'DROP DATABASE IF EXISTS rest_bench');
  psql(admin('postgres'), 'CREATE DATABASE rest_bench');
  psql(admin('postgres'), 'DROP DATABASE IF EXISTS pgbench');
  psql(admin('postgres'), 'CREATE DATABASE pgbench');
  execFileSync(join(PG_BIN, 'pgbench'), ['-i', '-q', '-s', '10', admin('pgbench')], { stdio: 'ignore' });
  psql(admin('rest_bench'), `
    DO $$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bench_authenticator') THEN
        CREATE ROLE bench_authenticator LOGIN NOINHERIT;
      END IF;
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bench_anon') THEN CREATE ROLE bench_anon NOLOGIN; END IF;
    END $$;
    GRANT bench_anon TO bench_authenticator;
    CREATE TABLE public.items (id bigserial PRIMARY KEY, name text NOT NULL, price int NOT NULL,
                               created_at timestamptz NOT NULL DEFAULT now());
    INSERT INTO public.items (name, price) SELECT 'item ' || g, g % 100 FROM generate_series(1, 10000) g;
    CREATE INDEX ON public.items (price, id);
    CREATE FUNCTION public.add_them(a int, b int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT a + b';
    GRANT USAGE ON SCHEMA public TO bench_anon;
    GRANT SELECT, INSERT ON public.items TO bench_anon;
    GRANT USAGE ON SEQUENCE public.items_id_seq TO bench_anon;
    GRANT EXECUTE ON FUNCTION public.add_them(int, int) TO bench_anon;
    ANALYZE public.items;`);

  const port = await freePort();
  server = spawn(BIN, ['rest'], {
    env: {
      ...process.env, PGRST_DB_URI: `postgresql://bench_authenticator@127.0.0.1:${pgPort}/rest_bench`,
      PGRST_DB_SCHEMAS: 'public', PGRST_DB_ANON_ROLE: 'bench_anon', PGRST_SERVER_HOST: '127.0.0.1',
      PGRST_SERVER_PORT: String(port), PGRST_LOG_LEVEL: 'error', PGRST_DB_POOL: process.env.BENCH_POOL || '16',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((r) => { const s = net.connect(port, '127.0.0.1', () => { s.end(); r(true); }); s.on('error', () => r(false)); });
    if (ok) break;
    await sleep(100);
  }
  const base = `http://127.0.0.1:${port}`;
  const idle = rss(server.pid);
  log(`pgwarden rest on ${port}, idle RSS ${idle.rss_mb.toFixed(1)} MB; ${DURATION} s per phase, levels ${LEVELS.join(', ')}`);

  const scenarios = [
    { name: 'GET one row by primary key', opts: { url: `${base}/items?id=eq.4242` } },
    { name: 'GET 10 rows, filter + order', opts: { url: `${base}/items?price=eq.42&order=id.desc&limit=10` } },
    { name: 'POST one row (return=minimal)', opts: { url: `${base}/items`, method: 'POST',
      headers: { 'content-type': 'application/json', prefer: 'return=minimal' }, body: '{"name":"bench","price":7}' } },
    { name: 'POST /rpc/add_them', opts: { url: `${base}/rpc/add_them`, method: 'POST',
      headers: { 'content-type': 'application/json' }, body: '{"a":1,"b":2}' } },
  ];
  const results = [];
  let peakSample = 0;
  const sampler = setInterval(() => { peakSample = Math.max(peakSample, rss(server.pid).rss_mb); }, 250);
  for (const level of LEVELS) {
    const clients = Math.min(level, PGBENCH_MAX_CLIENTS);
    const load0 = os.loadavg()[0];
    const tps = pgbench(admin('pgbench'), clients);
    log(`${level} conns: pgbench -S -M prepared -c ${clients}: ${tps.toFixed(0)} TPS (load ${load0.toFixed(1)})`);
    for (const sc of scenarios) {
      const r = await cannon({ ...sc.opts, connections: level });
      const row = {
        connections: level, scenario: sc.name, rps: r.requests.average, p50_ms: r.latency.p50, p99_ms: r.latency.p99,
        errors: r.errors + r.timeouts, non2xx: r.non2xx, pgbench_tps: tps, pgbench_clients: clients,
        ratio: tps ? r.requests.average / tps : 0, load: os.loadavg()[0],
      };
      results.push(row);
      log(`${level} conns: ${sc.name}: ${row.rps.toFixed(0)} req/s (${row.ratio.toFixed(2)}x pgbench), p99 ${row.p99_ms} ms, errors ${row.errors}, non-2xx ${row.non2xx}`);
    }
  }
  clearInterval(sampler);
  const final = rss(server.pid);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const md = [
    `Data API benchmark (${new Date().toISOString()}), ${os.cpus().length} cores, ${DURATION} s per phase; pgbench -S -M prepared in the same run before each level (clients capped at ${PGBENCH_MAX_CLIENTS}: Postgres max_connections is 200)`,
    '',
    '| conns | scenario | req/s | x pgbench -S | p50 ms | p99 ms | errors | non-2xx |',
    '|---:|---|---:|---:|---:|---:|---:|---:|',
    ...results.map((r) => `| ${r.connections} | ${r.scenario} | ${r.rps.toFixed(0)} | ${r.ratio.toFixed(2)} (${r.pgbench_tps.toFixed(0)} TPS) | ${r.p50_ms} | ${r.p99_ms} | ${r.errors} | ${r.non2xx} |`),
    '',
    `pgwarden RSS: idle ${idle.rss_mb.toFixed(1)} MB, highest sample ${peakSample.toFixed(1)} MB, peak (VmHWM) ${final.hwm_mb.toFixed(1)} MB.`,
  ].join('\n');
  writeFileSync(join(OUT, `data-api-${stamp}.json`), JSON.stringify({ duration: DURATION, idle, peak: final, results }, null, 2));
  writeFileSync(join(OUT, `data-api-${stamp}.md`), md + '\n');
  console.log(md);
} finally {
  if (server) server.kill('SIGTERM');
  await sleep(300);
  execFileSync(BIN, ['cluster', 'stop', STATE], { stdio: 'ignore' });
}
