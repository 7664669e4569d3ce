// Process lifecycle (security.md RF-03): SIGTERM lets in-flight requests finish and always exits 0.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  createDatabase, spawnServer, newSecret, assertCleanExit, post, raw, uniqueEmail, PASSWORD,
} from './harness.mjs';

let database;
const secret = newSecret();

before(async () => { database = await createDatabase(); });
after(async () => { await database?.drop(); });

function asSrv(server) {
  return { authUrl: `http://localhost:${server.port}/neondb/auth`, stderr: server.output };
}

test('SIGTERM while sign-ins are hashing: every in-flight request completes, then the server exits 0', async () => {
  const server = await spawnServer({ databaseUrl: database.databaseUrl, secret });
  const srv = asSrv(server);
  const email = uniqueEmail('drain');
  const up = await post(srv, '/sign-up/email', { name: 'Drain', email, password: PASSWORD });
  assert.equal(up.status, 200, up.text);
  const inFlight = Array.from({ length: 4 }, () => post(srv, '/sign-in/email', { email, password: PASSWORD }));
  await new Promise((r) => setTimeout(r, 30));
  server.proc.kill('SIGTERM');
  const results = await Promise.allSettled(inFlight);
  assert.deepEqual(results.map((r) => (r.status === 'fulfilled' ? r.value.status : r.reason.code)), [200, 200, 200, 200]);
  assertCleanExit(await server.terminate(), server.output());
});

test('SIGTERM always exits 0 (100 start/stop cycles)', async () => {
  // Each cycle: start, one request, SIGTERM. A shutdown race shows up as a crash in a few percent of stops.
  const outcomes = {};
  let failure;
  for (let i = 0; i < 100; i++) {
    const server = await spawnServer({ databaseUrl: database.databaseUrl, secret, env: { PGWARDEN_LOG_LEVEL: 'warn' } });
    const ok = await raw(`http://localhost:${server.port}/neondb/auth/ok`);
    assert.equal(ok.status, 200);
    const res = await server.terminate();
    const key = JSON.stringify(res);
    outcomes[key] = (outcomes[key] ?? 0) + 1;
    if (key !== '{"code":0,"signal":null}' && !failure) failure = { cycle: i, res, output: server.output() };
  }
  assert.equal(failure, undefined,
    `exit statuses over 100 SIGTERMs: ${JSON.stringify(outcomes)}; first bad one at cycle ${failure?.cycle}:\n${failure?.output.slice(-2000)}`);
});
