#!/usr/bin/env node
// Runs PostgREST's spec suite (../shared/conformance/postgrest) against `pgwarden rest`, once per
// configuration variant: for each variant a server is started with the variant's settings as PGRST_*
// environment variables, run.mjs runs that variant's cases, the server is stopped. Prints one line per
// variant and a total line "conformance: N passed, M failed, K skipped"; writes every failure to
// <out>/failures.txt and run.mjs's JSON reports to <out>/<variant>.json. Exit 0 only if nothing failed
// (or with --no-fail, always 0 when the run itself worked).
//
//   node run-variants.mjs --bin build/release/pgwarden --suite ../shared/conformance/postgrest \
//        --db-port 5432 --db-name postgrest_test [--only base,max-rows-2] [--filter RE] [--out DIR] [--no-fail]
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, createWriteStream } from 'node:fs';
import net from 'node:net';
import { join, resolve } from 'node:path';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const bin = resolve(opt('bin', 'build/release/pgwarden'));
const suite = resolve(opt('suite', '../shared/conformance/postgrest'));
const dbPort = opt('db-port');
const dbName = opt('db-name', 'postgrest_test');
const only = opt('only') ? opt('only').split(',') : null;
const filter = opt('filter');
const out = resolve(opt('out', 'build/conformance'));
const noFail = args.includes('--no-fail');
// --known FILE: case ids expected to fail (one per line, '#' comments; docs/compatibility.md gives the reasons).
// Only failures not listed make the run fail; listed cases that pass are reported so the list can shrink.
const knownFile = opt('known');
const known = new Set();
if (knownFile) {
  for (const line of readFileSync(knownFile, 'utf8').split('\n')) {
    const id = line.replace(/#.*/, '').trim();
    if (id) known.add(id);
  }
}
if (!dbPort) {
  console.error('run-variants.mjs: --db-port is required');
  process.exit(2);
}
mkdirSync(out, { recursive: true });

const configs = JSON.parse(readFileSync(join(suite, 'configs.json'), 'utf8'));
const casesDir = join(suite, 'cases');
const { readdirSync } = await import('node:fs');
const counts = {};
for (const f of readdirSync(casesDir).filter((f) => f.endsWith('.json'))) {
  for (const c of JSON.parse(readFileSync(join(casesDir, f), 'utf8'))) counts[c.config] = (counts[c.config] || 0) + 1;
}

// A PostgREST setting as the environment variable PostgREST reads (db-schemas -> PGRST_DB_SCHEMAS,
// app.settings.x -> PGRST_APP_SETTINGS_X); lists are comma-separated; null = unset.
function envFor(settings) {
  const env = {};
  for (const [k, v] of Object.entries(settings)) {
    if (v === null || v === undefined) continue;
    const name = 'PGRST_' + k.replace(/[-.]/g, '_').toUpperCase();
    env[name] = Array.isArray(v) ? v.join(',') : String(v);
  }
  env.PGRST_DB_URI = `postgresql://postgrest_test_authenticator@127.0.0.1:${dbPort}/${dbName}`;
  return env;
}

function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
}

async function waitReady(port, child) {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) return false;
    const ok = await new Promise((res) => {
      const sock = net.connect(port, '127.0.0.1', () => {
        sock.end();
        res(true);
      });
      sock.on('error', () => res(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

function run(cmd, argv, opts) {
  return new Promise((res) => {
    const child = spawn(cmd, argv, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stdout += d));
    child.on('exit', (code) => res({ code, stdout }));
  });
}

let passed = 0, failed = 0, skipped = 0;
const failures = [];
const failedIds = new Set();
const serverLog = createWriteStream(join(out, 'server.log'));
for (const name of Object.keys(configs.variants)) {
  if (only && !only.includes(name)) continue;
  if (!counts[name]) continue;
  const settings = { ...configs.base.settings, ...(configs.variants[name].overrides || {}) };
  const port = await freePort();
  const env = { ...process.env, ...envFor(settings), PGRST_SERVER_HOST: '127.0.0.1', PGRST_SERVER_PORT: String(port) };
  const server = spawn(bin, ['rest'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout.pipe(serverLog, { end: false });
  server.stderr.pipe(serverLog, { end: false });
  if (!(await waitReady(port, server))) {
    console.log(`${name}: server did not start (see ${join(out, 'server.log')}); ${counts[name]} cases failed`);
    failed += counts[name];
    failures.push(`${name}: server did not start`);
    server.kill('SIGKILL');
    continue;
  }
  const argv = [join(suite, 'run.mjs'), '--url', `http://127.0.0.1:${port}`, '--config', name,
    '--json-report', join(out, `${name}.json`), '--timeout', '15000'];
  if (filter) argv.push('--filter', filter);
  const r = await run(process.execPath, argv, {});
  server.kill('SIGTERM');
  await new Promise((res) => (server.exitCode !== null ? res() : server.on('exit', res)));
  const last = r.stdout.trim().split('\n').pop();
  const m = /^(\d+) passed, (\d+) failed, (\d+) skipped$/.exec(last || '');
  if (!m) {
    console.log(`${name}: runner failed: ${last}`);
    failed += counts[name];
    failures.push(`${name}: runner failed: ${last}`);
    continue;
  }
  const [p, f] = [Number(m[1]), Number(m[2])];
  passed += p;
  failed += f;
  console.log(`${name}: ${p} passed, ${f} failed`);
  for (const line of r.stdout.split('\n')) {
    if (!line.startsWith('FAIL ')) continue;
    failures.push(`[${name}] ${line.slice(5)}`);
    failedIds.add(line.slice(5).split(' ')[0]);
  }
}
// Cases of variants not run (other variants' cases are "skipped" by run.mjs) are not double counted.
writeFileSync(join(out, 'failures.txt'), failures.join('\n') + (failures.length ? '\n' : ''));
serverLog.end();
console.log(`conformance: ${passed} passed, ${failed} failed, ${skipped} skipped (failures: ${join(out, 'failures.txt')})`);
if (knownFile) {
  const unexpected = [...failedIds].filter((id) => !known.has(id));
  const fixed = [...known].filter((id) => !failedIds.has(id) && !filter && !only);
  for (const id of unexpected) console.log(`UNEXPECTED FAIL ${id}`);
  for (const id of fixed) console.log(`now passing (remove from ${knownFile}): ${id}`);
  console.log(`conformance: ${failed - unexpected.length} known failures, ${unexpected.length} unexpected`);
  process.exit(unexpected.length && !noFail ? 1 : 0);
}
process.exit(failed && !noFail ? 1 : 0);
