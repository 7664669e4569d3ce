// security.md section H (JW-01..JW-10): JWT issuance and JWKS of the auth service, JWT verification in the
// Data API. Black-box: the tokens pgwarden issues (/token, set-auth-jwt), its public JWKS, forged and altered
// tokens, and tokens signed by keys the server trusts:
//   - pgwarden's own Ed25519 key, read back from neon_auth.jwks exactly as a Better Auth instance sharing the
//     database would (Better Auth's symmetricDecrypt with the shared secret; docs/configuration.md
//     PGWARDEN_SECRET), so claims can be varied under the server's real issuer/audience configuration;
//   - third-party keys published by a loopback JWKS server (PGWARDEN_DATA_API_JWKS_URLS).
// Default configuration except where a row needs otherwise (a second server for PGRST_JWT_AUD, restarts for
// key rotation). Every test name starts with its row id.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { symmetricDecrypt, symmetricEncrypt } from 'better-auth/crypto';
import {
  startServer, createDatabase, spawnServer, newSecret, assertCleanExit, raw, get, post, signUp, signIn, uniqueEmail,
  showServerOutputOnFailure,
} from '../e2e/harness.mjs';
import { start as startMailbox } from '../e2e/mailbox.mjs';
import { mailEnv } from '../e2e/email.common.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const b64 = (x) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);
const decode = (token) => {
  const [h, p] = token.split('.');
  return { header: JSON.parse(Buffer.from(h, 'base64url')), payload: JSON.parse(Buffer.from(p, 'base64url')) };
};

// ---------------------------------------------------------------- keys and signing

