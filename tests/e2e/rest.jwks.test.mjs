// The Data API with third-party JWTs: pgwarden fetches a JWKS over HTTP from a loopback server
// (PGWARDEN_DATA_API_JWKS_URLS) and verifies RS256 and ES256 tokens signed with jose; rotation makes it
// refetch on an unknown kid (once per 30 s per URL); forged, unsigned, HS256-confused and expired tokens get 401.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { SignJWT, generateKeyPair, exportJWK, exportSPKI } from 'jose';
import { BIN, createDatabase, spawnServer, newSecret, assertCleanExit, raw } from './harness.mjs';

let database, server, base, db, jwksServer, jwksUrl, secret;
let jwksHits = 0;
let published = [];  // the public JWKs the JWKS server answers with
const keys = {};     // kid -> {privateKey, publicJwk, alg}

async function makeKey(alg, kid) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  keys[kid] = { privateKey, publicKey, publicJwk, alg };
  return keys[kid];
}

function sign(kid, { exp = '5m', key = keys[kid], claims = {} } = {}) {
  return new SignJWT({ sub: 'user-1', role: 'authenticated', ...claims })
    .setProtectedHeader({ alg: key.alg, kid })
    .setExpirationTime(exp)  // a number is an absolute time (seconds), a string a lifetime from now
    .sign(key.privateKey);
}

const b64url = (s) => Buffer.from(s).toString('base64url');

async function me(token) {
  return raw(`${base}/neondb/rest/v1/me`, { headers: { authorization: `Bearer ${token}` } });
}

before(async () => {
  database = await createDatabase();
  execFileSync(BIN, ['migrate'], { env: { ...process.env, DATABASE_URL: database.databaseUrl }, stdio: 'pipe' });
  db = new pg.Pool({ ...database.pgConfig, max: 2 });
  await db.query(`
    CREATE VIEW public.me AS
      SELECT current_user::text AS role, current_setting('request.jwt.claims', true)::json->>'sub' AS sub;
    GRANT USAGE ON SCHEMA public TO authenticated, anonymous;
    GRANT SELECT ON public.me TO authenticated;`);
  await makeKey('RS256', 'rsa-1');
  await makeKey('ES256', 'ec-1');
  published = [keys['rsa-1'].publicJwk, keys['ec-1'].publicJwk];
  jwksServer = http.createServer((req, res) => {
    jwksHits++;
    res.writeHead(200, { 'content-type': 'application/jwk-set+json' });
    res.end(JSON.stringify({ keys: published }));
  });
  await new Promise((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  jwksUrl = `http://127.0.0.1:${jwksServer.address().port}/.well-known/jwks.json`;
  secret = newSecret();
  server = await spawnServer({
    databaseUrl: database.databaseUrl,
    secret,
    env: { PGWARDEN_DATA_API_JWKS_URLS: jwksUrl },
  });
  base = `http://localhost:${server.port}`;
});

after(async () => {
  if (server) assertCleanExit(await server.terminate(), server.output());
  await db?.end();
  await database?.drop();
  await new Promise((resolve) => (jwksServer ? jwksServer.close(resolve) : resolve()));
});

test('an RS256 token from the JWKS reads rows as role authenticated', async () => {
  const r = await me(await sign('rsa-1'));
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, [{ role: 'authenticated', sub: 'user-1' }]);
  assert.ok(jwksHits >= 1);
});

test('an ES256 token from the same JWKS is accepted too', async () => {
  const r = await me(await sign('ec-1'));
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, [{ role: 'authenticated', sub: 'user-1' }]);
});

test('after key rotation an unknown kid makes pgwarden refetch the JWKS once', async () => {
  await makeKey('RS256', 'rsa-2');
  published = [keys['rsa-2'].publicJwk, keys['ec-1'].publicJwk];
  const before = jwksHits;
  const r = await me(await sign('rsa-2'));
  assert.equal(r.status, 200, r.text);
  assert.equal(jwksHits, before + 1);
  // Known kids never refetch.
  assert.equal((await me(await sign('ec-1'))).status, 200);
  assert.equal(jwksHits, before + 1);
});

test('a second unknown kid within 30 s is not refetched (rate limit) and gets 401', async () => {
  await makeKey('RS256', 'rsa-3');
  published = [keys['rsa-3'].publicJwk, keys['ec-1'].publicJwk];
  const before = jwksHits;
  const r = await me(await sign('rsa-3'));
  assert.equal(r.status, 401, r.text);
  assert.equal(r.json.code, 'PGRST301');
  assert.equal(jwksHits, before);
});

