// PW-05: Better Auth's scrypt hashes keep working, and with PGWARDEN_PASSWORD_HASH=argon2id a successful sign-in
// replaces them by an Argon2id PHC string (a wrong password never changes the stored hash). Also: compat mode
// (the default) verifies argon2id hashes and never rewrites a hash.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, scryptSync } from 'node:crypto';
import { startServer, post, uniqueEmail, cookieValue, showServerOutputOnFailure } from '../e2e/harness.mjs';

const ARGON2ID = /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/;
const SCRYPT = /^[0-9a-f]{32}:[0-9a-f]{128}$/;

/** Better Auth 1.6's hashPassword (@better-auth/utils/password, node): the hex salt text is the scrypt salt. */
function betterAuthHash(password) {
  const salt = randomBytes(16).toString('hex');
  const key = scryptSync(password.normalize('NFKC'), salt, 64, { N: 16384, r: 16, p: 1, maxmem: 64 * 1024 * 1024 });
  return `${salt}:${key.toString('hex')}`;
}

/** A user with a credential account holding `hash`, as Better Auth (or a migration) would have written it. */
async function insertUser(srv, email, hash) {
  const { rows } = await srv.db.query(
    `INSERT INTO neon_auth."user" (name, email, "emailVerified", "createdAt", "updatedAt")
     VALUES ('Imported', $1, true, now(), now()) RETURNING id`,
    [email],
  );
  await srv.db.query(
    `INSERT INTO neon_auth.account ("accountId", "providerId", "userId", password, "createdAt", "updatedAt")
     VALUES ($1::text, 'credential', $1::uuid, $2, now(), now())`,
    [rows[0].id, hash],
  );
}

async function storedHash(srv, email) {
  const { rows } = await srv.db.query(
    `SELECT a.password FROM neon_auth.account a JOIN neon_auth."user" u ON u.id = a."userId"
     WHERE u.email = $1 AND a."providerId" = 'credential'`,
    [email],
  );
  assert.equal(rows.length, 1);
  return rows[0].password;
}

const signIn = (srv, email, password) => post(srv, '/sign-in/email', { email, password });

let hardened;
let compat;
before(async () => {
  hardened = await startServer({ env: { PGWARDEN_PASSWORD_HASH: 'argon2id' } });
  compat = await startServer();
});
after(async () => {
  await hardened?.stop();
  await compat?.stop();
});
showServerOutputOnFailure(() => [hardened, compat]);

test('PW-05: a Better Auth scrypt hash signs in and is re-hashed to argon2id; a wrong password changes nothing', async () => {
  const email = uniqueEmail('pw05-import');
  const password = 'imported-horse-battery';
  const original = betterAuthHash(password);
  assert.match(original, SCRYPT);
  await insertUser(hardened, email, original);

  const first = await signIn(hardened, email, password);
  assert.equal(first.status, 200, first.text);
  assert.equal(first.json.user.email, email);
  const upgraded = await storedHash(hardened, email);
  assert.match(upgraded, ARGON2ID);
  assert.match(hardened.stderr(), /"event":"auth\.password_rehashed".*"replaced":"true"/);

  const second = await signIn(hardened, email, password);
  assert.equal(second.status, 200, second.text);
  assert.equal(await storedHash(hardened, email), upgraded, 'an argon2id hash at policy is not re-hashed again');

  const wrong = await signIn(hardened, email, 'imported-horse-batterY');
  assert.equal(wrong.status, 401, wrong.text);
  assert.equal(wrong.json.code, 'INVALID_EMAIL_OR_PASSWORD');
  assert.equal(await storedHash(hardened, email), upgraded);
  assert.doesNotMatch(hardened.stderr(), /imported-horse-battery|\$argon2id\$|[0-9a-f]{32}:[0-9a-f]{128}/,
    'neither the password nor a hash reaches the log');
});

test('PW-05: a wrong password never upgrades a scrypt hash', async () => {
  const email = uniqueEmail('pw05-wrong');
  const original = betterAuthHash('right-horse-battery');
  await insertUser(hardened, email, original);
  for (const attempt of ['wrong-horse-battery', '', 'right-horse-battery ']) {
    const res = await signIn(hardened, email, attempt);
    assert.ok(res.status === 401 || res.status === 400, `${JSON.stringify(attempt)}: ${res.status} ${res.text}`);
    assert.equal(await storedHash(hardened, email), original);
  }
});