/** Signs raw header/payload JSON texts (strings are used verbatim, objects are serialised). */
function signRaw(header, payload, key, alg = header.alg ?? JSON.parse(header).alg) {
  const input = `${b64(header)}.${b64(payload)}`;
  let sig;
  if (alg === 'EdDSA') sig = crypto.sign(null, Buffer.from(input), key);
  else if (alg === 'ES256') sig = crypto.sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  else if (alg === 'ES384') sig = crypto.sign('sha384', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  else if (alg === 'RS256') sig = crypto.sign('sha256', Buffer.from(input), key);
  else if (alg === 'HS256') sig = crypto.createHmac('sha256', key).update(input).digest();
  else throw new Error(`signRaw: ${alg}`);
  return `${input}.${Buffer.from(sig).toString('base64url')}`;
}

function keyPair(type, kid, opts = {}) {
  const { privateKey, publicKey } = crypto.generateKeyPairSync(type, opts);
  const alg = type === 'ed25519' ? 'EdDSA' : type === 'ec' ? 'ES256' : 'RS256';
  return { kid, alg, privateKey, publicKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' } };
}

/** pgwarden's newest signing key, unsealed with Better Auth's own code and the shared secret. */
async function ownKey(srv) {
  const { rows } = await srv.db.query('SELECT id::text AS id, "privateKey" FROM neon_auth.jwks ORDER BY "createdAt" DESC LIMIT 1');
  const jwk = JSON.parse(await symmetricDecrypt({ key: srv.secret, data: JSON.parse(rows[0].privateKey) }));
  return { kid: rows[0].id, alg: 'EdDSA', privateKey: crypto.createPrivateKey({ key: jwk, format: 'jwk' }) };
}

// ---------------------------------------------------------------- servers

const tp = {
  ed: keyPair('ed25519', 'tp-ed'),
  ec: keyPair('ec', 'tp-ec', { namedCurve: 'P-256' }),
  rsa: keyPair('rsa', 'tp-rsa', { modulusLength: 2048 }),
  weak: keyPair('rsa', 'tp-rsa-1024', { modulusLength: 1024 }),
  ttlOld: keyPair('ec', 'ttl-old', { namedCurve: 'P-256' }),
  ttlNew: keyPair('ec', 'ttl-new', { namedCurve: 'P-256' }),
};
const hits = { main: 0, ttl: 0, canary: [] };
let ttlKeys = [tp.ttlOld.jwk];
let jwksServer, srv, own, user, mailbox;
let ttlSrv;         // JW-08: a second server whose only JWKS is the max-age=60 one (no unknown-kid refetches)
let jwksMain, jwksTtl, canaryUrl;
let ttlStart;       // when the server first fetched the max-age=60 JWKS
let warm;           // JW-05: {token, exp} minted in before()
const API = () => `${srv.baseUrl}/neondb/rest/v1`;

function tokenFor(key, claims = {}, header = {}) {
  const h = { alg: key.alg, kid: key.kid, ...header };
  for (const k of Object.keys(h)) if (h[k] === undefined) delete h[k];
  const p = { sub: user?.user.id ?? 'someone', role: 'authenticated', iat: now(), exp: now() + 300, ...claims };
  for (const k of Object.keys(p)) if (p[k] === undefined) delete p[k];
  return signRaw(h, p, key.privateKey, h.alg);
}
/** A token signed with pgwarden's own key carrying the claims pgwarden itself issues (iss/aud = base URL). */
const ownToken = (claims = {}, header = {}) => tokenFor(own, { iss: srv.baseUrl, aud: srv.baseUrl, ...claims }, header);

function notes(token, { headers = {}, base = API() } = {}) {
  const h = { ...headers };
  if (token !== undefined) h.Authorization = `Bearer ${token}`;
  return raw(`${base}/notes?select=id,title`, { headers: h });
}

async function reloadSchema(s, probe) {
  await s.db.query("NOTIFY pgrst, 'reload schema'");
  for (let i = 0; i < 200; i++) {
    const r = await probe();
    if (r.status !== 404) return;
    await sleep(25);
  }
  throw new Error('the Data API did not pick up the new schema');
}

const SCHEMA = `
  CREATE TABLE public.notes (id int PRIMARY KEY, title text NOT NULL);
  INSERT INTO public.notes VALUES (1, 'hello');
  GRANT USAGE ON SCHEMA public TO authenticated, anonymous;
  GRANT SELECT ON public.notes TO authenticated;
  CREATE FUNCTION public.jw02_whoami() RETURNS text LANGUAGE sql STABLE AS 'SELECT current_user::text';`;

before(async () => {
  jwksServer = http.createServer((req, res) => {
    if (req.url.startsWith('/jwks-main')) {
      hits.main++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [tp.ed.jwk, tp.ec.jwk, tp.rsa.jwk, tp.weak.jwk] }));
    } else if (req.url.startsWith('/jwks-ttl')) {
      hits.ttl++;
      if (!ttlStart) ttlStart = Date.now();
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=60' });
      res.end(JSON.stringify({ keys: ttlKeys }));
    } else {
      hits.canary.push(`${req.method} ${req.url}`);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [] }));
    }
  });
  await new Promise((r) => jwksServer.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${jwksServer.address().port}`;
  jwksMain = `${origin}/jwks-main`;
  jwksTtl = `${origin}/jwks-ttl`;
  canaryUrl = `${origin}/canary`;
  mailbox = await startMailbox();
  srv = await startServer({ env: { PGWARDEN_DATA_API_JWKS_URLS: jwksMain, ...mailEnv(mailbox) } });
  await srv.db.query(SCHEMA);
  const ttl = await spawnServer({
    databaseUrl: `${process.env.PGWARDEN_TEST_PG} dbname=${srv.dbName}`, secret: srv.secret,
    env: { PGWARDEN_DATA_API_JWKS_URLS: jwksTtl },
  });
  ttlSrv = { ...ttl, baseUrl: `http://localhost:${ttl.port}`, stderr: ttl.output, api: `http://localhost:${ttl.port}/neondb/rest/v1` };
  user = await signUp(srv);
  own = await ownKey(srv);
  await reloadSchema(srv, () => notes(ownToken()));
  // JW-05 (warm cache): a token that expires in 3 s, used now; the last test of the file uses it again.
  warm = { exp: now() + 3 };
  warm.token = ownToken({ exp: warm.exp });
});

after(async () => {
  if (ttlSrv) assertCleanExit(await ttlSrv.terminate(), ttlSrv.output());
  await srv?.stop();
  await mailbox?.stop();
  await new Promise((r) => (jwksServer ? jwksServer.close(r) : r()));
});
showServerOutputOnFailure(() => [srv, ttlSrv]);

function assert401(r, what) {
  assert.equal(r.status, 401, `${what}: expected 401, got ${r.status} ${r.text?.slice(0, 300)}`);
}

// ---------------------------------------------------------------- JW-05 (first half: warm the cache)

test('JW-05: a token with exp=now+3 is accepted now (its verification is cached from here on)', async () => {
  for (let i = 0; i < 3; i++) {
    const r = await notes(warm.token);
    assert.equal(r.status, 200, r.text);
  }
});

// JW-08, third-party keys: the JWKS behind jwksTtl answers max-age=60; its old key is withdrawn now and must stop
// verifying once that minute is over (checked at the end of the file).
test('JW-08: a key of a max-age=60 JWKS verifies; then it is withdrawn from the JWKS (checked again after the TTL)', async () => {
  assert.ok(ttlStart, 'the server fetched the JWKS at start');
  const r = await notes(tokenFor(tp.ttlOld), { base: ttlSrv.api });
  assert.equal(r.status, 200, r.text);
  ttlKeys = [tp.ttlNew.jwk];
  assert.equal(hits.ttl, 1, 'one fetch so far');
});

// ---------------------------------------------------------------- JW-01