test('a token signed by a key outside the set gets 401', async () => {
  const stranger = await makeKey('RS256', 'stranger');
  // Under a kid of the set, and without kid.
  assert.equal((await me(await sign('rsa-2', { key: stranger }))).status, 401);
  const noKid = await new SignJWT({ sub: 'user-1', role: 'authenticated' })
    .setProtectedHeader({ alg: 'RS256' })
    .setExpirationTime('5m')
    .sign(stranger.privateKey);
  const r = await me(noKid);
  assert.equal(r.status, 401);
  assert.equal(r.json.code, 'PGRST301');
});

test('alg none gets 401', async () => {
  const payload = b64url(JSON.stringify({ sub: 'user-1', role: 'authenticated', exp: Math.floor(Date.now() / 1000) + 300 }));
  for (const header of [{ alg: 'none' }, { alg: 'none', kid: 'rsa-2' }]) {
    const r = await me(`${b64url(JSON.stringify(header))}.${payload}.`);
    assert.equal(r.status, 401, JSON.stringify(header));
    // With a signature segment borrowed from a real token.
    const real = await sign('rsa-2');
    const r2 = await me(`${b64url(JSON.stringify(header))}.${payload}.${real.split('.')[2]}`);
    assert.equal(r2.status, 401);
  }
});

test('HS256 keyed with the public key (JWK text or PEM) gets 401', async () => {
  const key = keys['rsa-2'];
  const secrets = [JSON.stringify(key.publicJwk), await exportSPKI(key.publicKey)];
  for (const secret of secrets) {
    for (const header of [{ alg: 'HS256', kid: 'rsa-2' }, { alg: 'HS256' }]) {
      const token = await new SignJWT({ sub: 'user-1', role: 'authenticated' })
        .setProtectedHeader(header)
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode(secret));
      const r = await me(token);
      assert.equal(r.status, 401, JSON.stringify(header));
    }
  }
});

test('an expired token gets 401 JWT expired', async () => {
  const r = await me(await sign('ec-1', { exp: Math.floor(Date.now() / 1000) - 120 }));
  assert.equal(r.status, 401);
  assert.equal(r.json.code, 'PGRST303');
  assert.match(r.json.message, /expired/);
});

test('the server log never holds the tokens', async () => {
  const token = await sign('ec-1');
  await me(token);
  assert.ok(!server.output().includes(token.split('.')[2]));
  assert.match(server.output(), /dataapi\.jwks_fetched/);
});

test('a JWKS over HTTPS is used only when its certificate is trusted and names the host', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgw-jwks-tls-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', `${dir}/key.pem`, '-out', `${dir}/cert.pem`, '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost'], { stdio: 'pipe' });
  } catch {
    t.skip('no openssl command to make a certificate');
    return;
  }
  let hits = 0;
  const tls = https.createServer({ key: fs.readFileSync(`${dir}/key.pem`), cert: fs.readFileSync(`${dir}/cert.pem`) },
    (req, res) => { hits++; res.end(JSON.stringify({ keys: [keys['ec-1'].publicJwk] })); });
  await new Promise((resolve) => tls.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => tls.close(resolve)));
  const port = tls.address().port;
  const token = await sign('ec-1');
  // SSL_CERT_FILE replaces OpenSSL's default trust store for the spawned pgwarden only.
  const cases = [
    { name: 'trusted', url: `https://localhost:${port}/jwks`, env: { SSL_CERT_FILE: `${dir}/cert.pem` }, status: 200 },
    { name: 'untrusted', url: `https://localhost:${port}/jwks`, env: {}, status: 401 },
    { name: 'other host name', url: `https://127.0.0.1:${port}/jwks`, env: { SSL_CERT_FILE: `${dir}/cert.pem` }, status: 401 },
  ];
  for (const c of cases) {
    const srv = await spawnServer({ databaseUrl: database.databaseUrl, secret, env: { PGWARDEN_DATA_API_JWKS_URLS: c.url, ...c.env } });
    try {
      const r = await raw(`http://localhost:${srv.port}/neondb/rest/v1/me`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(r.status, c.status, `${c.name}: ${r.text}\n${srv.output()}`);
      if (c.status === 401) {
        // The log line travels through a pipe: give it a moment.
        for (let i = 0; i < 40 && !/jwks_fetch_failed/.test(srv.output()); i++) await new Promise((r) => setTimeout(r, 25));
        assert.match(srv.output(), /jwks_fetch_failed.*certificate verify failed/, c.name);
      }
    } finally {
      assertCleanExit(await srv.terminate(), srv.output());
    }
  }
  assert.ok(hits >= 1);
});