test('PW-05: the upgrade keeps NFKC normalisation (any equivalent spelling signs in before and after)', async () => {
  const email = uniqueEmail('pw05-nfkc');
  await insertUser(hardened, email, betterAuthHash('\ufb01x-horse-\u2460\u00c5'));
  const ligature = await signIn(hardened, email, '\ufb01x-horse-1A\u030a');
  assert.equal(ligature.status, 200, ligature.text);
  assert.match(await storedHash(hardened, email), ARGON2ID);
  const plain = await signIn(hardened, email, 'fix-horse-1\u00c5');
  assert.equal(plain.status, 200, plain.text);
  const fullwidth = await signIn(hardened, email, 'fix-horse-\uff11\u00c5');
  assert.equal(fullwidth.status, 200, fullwidth.text);
  assert.equal((await signIn(hardened, email, 'fix-horse-1A')).status, 401);
});

test('PW-05: an argon2id hash below policy is re-hashed; a stronger one is kept', async () => {
  // Computed with the reference library (libargon2, argon2id_hash_encoded) over "correct-horse-2".
  const weak = '$argon2id$v=19$m=19456,t=1,p=1$cGd3YXJkZW4ta2F0LTAxNg$fpr/+SVCBEjeGB7gWRz/h4aeH5VxpxVUflUXd2ALrKE';
  const weakEmail = uniqueEmail('pw05-weak');
  await insertUser(hardened, weakEmail, weak);
  assert.equal((await signIn(hardened, weakEmail, 'correct-horse-2')).status, 200);
  const replaced = await storedHash(hardened, weakEmail);
  assert.match(replaced, ARGON2ID);
  assert.notEqual(replaced, weak);

  // The reference implementation's own test vector: 64 MiB, t=2 (above policy).
  const strong = '$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc';
  const strongEmail = uniqueEmail('pw05-strong');
  await insertUser(hardened, strongEmail, strong);
  assert.equal((await signIn(hardened, strongEmail, 'password')).status, 200);
  assert.equal(await storedHash(hardened, strongEmail), strong);
});

test('PW-05: in argon2id mode sign-up and change-password store argon2id', async () => {
  const email = uniqueEmail('pw05-signup');
  const up = await post(hardened, '/sign-up/email', { name: 'New', email, password: 'fresh-horse-battery' });
  assert.equal(up.status, 200, up.text);
  const created = await storedHash(hardened, email);
  assert.match(created, ARGON2ID);

  const inRes = await signIn(hardened, email, 'fresh-horse-battery');
  assert.equal(inRes.status, 200, inRes.text);
  assert.equal(await storedHash(hardened, email), created);

  const cookie = cookieValue(inRes.setCookies);
  const changed = await post(hardened, '/change-password',
    { currentPassword: 'fresh-horse-battery', newPassword: 'other-horse-battery' },
    { Cookie: `__Secure-neon-auth.session_token=${cookie}` });
  assert.equal(changed.status, 200, changed.text);
  const after = await storedHash(hardened, email);
  assert.match(after, ARGON2ID);
  assert.notEqual(after, created);
  assert.equal((await signIn(hardened, email, 'other-horse-battery')).status, 200);
  assert.equal((await signIn(hardened, email, 'fresh-horse-battery')).status, 401);
});

test('PW-05: compat mode (the default) verifies both formats and never rewrites a hash', async () => {
  const scryptEmail = uniqueEmail('pw05-compat');
  const original = betterAuthHash('compat-horse-battery');
  await insertUser(compat, scryptEmail, original);
  assert.equal((await signIn(compat, scryptEmail, 'compat-horse-battery')).status, 200);
  assert.equal(await storedHash(compat, scryptEmail), original);

  // A database that was served in argon2id mode keeps working after switching back.
  const argonEmail = uniqueEmail('pw05-compat-argon');
  const weak = '$argon2id$v=19$m=19456,t=1,p=1$cGd3YXJkZW4ta2F0LTAxNg$fpr/+SVCBEjeGB7gWRz/h4aeH5VxpxVUflUXd2ALrKE';
  await insertUser(compat, argonEmail, weak);
  assert.equal((await signIn(compat, argonEmail, 'correct-horse-2')).status, 200);
  assert.equal((await signIn(compat, argonEmail, 'correct-horse-3')).status, 401);
  assert.equal(await storedHash(compat, argonEmail), weak);

  const email = uniqueEmail('pw05-compat-signup');
  const up = await post(compat, '/sign-up/email', { name: 'New', email, password: 'fresh-horse-battery' });
  assert.equal(up.status, 200, up.text);
  assert.match(await storedHash(compat, email), SCRYPT);
});