test('JW-01: the JWKS has public keys only, each with kid/kty/alg and a correct curve; issued tokens name a published kid', async () => {
  for (const p of ['/jwks', '/.well-known/jwks.json']) {
    const r = await get(srv, p);
    assert.equal(r.status, 200, `${p}: ${r.text}`);
    const cc = r.headers['cache-control'] ?? '';
    assert.match(cc, /max-age=\d+/, `${p}: caching headers, got cache-control "${cc}"`);
    assert.ok(Number(/max-age=(\d+)/.exec(cc)[1]) > 0, cc);
    assert.ok(Array.isArray(r.json?.keys) && r.json.keys.length >= 1, r.text);
    for (const k of r.json.keys) {
      for (const m of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth']) assert.equal(k[m], undefined, `${p}: private member ${m} in ${JSON.stringify(k)}`);
      assert.equal(typeof k.kid, 'string');
      assert.ok(k.kid.length > 0);
      assert.ok(['OKP', 'EC', 'RSA'].includes(k.kty), JSON.stringify(k));
      assert.equal(typeof k.alg, 'string', `alg in ${JSON.stringify(k)}`);
      if (k.use !== undefined) assert.equal(k.use, 'sig');
      if (k.kty === 'OKP') {
        assert.equal(k.crv, 'Ed25519');
        assert.equal(k.alg, 'EdDSA');
        assert.equal(Buffer.from(k.x, 'base64url').length, 32);
      }
      if (k.kty === 'EC') assert.ok(['P-256', 'P-384', 'P-521'].includes(k.crv), JSON.stringify(k));
      if (k.kty === 'RSA') assert.ok(Buffer.from(k.n, 'base64url').length >= 256, `RSA modulus of ${k.kid} < 2048 bits`);
    }
  }
  const set = (await get(srv, '/jwks')).json.keys;
  const t = await get(srv, '/token', { cookie: user.cookie });
  assert.equal(t.status, 200, t.text);
  const gs = await get(srv, '/get-session', { cookie: user.cookie });
  assert.equal(gs.status, 200, gs.text);
  for (const token of [t.json.token, gs.headers['set-auth-jwt']]) {
    assert.ok(token, 'a token');
    const { header } = decode(token);
    const key = set.find((k) => k.kid === header.kid);
    assert.ok(key, `kid ${header.kid} is published`);
    assert.equal(header.alg, key.alg);
    // And the published key really verifies it.
    const [h, p, s] = token.split('.');
    assert.ok(crypto.verify(null, Buffer.from(`${h}.${p}`), crypto.createPublicKey({ key, format: 'jwk' }), Buffer.from(s, 'base64url')));
  }
});

// ---------------------------------------------------------------- JW-02

test('JW-02: /token and set-auth-jwt of a user whose role column is "admin": EdDSA, role authenticated, sub = user id, exp-iat = 900, iss/aud = config, no secrets', async () => {
  const u = await signUp(srv);
  await srv.db.query('UPDATE neon_auth."user" SET role = $2 WHERE id = $1', [u.user.id, 'admin']);
  const s = await signIn(srv, u.email);
  const t = await get(srv, '/token', { cookie: s.cookie });
  assert.equal(t.status, 200, t.text);
  const gs = await get(srv, '/get-session', { cookie: s.cookie });
  for (const token of [t.json.token, gs.headers['set-auth-jwt']]) {
    const { header, payload } = decode(token);
    assert.equal(header.alg, 'EdDSA');
    assert.equal(payload.role, 'authenticated', `role claim: ${JSON.stringify(payload)}`);
    assert.equal(payload.sub, u.user.id);
    assert.equal(typeof payload.iat, 'number');
    assert.equal(payload.exp - payload.iat, 900);
    assert.ok(Math.abs(payload.iat - now()) <= 5, 'iat is now');
    assert.equal(payload.iss, srv.baseUrl);
    assert.equal(payload.aud, srv.baseUrl);
    for (const k of Object.keys(payload)) {
      assert.doesNotMatch(k, /password|hash|token|secret|session|banned/i, `claim ${k} in ${JSON.stringify(payload)}`);
    }
    assert.ok(!JSON.stringify(payload).includes(s.token), 'the session token is not in the JWT');
  }
  // Whatever the user row says, the Data API runs the token as authenticated.
  const me = await raw(`${API()}/rpc/jw02_whoami`, { method: 'POST', headers: { Authorization: `Bearer ${t.json.token}` }, body: {} });
  assert.equal(me.status, 200, me.text);
  assert.equal(me.json, 'authenticated', me.text);
});

// ---------------------------------------------------------------- JW-03

test('JW-03: alg none / None / NONE, with an empty or a borrowed signature -> 401', async () => {
  const real = ownToken();
  const payload = decode(real).payload;
  for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
    for (const kid of [own.kid, undefined]) {
      const h = b64(kid ? { alg, kid } : { alg });
      assert401(await notes(`${h}.${b64(payload)}.`), `alg ${alg} kid ${kid} empty signature`);
      assert401(await notes(`${h}.${b64(payload)}.${real.split('.')[2]}`), `alg ${alg} kid ${kid} borrowed signature`);
    }
  }
  assert.equal((await notes(real)).status, 200, 'control: the same claims properly signed');
});

