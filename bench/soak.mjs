#!/usr/bin/env node
// Soak benchmark (`make bench-soak`, issue 6): GET get-session with a valid session cookie at a fixed rate for a
// fixed time against a freshly started pgwarden on a private Postgres; every answer must be a 200 with the
// session (zero errors), and the server's memory must stay flat.
//
//   node bench/soak.mjs                             # 2000 req/s for 60 s
//   SOAK_RATE=500 SOAK_DURATION=10 node bench/soak.mjs
//
// The load is open-loop: requests are issued on a fixed schedule (not when the previous one returns), over
// SOAK_CONNECTIONS keep-alive connections; latency is measured from the scheduled send time, so a stall of the
// server shows up in the percentiles instead of slowing the client down (no coordinated omission). A request
// that cannot be issued because SOAK_MAX_INFLIGHT are already outstanding is counted as "unsent": the schedule
// was not kept (the server, Postgres or the client itself fell behind; the latency percentiles tell which).
// RSS (VmRSS from /proc/<pid>/status) is sampled every SOAK_SAMPLE_S seconds; the report gives first / last /
// max and the least-squares slope in MB per minute (whole run, and the second half, after warm-up).
//
// Errors: any status other than 200, a 200 without a session in the body, a socket error, no answer within
// SOAK_TIMEOUT_MS. Exit status 1 when there was any error (or the server did not exit 0 on SIGTERM); unsent
// requests are reported, not failed.
// Output: a Markdown summary on stdout, bench/results/soak-<time>.{json,md}.
//
// Knobs: SOAK_RATE (2000), SOAK_DURATION (60 s), SOAK_CONNECTIONS (32), SOAK_MAX_INFLIGHT (2000), SOAK_SAMPLE_S
// (5), SOAK_TIMEOUT_MS (5000), PGWARDEN_BIN (build/release/pgwarden), PGWARDEN_THREADS (server default),
// BENCH_STATE_DIR (build/bench-soak), BENCH_OUT (bench/results), BENCH_KEEP (keep the cluster).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from './proc.mjs';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const BIN = process.env.PGWARDEN_BIN || join(ROOT, 'build/release/pgwarden');
const RATE = Number(process.env.SOAK_RATE || 2000);
const DURATION = Number(process.env.SOAK_DURATION || 60);
const CONNECTIONS = Number(process.env.SOAK_CONNECTIONS || 32);
const MAX_INFLIGHT = Number(process.env.SOAK_MAX_INFLIGHT || 2000);
const SAMPLE_S = Number(process.env.SOAK_SAMPLE_S || 5);
const TIMEOUT_MS = Number(process.env.SOAK_TIMEOUT_MS || 5000);
const STATE = process.env.BENCH_STATE_DIR || join(ROOT, 'build/bench-soak');
const OUT = process.env.BENCH_OUT || join(ROOT, 'bench/results');
const SECRET = 'soak-secret-0123456789abcdef0123456789abcdef';

const log = (m) => process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));


function procStatus(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number((new RegExp(`${k}:\\s+(\\d+)`).exec(s) || [0, 0])[1]);
    return { rss_mb: kb('VmRSS') / 1024, hwm_mb: kb('VmHWM') / 1024, threads: kb('Threads') };
  } catch {
    return { rss_mb: 0, hwm_mb: 0, threads: 0 };
  }
}

function cpuMs(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const r = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(r[11]) + Number(r[12])) * 10;  // utime + stime, 100 ticks/s
  } catch {
    return 0;
  }
}

function slopeMbPerMin(samples) {
  if (samples.length < 2) return 0;
  const n = samples.length;
  const mx = samples.reduce((a, s) => a + s.t, 0) / n;
  const my = samples.reduce((a, s) => a + s.rss_mb, 0) / n;
  let num = 0;
  let den = 0;
  for (const s of samples) {
    num += (s.t - mx) * (s.rss_mb - my);
    den += (s.t - mx) ** 2;
  }
  return den ? (num / den) * 60 : 0;
}

function percentile(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : 0;
}

function request(agent, port, { method = 'GET', path, headers = {}, body }) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent, timeout: TIMEOUT_MS }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

