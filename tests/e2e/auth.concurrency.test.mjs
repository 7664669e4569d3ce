// Concurrency: parallel sign-ups are atomic and unique per email (security.md RF-04, RF-05), and password
// hashing does not starve cheap requests (RF-07).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, raw, post, signUp, uniqueEmail, PASSWORD, showServerOutputOnFailure } from './harness.mjs';

let srv;

before(async () => { srv = await startServer(); });
after(async () => { await srv?.stop(); });
showServerOutputOnFailure(() => srv);

test('20 parallel sign-ups with distinct emails all succeed: exactly 20 users, 20 credential accounts, 20 sessions', async () => {
  const tag = uniqueEmail('par').split('@')[0];
  const emails = Array.from({ length: 20 }, (_, i) => `${tag}-${i}@example.com`);
  const results = await Promise.all(emails.map((email) => post(srv, '/sign-up/email', { name: 'P', email, password: PASSWORD })));
  assert.deepEqual(results.map((r) => r.status), emails.map(() => 200), results.map((r) => r.text).filter((t) => !t.startsWith('{"token"')).join('\n'));
  assert.equal(new Set(results.map((r) => r.json.user.id)).size, 20);
  const { rows: [c] } = await srv.db.query(
    `SELECT (SELECT count(*) FROM neon_auth."user" WHERE email LIKE $1)::int AS users,
            (SELECT count(*) FROM neon_auth.account a JOIN neon_auth."user" u ON u.id = a."userId"
              WHERE u.email LIKE $1 AND a."providerId" = 'credential' AND a."accountId" = u.id::text
                AND a.password ~ '^[0-9a-f]{32}:[0-9a-f]{128}$')::int AS accounts,
            (SELECT count(*) FROM neon_auth.session s JOIN neon_auth."user" u ON u.id = s."userId" WHERE u.email LIKE $1)::int AS sessions`,
    [`${tag}-%`],
  );
  assert.deepEqual(c, { users: 20, accounts: 20, sessions: 20 });
});

test('10 parallel sign-ups with one email (case variants) -> exactly one 200, nine 422, one user', async () => {
  const email = uniqueEmail('race');
  const variants = Array.from({ length: 10 }, (_, i) => (i % 2 ? email.toUpperCase() : email));
  const results = await Promise.all(variants.map((e) => post(srv, '/sign-up/email', { name: 'R', email: e, password: PASSWORD })));
  const statuses = results.map((r) => r.status).sort();
  assert.deepEqual(statuses, [200, ...Array(9).fill(422)], results.map((r) => `${r.status} ${r.text.slice(0, 120)}`).join('\n'));
  for (const r of results.filter((x) => x.status === 422)) assert.equal(r.json.code, 'USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL');
  const { rows: [c] } = await srv.db.query(
    `SELECT (SELECT count(*) FROM neon_auth."user" WHERE email = $1)::int AS users,
            (SELECT count(*) FROM neon_auth.account a JOIN neon_auth."user" u ON u.id = a."userId" WHERE u.email = $1)::int AS accounts`,
    [email],
  );
  assert.deepEqual(c, { users: 1, accounts: 1 });
});

test('GET /ok answers within 200 ms while 9 sign-ins (one with a wrong password) are hashing', async () => {
  const u = await signUp(srv, { name: 'Hash' });
  const pending = new Set();
  const started = Date.now();
  const track = (p, name) => { pending.add(name); return p.finally(() => pending.delete(name)); };
  const signIns = Array.from({ length: 8 }, (_, i) => track(post(srv, '/sign-in/email', { email: u.email, password: PASSWORD }), `ok${i}`));
  const wrong = track(post(srv, '/sign-in/email', { email: u.email, password: 'wrong-password-1' }), 'wrong');
  await new Promise((r) => setTimeout(r, 30));  // let the requests reach the hashing pool
  const t0 = performance.now();
  const ok = await raw(`${srv.authUrl}/ok`);
  const okMs = performance.now() - t0;
  const stillHashing = pending.size;
  const results = await Promise.all(signIns);
  const bad = await wrong;
  const totalMs = Date.now() - started;
  assert.equal(ok.status, 200);
  assert.ok(stillHashing >= 3, `the measurement must overlap the hashing (only ${stillHashing} sign-ins were still running)`);
  assert.ok(okMs < 200, `GET /ok took ${okMs.toFixed(1)} ms while ${stillHashing} sign-ins were hashing (all done after ${totalMs} ms)`);
  assert.deepEqual(results.map((r) => r.status), Array(8).fill(200));
  assert.equal(bad.status, 401);
  assert.equal(bad.json.code, 'INVALID_EMAIL_OR_PASSWORD');
});