test('JW-03: HS256 keyed with the published Ed25519 key (JWK text, PEM, raw x) -> 401', async () => {
  const jwks = (await get(srv, '/jwks'));
  const entry = jwks.json.keys.find((k) => k.kid === own.kid);
  const pem = crypto.createPublicKey({ key: entry, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
  const secrets = [JSON.stringify(entry), jwks.text, pem, pem.trim(), Buffer.from(entry.x, 'base64url'), entry.x];
  for (const secret of secrets) {
    for (const kid of [own.kid, undefined]) {
      const token = signRaw({ alg: 'HS256', typ: 'JWT', ...(kid ? { kid } : {}) },
        { sub: user.user.id, role: 'authenticated', iss: srv.baseUrl, aud: srv.baseUrl, exp: now() + 300 }, secret, 'HS256');
      assert401(await notes(token), `HS256 keyed with ${String(secret).slice(0, 30)}… kid ${kid}`);
    }
  }
});

test('JW-03: an algorithm not bound to the selected JWK -> 401 (ES256/RS256 label on the EdDSA kid, EdDSA label on an EC kid)', async () => {
  const attackerEc = keyPair('ec', own.kid, { namedCurve: 'P-256' });
  assert401(await notes(tokenFor(attackerEc, { iss: srv.baseUrl, aud: srv.baseUrl })), 'ES256 token under the EdDSA kid');
  const attackerRsa = keyPair('rsa', own.kid, { modulusLength: 2048 });
  assert401(await notes(tokenFor(attackerRsa, { iss: srv.baseUrl, aud: srv.baseUrl })), 'RS256 token under the EdDSA kid');
  // The server's own Ed25519 key, but labelled with the kid of a third-party EC / RSA key.
  assert401(await notes(ownToken({}, { kid: tp.ec.kid })), 'EdDSA under an ES256 kid');
  assert401(await notes(ownToken({}, { kid: tp.rsa.kid })), 'EdDSA under an RS256 kid');
  // A third-party EC key's signature labelled as ES384 / RS256.
  assert401(await notes(tokenFor(tp.ec, {}, { alg: 'ES384' })), 'ES384 (SHA-384) signature by the P-256 key');
  assert.equal((await notes(tokenFor(tp.ec))).status, 200, 'control: the EC key with ES256');
});

// ---------------------------------------------------------------- JW-04

test('JW-04: jwk / jku / x5u / x5c headers are never trusted or fetched -> 401, the canary sees nothing', async () => {
  const attacker = keyPair('ed25519', 'attacker');
  const { kid: _k, alg: _a, use: _u, ...attackerPub } = attacker.jwk;
  const claims = { iss: srv.baseUrl, aud: srv.baseUrl };
  const variants = [
    ['embedded jwk, no kid', { kid: undefined, jwk: attackerPub }],
    ['embedded jwk under the server kid', { kid: own.kid, jwk: attackerPub }],
    ['jku', { kid: 'attacker', jku: `${canaryUrl}/jku` }],
    ['jku under the server kid', { kid: own.kid, jku: `${canaryUrl}/jku2` }],
    ['x5u', { kid: 'attacker', x5u: `${canaryUrl}/x5u` }],
    ['x5c', { kid: undefined, x5c: [Buffer.from('not a certificate').toString('base64')] }],
  ];
  for (const [what, header] of variants) assert401(await notes(tokenFor(attacker, claims, header)), what);
  await sleep(300);
  assert.deepEqual(hits.canary, [], 'no request to a URL named in a token header');
});

test('JW-04: hostile kid values (path, SQL, 10 KB, unicode, non-string) -> 401, never 5xx', async () => {
  const attacker = keyPair('ed25519', 'attacker');
  const kids = ['../../dev/null', '/etc/passwd', "' OR '1'='1", '"; DROP TABLE notes; --', 'k'.repeat(10 * 1024),
    'ключ-🔑-\u0000-\u202e', '', 42, null, { $ne: 1 }, [own.kid]];
  for (const kid of kids) {
    for (const key of [attacker, own]) {
      const r = await notes(tokenFor({ ...key, kid }, { iss: srv.baseUrl, aud: srv.baseUrl }));
      assert401(r, `kid ${JSON.stringify(kid).slice(0, 40)} signed by ${key === own ? 'the server key' : 'an attacker key'}`);
    }
  }
  const alive = await raw(`${srv.baseUrl}/health/live`);
  assert.equal(alive.status, 200);
  assert.equal((await srv.db.query('SELECT count(*)::int AS n FROM public.notes')).rows[0].n, 1, 'notes intact');
});

test('JW-04: 100 requests in about a second with random unknown kids -> 401 and at most one JWKS fetch per URL', async () => {
  const attacker = keyPair('ed25519', 'x');
  const before = { ...hits };
  const results = [];
  for (let batch = 0; batch < 10; batch++) {
    const rs = await Promise.all(Array.from({ length: 10 }, () =>
      notes(tokenFor({ ...attacker, kid: crypto.randomUUID() }))));
    results.push(...rs.map((r) => r.status));
    await sleep(100);
  }
  assert.deepEqual([...new Set(results)], [401]);
  assert.ok(hits.main - before.main <= 1, `JWKS ${jwksMain} fetched ${hits.main - before.main} times`);
});

// ---------------------------------------------------------------- JW-05

test('JW-05: exp=now-31 -> 401; exp=now-5 -> 200 (skew); no exp -> 401; nbf=now+120 -> 401; iat=now+120 -> 401', async () => {
  const t = now();
  assert401(await notes(ownToken({ exp: t - 31 })), 'exp = now-31');
  assert.equal((await notes(ownToken({ exp: t - 5, iat: t - 60 }))).status, 200, 'exp = now-5 is within the 30 s skew');
  assert401(await notes(ownToken({ exp: undefined })), 'no exp');
  assert401(await notes(ownToken({ nbf: t + 120 })), 'nbf = now+120');
  assert401(await notes(ownToken({ iat: t + 120, exp: t + 600 })), 'iat = now+120');
  // Non-numeric time claims are not a way around the checks.
  assert401(await notes(ownToken({ exp: String(t + 300) })), 'exp as a string');
  assert401(await notes(ownToken({ exp: null })), 'exp null');
  assert401(await notes(ownToken({ nbf: String(t + 120) })), 'nbf as a string');
  // The same for a third-party key.
  assert401(await notes(tokenFor(tp.ec, { exp: t - 31 })), 'third-party exp = now-31');
  assert401(await notes(tokenFor(tp.ec, { exp: undefined })), 'third-party no exp');
});

// ---------------------------------------------------------------- JW-06

test('JW-06: pgwarden\'s own key: aud of another service / no aud / another iss / aud of a wrong type -> 401; aud array containing ours -> 200', async () => {
  const cases = [
    ['aud "other-api"', { aud: 'other-api' }, 401],
    ['aud ["other", ours]', { aud: ['other-api', srv.baseUrl] }, 200],
    ['no aud', { aud: undefined }, 401],
    ['iss of another issuer', { iss: 'https://other-issuer.example' }, 401],
    ['no iss', { iss: undefined }, 401],
    ['aud a number', { aud: 42 }, 401],
    ['aud an object', { aud: { aud: srv.baseUrl } }, 401],
  ];
  const failures = [];
  for (const [what, claims, status] of cases) {
    const r = await notes(ownToken(claims));
    if (r.status !== status) failures.push(`${what}: expected ${status}, got ${r.status}`);
  }
  assert.deepEqual(failures, []);
});

test('JW-06: with PGRST_JWT_AUD configured, third-party tokens: aud other / missing / wrong type -> 401, array containing it -> 200', async () => {
  const s = await spawnServer({
    databaseUrl: `${process.env.PGWARDEN_TEST_PG} dbname=${srv.dbName}`,
    secret: srv.secret,
    env: { PGWARDEN_DATA_API_JWKS_URLS: jwksMain, PGRST_JWT_AUD: 'https://api.ours.example' },
  });
  try {
    const base = `http://localhost:${s.port}/neondb/rest/v1`;
    const cases = [
      ['aud ours', { aud: 'https://api.ours.example' }, 200],
      ['aud "other-api"', { aud: 'other-api' }, 401],
      ['aud ["other", ours]', { aud: ['other-api', 'https://api.ours.example'] }, 200],
      ['no aud', { aud: undefined }, 401],
      ['aud []', { aud: [] }, 401],
      ['aud a number', { aud: 42 }, 401],
      ['aud an object', { aud: { a: 'https://api.ours.example' } }, 401],
    ];
    const failures = [];
    for (const [what, claims, status] of cases) {
      const r = await notes(tokenFor(tp.ec, claims), { base });
      if (r.status !== status) failures.push(`${what}: expected ${status}, got ${r.status} ${r.text}`);
    }
    assert.deepEqual(failures, []);
  } finally {
    assertCleanExit(await s.terminate(), s.output());
  }
});

// ---------------------------------------------------------------- JW-07

test('JW-07: ES256 signature of 64 zero bytes, r or s = 0 or >= n, DER-encoded, or of the wrong length -> 401', async () => {
  const good = tokenFor(tp.ec);
  assert.equal((await notes(good)).status, 200, 'control');
  const [h, p, s] = good.split('.');
  const sig = Buffer.from(s, 'base64url');
  const r = sig.subarray(0, 32);
  const sv = sig.subarray(32);
  const n = Buffer.from('ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551', 'hex');
  const zero = Buffer.alloc(32);
  const der = crypto.sign('sha256', Buffer.from(`${h}.${p}`), { key: tp.ec.privateKey, dsaEncoding: 'der' });
  const forged = [
    ['64 zero bytes', Buffer.alloc(64)],
    ['r = 0', Buffer.concat([zero, sv])],
    ['s = 0', Buffer.concat([r, zero])],
    ['r = s = n', Buffer.concat([n, n])],
    ['r = n', Buffer.concat([n, sv])],
    ['DER encoding of a valid signature', der],
    ['63 bytes', sig.subarray(0, 63)],
    ['65 bytes', Buffer.concat([sig, Buffer.from([0])])],
  ];
  for (const [what, bytes] of forged) assert401(await notes(`${h}.${p}.${bytes.toString('base64url')}`), what);
});

test('JW-07: Ed25519 signature with S+L (non-canonical) or of the wrong length -> 401', async () => {
  const L = (1n << 252n) + 27742317777372353535851937790883648493n;
  for (const token of [ownToken(), tokenFor(tp.ed)]) {
    assert.equal((await notes(token)).status, 200, 'control');
    const [h, p, s] = token.split('.');
    const sig = Buffer.from(s, 'base64url');
    const S = BigInt(`0x${Buffer.from(sig.subarray(32)).reverse().toString('hex')}`);
    const S2 = S + L;
    assert.ok(S2 < (1n << 256n));
    const s2 = Buffer.from(S2.toString(16).padStart(64, '0'), 'hex').reverse();
    const forged = [
      ['S + L', Buffer.concat([sig.subarray(0, 32), s2])],
      ['63 bytes', sig.subarray(0, 63)],
      ['65 bytes', Buffer.concat([sig, Buffer.from([0])])],
      ['empty', Buffer.alloc(0)],
    ];
    for (const [what, bytes] of forged) assert401(await notes(`${h}.${p}.${bytes.toString('base64url')}`), what);
  }
});

test('JW-07: a 1024-bit RSA key in a JWKS is ignored (its tokens get 401) and logged; a 2048-bit one works', async () => {
  assert.equal((await notes(tokenFor(tp.rsa))).status, 200, 'control: RSA 2048');
  assert401(await notes(tokenFor(tp.weak)), 'RS256 token of the 1024-bit key');
  const lines = srv.stderr().split('\n').filter((l) => /"level":"(warn|error)"/.test(l) && /jwk|jwks|key/i.test(l) && /1024|rsa|small|short|weak|bits|tp-rsa-1024/i.test(l));
  assert.ok(lines.length >= 1, `a warning/error naming the refused RSA key:\n${srv.stderr().split('\n').filter((l) => /jwk/i.test(l)).join('\n')}`);
});

// ---------------------------------------------------------------- JW-08 (own keys: rotation through restarts)

test('JW-08: rotation of pgwarden\'s keys: the new key signs, old tokens verify during the grace period, not after it', async () => {
  const database = await createDatabase();
  const secret = newSecret();
  let server;
  const pg = await import('pg');
  const db = new pg.default.Pool({ ...database.pgConfig, max: 1 });
  const restart = async () => {
    if (server) assertCleanExit(await server.terminate(), server.output());
    // One issuer/audience across restarts (each restart gets a new port, hence a new default base URL): the
    // Data API accepts pgwarden's own tokens only for its configured issuer and audience (JW-06).
    server = await spawnServer({
      databaseUrl: database.databaseUrl, secret,
      env: { PGWARDEN_JWT_ISSUER: 'http://jw08.test', PGWARDEN_JWT_AUDIENCE: 'http://jw08.test' },
    });
    const out = server.output;
    return { authUrl: `http://localhost:${server.port}/neondb/auth`, baseUrl: `http://localhost:${server.port}`, stderr: out };
  };
  try {
    let s = await restart();
    await db.query(`${SCHEMA}; NOTIFY pgrst, 'reload schema'`);
    const u = await signUp(s);
    const tok = async (x) => (await get(x, '/token', { cookie: u.cookie })).json.token;
    const api = (x, t) => notes(t, { base: `${x.baseUrl}/neondb/rest/v1` });
    let t1;
    for (let i = 0; i < 100; i++) {
      t1 = await tok(s);
      if ((await api(s, t1)).status === 200) break;
      await sleep(25);
    }
    const kid1 = decode(t1).header.kid;
    assert.equal((await api(s, t1)).status, 200, 'the first key works');

    // Rotate as Better Auth's jwt plugin stores keys: a new sealed Ed25519 key, the old one expired now.
    const pair = crypto.generateKeyPairSync('ed25519');
    const priv = pair.privateKey.export({ format: 'jwk' });
    const pub = pair.publicKey.export({ format: 'jwk' });
    const sealed = await symmetricEncrypt({ key: secret, data: JSON.stringify(priv) });
    const { rows: [{ id: kid2 }] } = await db.query(
      `INSERT INTO neon_auth.jwks ("publicKey", "privateKey", "createdAt") VALUES ($1, $2, now() + interval '1 second') RETURNING id::text`,
      [JSON.stringify(pub), JSON.stringify(sealed)]);
    await db.query(`UPDATE neon_auth.jwks SET "expiresAt" = now() WHERE id = $1`, [kid1]);
    s = await restart();
    const kids = (await get(s, '/jwks')).json.keys.map((k) => k.kid).sort();
    assert.deepEqual(kids, [kid1, kid2].sort(), 'both keys published during the grace period');
    const t2 = await tok(s);
    assert.equal(decode(t2).header.kid, kid2, 'new tokens carry the new kid');
    assert.equal((await api(s, t2)).status, 200, 'new token verifies');
    assert.equal((await api(s, t1)).status, 200, 'old token still verifies during the grace period');

    // Past the grace period (30 days) the old key is gone after a reload.
    await db.query(`UPDATE neon_auth.jwks SET "expiresAt" = now() - interval '31 days' WHERE id = $1`, [kid1]);
    s = await restart();
    assert.deepEqual((await get(s, '/jwks')).json.keys.map((k) => k.kid), [kid2]);
    assert401(await api(s, t1), 'old-kid token after the key was removed');
    assert.equal((await api(s, t2)).status, 200);
  } finally {
    if (server) assertCleanExit(await server.terminate(), server.output());
    await db.end();
    await database.drop();
  }
});

// ---------------------------------------------------------------- JW-09

test('JW-09: an e-mail verification token as Bearer -> 401; an access JWT as ?token= to /verify-email is refused; the session token as Bearer -> 401', async () => {
  const u = await signUp(srv, { email: uniqueEmail('jw09') });
  const mark = mailbox.mark();
  const send = await post(srv, '/send-verification-email', { email: u.email });
  assert.equal(send.status, 200, send.text);
  const msg = await mailbox.next(u.email, { after: mark });
  const link = new URL(msg.links.find((l) => l.includes('/verify-email?')));
  const verifyToken = link.searchParams.get('token');
  assert.ok(verifyToken && verifyToken.split('.').length === 3, `a verification JWT: ${link}`);
  assert.equal(decode(verifyToken).header.alg, 'HS256');
  assert401(await notes(verifyToken), 'verify-email token as Bearer');

  const access = (await get(srv, '/token', { cookie: u.cookie })).json.token;
  const v = await raw(`${srv.authUrl}/verify-email?token=${encodeURIComponent(access)}`);
  assert.ok([400, 401].includes(v.status), `access JWT at /verify-email: ${v.status} ${v.text}`);
  const row = await srv.db.query('SELECT "emailVerified" FROM neon_auth."user" WHERE id = $1', [u.user.id]);
  assert.equal(row.rows[0].emailVerified, false, 'nothing verified');

  assert401(await notes(u.token), 'raw session token as Bearer');
  assert401(await notes(decodeURIComponent(u.cookie)), 'signed session cookie value as Bearer');
  assert401(await notes(u.cookie), 'encoded session cookie value as Bearer');
  // Control: the verification token itself still works where it belongs.
  const ok = await raw(`${srv.authUrl}/verify-email?token=${encodeURIComponent(verifyToken)}`);
  assert.ok(ok.status < 400, `${ok.status} ${ok.text}`);
});

// ---------------------------------------------------------------- JW-10

test('JW-10: malformed tokens and Authorization headers -> 401 (431 for 64 KB) at the Data API and no session at get-session, never 5xx', async () => {
  const real = ownToken();
  const [h, p, s] = real.split('.');
  const nested = '['.repeat(5000) + ']'.repeat(5000);
  const signedDup = signRaw({ alg: 'EdDSA', kid: own.kid },
    `{"sub":"${user.user.id}","role":"authenticated","iss":"${srv.baseUrl}","aud":"${srv.baseUrl}","exp":${now() + 300},"sub":"someone-else"}`, own.privateKey, 'EdDSA');
  const signedDupRole = signRaw({ alg: 'EdDSA', kid: own.kid },
    `{"sub":"${user.user.id}","role":"authenticated","iss":"${srv.baseUrl}","aud":"${srv.baseUrl}","exp":${now() + 300},"role":"postgres"}`, own.privateKey, 'EdDSA');
  const tokens = [
    ['one segment', 'abc'],
    ['two segments', `${h}.${p}`],
    ['four segments', `${real}.${s}`],
    ['empty segments', '..'],
    ['non-base64url characters', `${h}.${p}.${s.slice(0, -4)}+/=!`],
    ['non-base64url header', `!!!.${p}.${s}`],
    ['padded segments', `${h}==.${p}=.${s}`],
    ['header not JSON', `${b64('not json')}.${p}.${s}`],
    ['payload not JSON', `${h}.${b64('{"sub":')}.${s}`],
    ['header > 8 KB', `${b64({ alg: 'EdDSA', kid: own.kid, pad: 'x'.repeat(9000) })}.${p}.${s}`],
    ['deeply nested header', `${b64(`{"alg":"EdDSA","kid":"${own.kid}","x":${nested}}`)}.${p}.${s}`],
    ['signed: deeply nested claim', signRaw({ alg: 'EdDSA', kid: own.kid }, `{"sub":"a","role":"authenticated","iss":"${srv.baseUrl}","aud":"${srv.baseUrl}","exp":${now() + 300},"x":${nested}}`, own.privateKey, 'EdDSA')],
    ['signed: duplicate sub', signedDup],
    ['signed: duplicate role', signedDupRole],
    ['signed: numeric sub', ownToken({ sub: 12345 })],
    ['signed: object sub', ownToken({ sub: { id: user.user.id } })],
    ['signed: unknown crit extension', ownToken({}, { crit: ['x-unknown'], 'x-unknown': true })],
    ['signed: payload an array', signRaw({ alg: 'EdDSA', kid: own.kid }, '[1,2,3]', own.privateKey, 'EdDSA')],
  ];
  const headers = [
    ['Bearer (empty)', 'Bearer'],
    ['Bearer + spaces', 'Bearer   '],
    ['Bearer  x y', 'Bearer  x y'],
    ['Bearer token token', `Bearer ${real} ${real}`],
    ['Basic credentials', `Basic ${Buffer.from('postgres:postgres').toString('base64')}`],
  ];
  const failures = [];
  const check = async (what, authorization, allowed = [401]) => {
    const r = await raw(`${API()}/notes?select=id`, { headers: { Authorization: authorization } });
    if (!allowed.includes(r.status)) failures.push(`Data API, ${what}: ${r.status} ${r.text.slice(0, 120)}`);
    const g = await raw(`${srv.authUrl}/get-session`, { headers: { Authorization: authorization } });
    const noSession = [400, 401].includes(g.status) || (g.status === 200 && g.json === null) || g.status === 431;
    if (!noSession) failures.push(`get-session, ${what}: ${g.status} ${g.text.slice(0, 120)}`);
  };
  for (const [what, token] of tokens) await check(what, `Bearer ${token}`);
  for (const [what, value] of headers) await check(what, value);
  await check('64 KB Authorization header', `Bearer ${'a'.repeat(64 * 1024)}`, [401, 431]);
  assert.deepEqual(failures, []);
  assert.equal((await raw(`${srv.baseUrl}/health/live`)).status, 200, 'still alive');
  assert.equal((await notes(real)).status, 200, 'and still serving');
});

// ---------------------------------------------------------------- late checks (time-based)

test('JW-08: after the JWKS max-age (60 s) the withdrawn third-party key no longer verifies; the new one does', { timeout: 90_000 }, async () => {
  const due = ttlStart + 62_000;
  if (Date.now() < due) await sleep(due - Date.now());
  let r;
  // The refresh runs on the server's timer; allow it a few seconds past the TTL.
  // Only tokens of the known (withdrawn) kid are sent until then: nothing but the TTL can make it refetch.
  for (let i = 0; i < 40; i++) {
    r = await notes(tokenFor(tp.ttlOld), { base: ttlSrv.api });
    if (r.status === 401) break;
    await sleep(250);
  }
  assert401(r, 'withdrawn key after the TTL');
  assert.ok(hits.ttl >= 2, 'refetched on its own after max-age');
  assert.equal((await notes(tokenFor(tp.ttlNew), { base: ttlSrv.api })).status, 200, 'the newly published key');
});

test('JW-05: the cached token with exp=now+3 is refused once exp + 30 s skew has passed', { timeout: 60_000 }, async () => {
  const due = (warm.exp + 32) * 1000;
  if (Date.now() < due) await sleep(due - Date.now());
  assert401(await notes(warm.token), 'warm-cache token past exp + skew');
});