// ------------------------------------------------------------------------------------------------ setup
if (!existsSync(BIN)) {
  log(`${BIN} missing: build it first (make build)`);
  process.exit(2);
}
mkdirSync(OUT, { recursive: true });
if (existsSync(STATE) && !process.env.BENCH_KEEP) rmSync(STATE, { recursive: true, force: true });
const loadBefore = os.loadavg()[0];
// A fresh private cluster with a database `soak` (created by `cluster start`); `serve` migrates it.
const dbUrl = execFileSync(BIN, ['cluster', 'start', STATE, 'soak'], { stdio: ['ignore', 'pipe', 'ignore'] })
  .toString().trim().split('\n').pop();

let server;
let exitCode = 0;
let result;
try {
  const port = await freePort();
  server = spawn(BIN, ['serve'], {
    env: {
      PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: dbUrl, PGWARDEN_SECRET: SECRET,
      PGWARDEN_LISTEN: `127.0.0.1:${port}`, PGWARDEN_BASE_URL: `http://localhost:${port}`, PGWARDEN_DB_NAME: 'neondb',
      PGWARDEN_LOG_LEVEL: 'warn', PGWARDEN_RATE_LIMIT: 'off',
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('PGWARDEN_') && k !== 'PGWARDEN_BIN')),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let serverLog = '';
  server.stderr.on('data', (d) => { serverLog = (serverLog + d).slice(-20000); });
  const exited = new Promise((r) => server.on('exit', (code, signal) => r({ code, signal })));
  for (let i = 0; ; i++) {
    try {
      const r = await request(undefined, port, { path: '/health/ready' });
      if (r.status === 200) break;
    } catch { /* not up yet */ }
    if (i > 200) throw new Error(`pgwarden did not become ready:\n${serverLog}`);
    await sleep(50);
  }
  const idle = procStatus(server.pid);

  // One user, one session cookie.
  const email = `soak-${Date.now()}@example.com`;
  const up = await request(undefined, port, {
    method: 'POST', path: '/neondb/auth/sign-up/email',
    headers: { 'content-type': 'application/json', origin: `http://localhost:${port}` },
    body: JSON.stringify({ name: 'Soak', email, password: 'correct-horse-battery' }),
  });
  if (up.status !== 200) throw new Error(`sign-up: ${up.status} ${up.text}`);
  const cookie = up.headers['set-cookie'].map((c) => c.split(';')[0]).join('; ');

  // ---------------------------------------------------------------------------------------------- the run
  log(`get-session at ${RATE}/s for ${DURATION} s over ${CONNECTIONS} connections (pgwarden pid ${server.pid}, load ${loadBefore.toFixed(1)})`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const lat = [];
  const errors = {};
  const addError = (k) => { errors[k] = (errors[k] ?? 0) + 1; };
  let inflight = 0;
  let unsent = 0;
  let sent = 0;
  let done = 0;
  const rss = [];
  const cpu0 = cpuMs(server.pid);
  const client0 = process.cpuUsage();
  const t0 = performance.now();
  const total = RATE * DURATION;
  const one = (scheduled) => {
    inflight++;
    request(agent, port, { path: '/neondb/auth/get-session', headers: { cookie } }).then((r) => {
      if (r.status !== 200) addError(`status ${r.status}`);
      else if (!r.text.startsWith('{"session":{')) addError('200 without a session');
      else lat.push(performance.now() - scheduled);
    }, (e) => addError(e.message === 'timeout' ? 'timeout' : `socket ${e.code || e.message}`)).finally(() => {
      inflight--;
      done++;
    });
  };
  let nextSample = 0;
  while (sent < total) {
    const now = performance.now();
    const elapsed = (now - t0) / 1000;
    if (elapsed >= nextSample) {
      rss.push({ t: elapsed, ...procStatus(server.pid) });
      nextSample += SAMPLE_S;
    }
    const due = Math.min(total, Math.floor(elapsed * RATE));
    for (; sent < due; sent++) {
      const scheduled = t0 + (sent / RATE) * 1000;
      if (inflight >= MAX_INFLIGHT) { unsent++; done++; continue; }
      one(scheduled);
    }
    await sleep(1);  // a timer tick, not a busy loop: the client shares the cores with the server
  }
  while (done < total) await sleep(10);
  const wall = (performance.now() - t0) / 1000;
  rss.push({ t: wall, ...procStatus(server.pid) });
  const cpu = cpuMs(server.pid) - cpu0;
  const clientCpu = process.cpuUsage(client0);
  agent.destroy();

  const sorted = lat.sort((a, b) => a - b);
  const errorCount = Object.values(errors).reduce((a, b) => a + b, 0);
  const half = rss.filter((s) => s.t >= wall / 2);
  result = {
    when: new Date().toISOString(), rate: RATE, duration_s: DURATION, connections: CONNECTIONS, requests: total,
    ok: sorted.length, errors: errorCount, error_kinds: errors, unsent, wall_s: Number(wall.toFixed(2)),
    achieved_rps: Number((sorted.length / wall).toFixed(0)),
    latency_ms: Object.fromEntries([50, 90, 99, 99.9].map((p) => [`p${p}`, Number(percentile(sorted, p).toFixed(2))]).concat([['max', Number((sorted.at(-1) ?? 0).toFixed(2))]])),
    server_cpu_ms_per_req: Number((cpu / total).toFixed(3)),
    client_cpu_s: Number(((clientCpu.user + clientCpu.system) / 1e6).toFixed(1)),
    rss_mb: {
      idle: Number(idle.rss_mb.toFixed(1)), first: Number(rss[0].rss_mb.toFixed(1)), last: Number(rss.at(-1).rss_mb.toFixed(1)),
      max: Number(Math.max(...rss.map((s) => s.rss_mb)).toFixed(1)), hwm: Number(rss.at(-1).hwm_mb.toFixed(1)),
      slope_mb_per_min: Number(slopeMbPerMin(rss).toFixed(2)), slope_second_half_mb_per_min: Number(slopeMbPerMin(half).toFixed(2)),
      samples: rss.map((s) => [Number(s.t.toFixed(1)), Number(s.rss_mb.toFixed(1))]),
    },
    threads: rss.at(-1).threads, load_before: Number(loadBefore.toFixed(2)), load_after: Number(os.loadavg()[0].toFixed(2)),
    cores: os.cpus().length,
  };
  if (errorCount > 0) exitCode = 1;

  server.kill('SIGTERM');
  const stop = await Promise.race([exited, sleep(15000).then(() => 'timeout')]);
  result.exit = stop;
  if (stop === 'timeout' || stop.code !== 0) {
    log(`pgwarden did not exit 0 after SIGTERM: ${JSON.stringify(stop)}`);
    exitCode = 1;
  }
  server = undefined;
} catch (e) {
  log(`error: ${e.stack || e}`);
  exitCode = 2;
} finally {
  if (server) server.kill('SIGKILL');
  try { execFileSync(BIN, ['cluster', 'stop', STATE], { stdio: 'ignore' }); } catch { /* not running */ }
  if (!process.env.BENCH_KEEP) rmSync(STATE, { recursive: true, force: true });
}

if (result) {
  const r = result;
  const md = [
    `## Soak: get-session at ${r.rate} req/s for ${r.duration_s} s (${r.when})`,
    '',
    `| scheduled | ok | errors | unsent | achieved req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | server CPU ms/req |`,
    `| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |`,
    `| ${r.requests} | ${r.ok} | ${r.errors}${r.errors ? ` ${JSON.stringify(r.error_kinds)}` : ''} | ${r.unsent} | ${r.achieved_rps} | ${r.latency_ms.p50} | ${r.latency_ms.p90} | ${r.latency_ms.p99} | ${r.latency_ms['p99.9']} | ${r.latency_ms.max} | ${r.server_cpu_ms_per_req} |`,
    '',
    `| RSS MB idle | first | last | max | VmHWM | slope MB/min (all) | slope MB/min (2nd half) |`,
    `| --- | --- | --- | --- | --- | --- | --- |`,
    `| ${r.rss_mb.idle} | ${r.rss_mb.first} | ${r.rss_mb.last} | ${r.rss_mb.max} | ${r.rss_mb.hwm} | ${r.rss_mb.slope_mb_per_min} | ${r.rss_mb.slope_second_half_mb_per_min} |`,
    '',
    `RSS samples (s, MB): ${r.rss_mb.samples.map(([t, m]) => `${t}:${m}`).join(' ')}`,
    '',
    `${r.connections} keep-alive connections, ${r.cores} cores, load average ${r.load_before} before / ${r.load_after} after, ` +
      `client (this node process) CPU ${r.client_cpu_s} s, server threads ${r.threads}, exit after SIGTERM ${JSON.stringify(r.exit)}. Latency is measured from the scheduled send time.`,
  ].join('\n');
  const stamp = r.when.replace(/[:.]/g, '-');
  writeFileSync(join(OUT, `soak-${stamp}.json`), JSON.stringify(r, null, 2));
  writeFileSync(join(OUT, `soak-${stamp}.md`), `${md}\n`);
  process.stdout.write(`${md}\n`);
}
process.exit(exitCode);
