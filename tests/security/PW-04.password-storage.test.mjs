// PW-04: passwords are stored with a memory-hard KDF and a unique salt, in the format of the configured mode
// (PGWARDEN_PASSWORD_HASH: scrypt = Better Auth's, argon2id = PHC string), and no API response carries a hash or a
// `password` member.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, post, get, uniqueEmail, cookieValue, showServerOutputOnFailure } from '../e2e/harness.mjs';

const FORMATS = {
  scrypt: /^[0-9a-f]{32}:[0-9a-f]{128}$/,
  argon2id: /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/,
};

const servers = {};
before(async () => {
  servers.scrypt = await startServer();
  servers.argon2id = await startServer({ env: { PGWARDEN_PASSWORD_HASH: 'argon2id' } });
});
after(async () => {
  for (const srv of Object.values(servers)) await srv?.stop();
});
showServerOutputOnFailure(() => Object.values(servers));

async function storedHash(srv, email) {
  const { rows } = await srv.db.query(
    `SELECT a.password FROM neon_auth.account a JOIN neon_auth."user" u ON u.id = a."userId"
     WHERE u.email = $1 AND a."providerId" = 'credential'`,
    [email],
  );
  assert.equal(rows.length, 1);
  return rows[0].password;
}

/** Paths of every member named like "password" anywhere in a parsed JSON value. */
function passwordMembers(value, where = '$') {
  if (Array.isArray(value)) return value.flatMap((v, i) => passwordMembers(v, `${where}[${i}]`));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => [
    ...(/password/i.test(k) ? [`${where}.${k}`] : []),
    ...passwordMembers(v, `${where}.${k}`),
  ]);
}

for (const mode of ['scrypt', 'argon2id']) {
  test(`PW-04: ${mode} mode: the same password twice gives two different hashes in the ${mode} format`, async () => {
    const srv = servers[mode];
    const password = 'same-horse-battery';
    const hashes = [];
    for (const tag of ['a', 'b']) {
      const email = uniqueEmail(`pw04-${mode}-${tag}`);
      const res = await post(srv, '/sign-up/email', { name: 'Same', email, password });
      assert.equal(res.status, 200, res.text);
      hashes.push(await storedHash(srv, email));
    }
    for (const h of hashes) assert.match(h, FORMATS[mode]);
    assert.notEqual(hashes[0], hashes[1]);
    // Different salts, not only different keys.
    const salt = (h) => (mode === 'scrypt' ? h.slice(0, 32) : h.split('$')[4]);
    assert.notEqual(salt(hashes[0]), salt(hashes[1]));
  });

  test(`PW-04: ${mode} mode: no response carries a password member or the stored hash`, async () => {
    const srv = servers[mode];
    const email = uniqueEmail(`pw04-${mode}-leak`);
    const password = 'leaky-horse-battery';
    const responses = {};
    responses['sign-up'] = await post(srv, '/sign-up/email', { name: 'Leak', email, password });
    assert.equal(responses['sign-up'].status, 200, responses['sign-up'].text);
    responses['sign-in'] = await post(srv, '/sign-in/email', { email, password });
    assert.equal(responses['sign-in'].status, 200, responses['sign-in'].text);
    const cookie = cookieValue(responses['sign-in'].setCookies);
    for (const p of ['/get-session', '/list-accounts', '/list-sessions']) {
      responses[p] = await get(srv, p, { cookie });
      assert.equal(responses[p].status, 200, `${p}: ${responses[p].text}`);
    }
    assert.ok(responses['/get-session'].json?.user, 'get-session answers the user');
    assert.ok(Array.isArray(responses['/list-accounts'].json) && responses['/list-accounts'].json.length === 1);

    const hash = await storedHash(srv, email);
    const key = mode === 'scrypt' ? hash.slice(33) : hash.split('$')[5];
    for (const [name, res] of Object.entries(responses)) {
      assert.deepEqual(passwordMembers(res.json), [], `${name} has a password member: ${res.text}`);
      assert.ok(!res.text.includes(key), `${name} carries the stored hash`);
      assert.ok(!res.text.includes(password), `${name} carries the password`);
      for (const [h, v] of Object.entries(res.headers)) {
        assert.ok(!String(v).includes(key), `${name}: header ${h} carries the stored hash`);
      }
    }
  });
}
