// security.md section G (OA-01..OA-07): OAuth / OIDC sign-in, client side. Compact per-row checks on top of the
// e2e OAuth machinery (a real oidc-provider on loopback: ../e2e/idp.mjs; a GitHub-shaped server:
// ../e2e/github.mjs; the browser / redirect-flow helpers of ../e2e/oauth.common.mjs). The deep variants live in
// tests/e2e/oauth.*.test.mjs; here every row's black-box test is stated once. Every test name starts with its
// row id. Default configuration (in particular the 10 s outbound timeout) except PGWARDEN_OAUTH_ALLOW_LOOPBACK.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { startServer, raw, post, signCookie, APP_ORIGIN, PASSWORD, showServerOutputOnFailure } from '../e2e/harness.mjs';
import { startOidc } from '../e2e/idp.mjs';
import { startGithub } from '../e2e/github.mjs';
import {
  identity, registerClient, browser, startSocial, navigate, verifierOf, exchange, assertExchanged, assertErrorRedirect,
  assertSdkError, counts, userRow, accountRows, verifyEmailInDb, oidcFlow, oidcSignIn, expireNewestVerification, stopAll,
} from '../e2e/oauth.common.mjs';

const CID = 'pgwarden-acme';
const SECRET = `acme-secret-${crypto.randomBytes(12).toString('hex')}`;
const GH_CID = 'gh-client-id';
const GH_SECRET = `gh-secret-${crypto.randomBytes(12).toString('hex')}`;
const OOPS = `${APP_ORIGIN}/oops`;
const STATE_COOKIE = '__Secure-neon-auth.state';
let idp, gh, srv, canary;
const canaryHits = [];
const extraServers = [];
const extraIdps = [];
let ghIds = 910000;

before(async () => {
  canary = http.createServer((req, res) => { canaryHits.push(`${req.method} ${req.url}`); res.end('{}'); });
  await new Promise((r) => canary.listen(0, '127.0.0.1', r));
  idp = await startOidc();
  gh = await startGithub({ clients: [{ client_id: GH_CID, client_secret: GH_SECRET }] });
  srv = await startServer({ env: { ...idp.env('ACME', CID, SECRET), ...gh.env(GH_CID, GH_SECRET) } });
  registerClient(idp, srv, 'acme', CID, SECRET);
});
after(async () => {
  idp?.reset();
  await stopAll([srv, ...extraServers], [idp, gh, ...extraIdps]);
  canary?.closeAllConnections?.();
  await new Promise((r) => (canary ? canary.close(r) : r()));
});
showServerOutputOnFailure(() => [srv, ...extraServers]);

const acme = (extra = {}) => ({ provider: 'acme', callbackURL: '/dashboard', errorCallbackURL: '/oops', ...extra });
const verified = (tag) => ({ ...identity(tag), email_verified: true });
const ERR_BASES = () => [OOPS, `${srv.authUrl}/error`];

async function assertNothingCreated(before, what) {
  assert.deepEqual(await counts(srv), before, `${what}: no user, session or account created`);
}

/** Bits of entropy a random string of this alphabet and length can carry. */
function entropyBits(s) {
  const alphabet = /^[0-9a-f]+$/.test(s) ? 16 : /^[0-9A-Za-z]+$/.test(s) ? 62 : 64;
  return s.length * Math.log2(alphabet);
}

// ---------------------------------------------------------------- OA-01

test('OA-01: state is >= 128-bit random, single per flow, stored server-side (10 min) and bound to the browser by a signed cookie', async () => {
  const b = browser(srv);
  const { rows: [{ n: rowsBefore }] } = await srv.db.query('SELECT count(*)::int AS n FROM neon_auth.verification');
  const s1 = await startSocial(b, acme());
  const s2 = await startSocial(browser(srv), acme());
  assert.ok(entropyBits(s1.state) >= 128, `state ${s1.state} carries < 128 bits`);
  assert.notEqual(s1.state, s2.state);
  const cookie = b.jar.get(STATE_COOKIE);
  assert.ok(cookie, `a state cookie (${STATE_COOKIE}) is set: ${[...b.jar.cookies.keys()]}`);
  assert.equal(cookie, signCookie(srv.secret, s1.state), 'the state cookie is the state, HMAC-signed with the secret');
  const { rows } = await srv.db.query(`SELECT identifier, value, EXTRACT(epoch FROM "expiresAt" - "createdAt")::int AS ttl
    FROM neon_auth.verification ORDER BY "createdAt" DESC LIMIT 2`);
  assert.equal(rows.length, 2);
  assert.equal((await srv.db.query('SELECT count(*)::int AS n FROM neon_auth.verification')).rows[0].n, rowsBefore + 2, 'stored server-side');
  for (const r of rows) assert.ok(r.ttl > 0 && r.ttl <= 600, `state lifetime ${r.ttl} s (<= 10 min)`);
});

test('OA-01: callback without state -> error=state_not_found, no session cookie, nothing created', async () => {
  const before = await counts(srv);
  assertErrorRedirect(srv, await navigate(`${srv.authUrl}/callback/acme?code=abc`), { error: 'state_not_found' });
  await assertNothingCreated(before, 'no state');
});

test('OA-01: a callback carrying another browser\'s state cookie -> error=state_mismatch, no session', async () => {
  const victim = browser(srv);
  await startSocial(victim, acme());  // the victim's browser holds the state cookie of its own flow
  const s = await startSocial(browser(srv), acme());  // the attacker's flow
  const cb = await idp.login(null, s.url.toString(), verified('oa01csrf'));
  const before = await counts(srv);
  const nav = await navigate(cb, victim.jar);
  assertErrorRedirect(srv, nav, { base: ERR_BASES(), error: 'state_mismatch' });
  await assertNothingCreated(before, 'foreign state cookie');
});

test('OA-01: replay of a completed callback -> error, no second session, the code is not re-sent', async () => {
  const f = await oidcFlow(idp, browser(srv), acme(), verified('oa01replay'));
  assert.equal(f.nav.status, 302);
  verifierOf(f.nav.location);
  const before = await counts(srv);
  const tokenCalls = idp.tokenRequests.length;
  assertErrorRedirect(srv, await navigate(f.callback), { base: ERR_BASES() });
  assert.equal(idp.tokenRequests.length, tokenCalls);
  await assertNothingCreated(before, 'replay');
});

test('OA-01: a state past its 10 min lifetime -> error, no token request, no session', async () => {
  const s = await startSocial(browser(srv), acme());
  await expireNewestVerification(srv);
  const cb = await idp.login(null, s.url.toString(), verified('oa01old'));
  const before = await counts(srv);
  const tokenCalls = idp.tokenRequests.length;
  assertErrorRedirect(srv, await navigate(cb), { base: ERR_BASES() });
  assert.equal(idp.tokenRequests.length, tokenCalls);
  await assertNothingCreated(before, 'expired state');
});

test('OA-01: the state of provider acme delivered to /callback/github -> error, no session', async () => {
  const s = await startSocial(browser(srv), acme());
  const cb = new URL(await idp.login(null, s.url.toString(), verified('oa01cross')));
  const before = await counts(srv);
  const ghTokens = gh.tokenRequests.length;
  const nav = await navigate(`${srv.authUrl}/callback/github?code=${cb.searchParams.get('code')}&state=${cb.searchParams.get('state')}`);
  assertErrorRedirect(srv, nav, { base: ERR_BASES() });
  assert.equal(gh.tokenRequests.length, ghTokens, 'the code is not sent to the other provider');
  await assertNothingCreated(before, 'state of another provider');
});

// ---------------------------------------------------------------- OA-02

test('OA-02: PKCE S256 on every authorization request; the token request carries the 43-128 char verifier whose SHA-256 is the challenge', async () => {
  const f = await oidcSignIn(srv, idp, browser(srv), acme(), verified('oa02'));
  const az = idp.authorizeRequests.at(-1);
  assert.equal(az.code_challenge_method, 'S256');
  const tr = idp.tokenRequests.at(-1);
  const v = tr.params.code_verifier;
  assert.ok(v && v.length >= 43 && v.length <= 128 && /^[A-Za-z0-9._~-]+$/.test(v), `verifier ${v}`);
  assert.equal(crypto.createHash('sha256').update(v).digest('base64url'), az.code_challenge);
  assert.equal(az.code_challenge, f.start.params.code_challenge);
  // The same for the non-OIDC provider (GitHub).
  const user = { id: ++ghIds, login: `oa02-${ghIds}`, name: 'PKCE', email: null, emails: [{ email: identity('oa02gh').email, primary: true, verified: true, visibility: 'private' }] };
  const s = await startSocial(browser(srv), { provider: 'github', callbackURL: '/dashboard' });
  assert.equal(s.params.code_challenge_method, 'S256');
  const nav = await navigate(await gh.authorize(s.url.toString(), { user }));
  assert.equal(nav.status, 302, nav.text);
  const gtr = gh.tokenRequests.at(-1);
  assert.equal(crypto.createHash('sha256').update(gtr.params.code_verifier).digest('base64url'), s.params.code_challenge);
});

test('OA-02: reserved authorize parameters in the sign-in/social body are refused (400) or cannot change the authorize URL', async () => {
  const res = await post(srv, '/sign-in/social', {
    provider: 'acme', callbackURL: '/dashboard',
    redirect_uri: 'https://evil.example/cb', redirectURI: 'https://evil.example/cb', state: 'attacker-state', nonce: 'attacker-nonce',
    client_id: 'attacker', code_challenge: 'A'.repeat(43), code_challenge_method: 'plain', response_type: 'token', scope: 'openid admin',
  });
  if (res.status === 400) return;
  assert.equal(res.status, 200, `${res.status} ${res.text}`);
  const u = new URL(res.json.url);
  const all = (k) => u.searchParams.getAll(k);
  assert.deepEqual(all('redirect_uri'), [`${srv.authUrl}/callback/acme`]);
  assert.deepEqual(all('client_id'), [CID]);
  assert.deepEqual(all('response_type'), ['code']);
  assert.deepEqual(all('code_challenge_method'), ['S256']);
  assert.deepEqual(all('state').length, 1);
  assert.notEqual(all('state')[0], 'attacker-state');
  assert.deepEqual(all('nonce').length, 1);
  assert.notEqual(all('nonce')[0], 'attacker-nonce');
  assert.notEqual(all('code_challenge')[0], 'A'.repeat(43));
  assert.ok(!all('scope')[0].split(' ').includes('admin'), `scope ${all('scope')}`);
});

test('OA-02: a caller-supplied loginHint is not forwarded blindly (only a plain e-mail address, never spliced parameters)', async () => {
  for (const bad of ['admin', 'x&prompt=none', 'a@b.example&prompt=none&redirect_uri=https://evil.example', 'a@b.example\r\nX: y']) {
    const res = await post(srv, '/sign-in/social', { provider: 'acme', callbackURL: '/dashboard', loginHint: bad });
    if (res.status === 400) continue;
    assert.equal(res.status, 200, res.text);
    const q = new URL(res.json.url).searchParams;
    assert.deepEqual(q.getAll('login_hint'), [], `login_hint forwarded for ${JSON.stringify(bad)}`);
    assert.deepEqual(q.getAll('prompt'), []);
    assert.deepEqual(q.getAll('redirect_uri'), [`${srv.authUrl}/callback/acme`]);
  }
});

// ---------------------------------------------------------------- OA-03

const t0 = () => Math.floor(Date.now() / 1000);
const ID_TOKEN_DEFECTS = [
  ['a wrong nonce', () => ({ nonce: 'not-the-nonce-of-this-flow' }), 'idp'],
  ['no nonce', () => ({ nonce: undefined }), 'idp'],
  ['aud of another client', () => ({ aud: 'another-client' }), 'idp'],
  ['several aud with azp of another client', () => ({ aud: [CID, 'another-client'], azp: 'another-client' }), 'idp'],
  ['a foreign iss', () => ({ iss: 'https://evil.example' }), 'idp'],
  ['alg none', () => ({}), 'none'],
  ['HS256 signed with the client secret', () => ({}), 'hs256'],
  ['expired', () => ({ exp: t0() - 3600, iat: t0() - 7200 }), 'idp'],
  ['an unknown kid', () => ({}), 'unknown-kid'],
  ['an embedded jwk header (attacker key)', () => ({}), 'embedded-jwk'],
  ['another key under the IdP kid', () => ({}), 'foreign'],
];

test('OA-03: every defective id_token (nonce, aud/azp, iss, alg none, HS256, exp, kid, jwk, signature) ends in an error redirect; tables unchanged', async () => {
  const failures = [];
  for (const [what, claims, key] of ID_TOKEN_DEFECTS) {
    const who = verified('oa03');
    const before = await counts(srv);
    idp.tamperIdToken(claims(), { key, secret: SECRET });
    try {
      const f = await oidcFlow(idp, browser(srv), acme(), who);
      try {
        assertErrorRedirect(srv, f.nav, { base: ERR_BASES() });
      } catch (e) {
        failures.push(`${what}: ${e.message.split('\n')[0]}`);
        continue;
      }
      const after = await counts(srv);
      if (JSON.stringify(after) !== JSON.stringify(before)) failures.push(`${what}: rows changed ${JSON.stringify(before)} -> ${JSON.stringify(after)}`);
      if (await userRow(srv, who.email)) failures.push(`${what}: user created`);
    } finally {
      idp.reset();
    }
  }
  assert.deepEqual(failures, []);
  // Control: the same flow with the id_token re-signed unchanged by the IdP key succeeds.
  idp.tamperIdToken({}, { key: 'idp' });
  try {
    await oidcSignIn(srv, idp, browser(srv), acme(), verified('oa03ok'));
  } finally {
    idp.reset();
  }
});

// ---------------------------------------------------------------- OA-04

test('OA-04: an authorization response with a foreign iss (RFC 9207) is rejected before the code is exchanged', async () => {
  idp.hooks.authorizeResponse = (u) => { u.searchParams.set('iss', 'https://other.example'); return u; };
  try {
    const before = await counts(srv);
    const tokenCalls = idp.tokenRequests.length;
    const f = await oidcFlow(idp, browser(srv), acme(), verified('oa04'));
    assertErrorRedirect(srv, f.nav, { base: ERR_BASES() });
    assert.equal(idp.tokenRequests.length, tokenCalls, 'no token request');
    await assertNothingCreated(before, 'foreign iss');
  } finally {
    idp.reset();
  }
});

test('OA-04: a provider whose discovery document names another issuer is disabled (start refused, or sign-in fails without a session)', async (t) => {
  const evil = await startOidc({ discovery: (d) => ({ ...d, issuer: 'https://accounts.other.example' }) });
  extraIdps.push(evil);
  let s;
  try {
    s = await startServer({ env: evil.env('MIXUP', 'mix-client', 'mix-secret-0123456789') });
  } catch (e) {
    t.diagnostic(`start refused: ${String(e.message).split('\n').slice(-2).join(' | ')}`);
    return;
  }
  extraServers.push(s);
  registerClient(evil, s, 'mixup', 'mix-client', 'mix-secret-0123456789');
  const res = await post(s, '/sign-in/social', { provider: 'mixup', callbackURL: '/dashboard', errorCallbackURL: '/oops' });
  if (res.status !== 200) {
    assert.ok(res.status >= 400, `${res.status} ${res.text}`);
    assert.equal(res.setCookies.filter((c) => c.startsWith('__Secure-neon-auth.session_token=')).length, 0);
    t.diagnostic(`sign-in/social refused: ${res.status} ${res.json?.code}`);
    return;
  }
  const nav = await navigate(await evil.login(null, res.json.url, verified('oa04disc')));
  assertErrorRedirect(s, nav, { base: [OOPS, `${s.authUrl}/error`] });
});

// ---------------------------------------------------------------- OA-05

async function localUser(tag, { verified: v = false } = {}) {
  const b = browser(srv);
  const { email, name } = identity(tag);
  const res = await b.client.signUp.email({ email, password: PASSWORD, name });
  assert.equal(res.error, null, JSON.stringify(res.error));
  if (v) await verifyEmailInDb(srv, email);
  return { email, userId: res.data.user.id, b };
}

test('OA-05: an attacker\'s unverified pre-registration of the victim\'s address is not linked when the victim signs in with a verified IdP address', async () => {
  const attacker = await localUser('oa05victim');
  const before = await counts(srv);
  const who = { sub: identity('oa05').sub, email: attacker.email, email_verified: true, name: 'Victim' };
  const f = await oidcFlow(idp, browser(srv), acme(), who);
  assertErrorRedirect(srv, f.nav, { base: ERR_BASES(), error: 'account_not_linked' });
  await assertNothingCreated(before, 'pre-hijack');
  assert.equal((await accountRows(srv, { userId: attacker.userId, providerId: 'acme' })).length, 0);
  const accounts = await attacker.b.client.listAccounts();
  assert.deepEqual(accounts.data.map((a) => a.providerId), ['credential'], 'the attacker sees no provider account');
  assertSdkError(await attacker.b.client.getAccessToken({ providerId: 'acme' }), 400, undefined, 'getAccessToken');
});

for (const [what, claim] of [['the string "false"', 'false'], ['the string "true"', 'true'], ['missing', undefined]]) {
  test(`OA-05: a verified local user is not linked when the IdP's email_verified is ${what}`, async () => {
    const local = await localUser('oa05nolink', { verified: true });
    const before = await counts(srv);
    const f = await oidcFlow(idp, browser(srv), acme(), { sub: identity('n').sub, email: local.email, email_verified: claim });
    assertErrorRedirect(srv, f.nav, { base: ERR_BASES(), error: 'account_not_linked' });
    await assertNothingCreated(before, what);
    assert.equal((await accountRows(srv, { userId: local.userId, providerId: 'acme' })).length, 0);
  });
}

test('OA-05: a verified local user is linked when the IdP asserts email_verified:true', async () => {
  const local = await localUser('oa05link', { verified: true });
  const who = { sub: identity('l').sub, email: local.email, email_verified: true };
  const r = await oidcSignIn(srv, idp, browser(srv), acme(), who);
  assert.equal(r.user.id, local.userId);
  const acc = await accountRows(srv, { userId: local.userId, providerId: 'acme' });
  assert.deepEqual(acc.map((a) => a.accountId), [who.sub]);
});

// ---------------------------------------------------------------- OA-06

test('OA-06: a new sub with the e-mail of an existing federated user is not signed into that account; the same sub with a changed e-mail is', async () => {
  const who = verified('oa06');
  const first = await oidcSignIn(srv, idp, browser(srv), acme(), who);
  await verifyEmailInDb(srv, who.email);
  // Same e-mail, new sub: an error redirect, or (policy) any account but this one.
  const b = browser(srv);
  const f = await oidcFlow(idp, b, acme(), { ...who, sub: identity('oa06b').sub });
  assert.equal(f.nav.status, 302, f.nav.text);
  if (f.nav.url.searchParams.get('error')) {
    assertErrorRedirect(srv, f.nav, { base: ERR_BASES() });
  } else {
    const ex = await exchange(srv, verifierOf(f.nav.location), b.jar);
    assert.notEqual(ex.json?.user?.id, first.user.id, 'a new sub is never signed into the existing account');
  }
  assert.deepEqual((await accountRows(srv, { userId: first.user.id, providerId: 'acme' })).map((a) => a.accountId), [who.sub]);
  // Same sub, changed e-mail: the same account.
  const moved = { ...who, email: identity('oa06moved').email };
  const b2 = browser(srv);
  const f2 = await oidcFlow(idp, b2, acme(), moved);
  assert.equal(f2.nav.status, 302, f2.nav.text);
  const ex2 = await exchange(srv, verifierOf(f2.nav.location), b2.jar);
  assert.equal(ex2.status, 200, ex2.text);
  assert.equal(ex2.json.user.id, first.user.id, 'the same sub signs into the same account');
  assert.equal(await userRow(srv, moved.email), undefined, 'no user for the changed address');
});

test('OA-06: GitHub identities are keyed on the numeric id; the address used is the primary verified one of /user/emails', async () => {
  const primary = identity('oa06ghprimary').email;
  const unverifiedPublic = identity('oa06ghpublic').email;
  const user = {
    id: ++ghIds, login: `oa06-${ghIds}`, name: 'Octo', email: unverifiedPublic,
    emails: [
      { email: unverifiedPublic, primary: false, verified: false, visibility: 'public' },
      { email: identity('oa06ghother').email, primary: false, verified: true, visibility: null },
      { email: primary, primary: true, verified: true, visibility: 'private' },
    ],
  };
  const b = browser(srv);
  const s = await startSocial(b, { provider: 'github', callbackURL: '/dashboard' });
  const nav = await navigate(await gh.authorize(s.url.toString(), { user }));
  assert.equal(nav.status, 302, nav.text);
  const ex = await exchange(srv, verifierOf(nav.location), b.jar);
  assert.equal(ex.status, 200, ex.text);
  assert.equal(ex.json.user.email, primary.toLowerCase(), 'the primary verified address');
  assert.equal(ex.json.user.emailVerified, true);
  const [acc] = await accountRows(srv, { userId: ex.json.user.id, providerId: 'github' });
  assert.equal(acc.accountId, String(user.id));
  // Another GitHub id claiming the same verified primary address is not signed into this user.
  const other = { ...user, id: ++ghIds, login: `oa06-${ghIds}` };
  const b2 = browser(srv);
  const s2 = await startSocial(b2, { provider: 'github', callbackURL: '/dashboard', errorCallbackURL: '/oops' });
  const nav2 = await navigate(await gh.authorize(s2.url.toString(), { user: other }));
  if (!nav2.url?.searchParams.get('error')) {
    const ex2 = await exchange(srv, verifierOf(nav2.location), b2.jar);
    assert.notEqual(ex2.json?.user?.id, ex.json.user.id, 'another GitHub id signed into the account');
  }
  assert.deepEqual((await accountRows(srv, { userId: ex.json.user.id, providerId: 'github' })).map((a) => a.accountId), [String(user.id)]);
});

// ---------------------------------------------------------------- OA-07

test('OA-07: a token endpoint answering 302 (to a link-local metadata URL, or to a canary) is not followed: error redirect, no request to the target', async () => {
  for (const target of ['http://169.254.169.254/latest/meta-data/iam/security-credentials/', `http://127.0.0.1:${canary.address().port}/steal`]) {
    idp.hooks.tokenRequest = () => ({ status: 302, headers: { Location: target } });
    try {
      const before = await counts(srv);
      const t = Date.now();
      const f = await oidcFlow(idp, browser(srv), acme(), verified('oa07redir'));
      assertErrorRedirect(srv, f.nav, { base: ERR_BASES() });
      await assertNothingCreated(before, `302 to ${target}`);
      assert.ok(Date.now() - t < 5000, 'no connection attempt to the redirect target (it would hang)');
    } finally {
      idp.reset();
    }
  }
  assert.deepEqual(canaryHits, []);
});

test('OA-07: a token endpoint that never answers -> error redirect within 10 s (default timeout); other requests are served meanwhile', { timeout: 30_000 }, async () => {
  idp.hooks.tokenRequest = () => 'hang';
  try {
    const s = await startSocial(browser(srv), acme());
    const cb = await idp.login(null, s.url.toString(), verified('oa07hang'));
    const start = Date.now();
    const pending = navigate(cb);
    await new Promise((r) => setTimeout(r, 300));
    const t1 = Date.now();
    assert.equal((await raw(`${srv.authUrl}/ok`)).status, 200);
    assert.ok(Date.now() - t1 < 1000, 'served while the token request hangs');
    const nav = await pending;
    const took = Date.now() - start;
    assertErrorRedirect(srv, nav, { base: ERR_BASES() });
    assert.ok(took <= 11_000, `gave up after ${took} ms`);
  } finally {
    idp.reset();
  }
});

test('OA-07: an oversized token answer (2 MiB) is refused: error redirect, nothing created', async () => {
  idp.hooks.tokenRequest = () => ({
    status: 200, headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ access_token: 'x', token_type: 'Bearer', expires_in: 3600, padding: 'a'.repeat(2 << 20) }),
  });
  try {
    const before = await counts(srv);
    const f = await oidcFlow(idp, browser(srv), acme(), verified('oa07big'));
    assertErrorRedirect(srv, f.nav, { base: ERR_BASES() });
    await assertNothingCreated(before, 'oversized');
  } finally {
    idp.reset();
  }
});

test('OA-07: discovery pointing the token endpoint at a link-local address is refused without a connection attempt', { timeout: 30_000 }, async (t) => {
  const ssrf = await startOidc({ discovery: (d) => ({ ...d, token_endpoint: 'http://169.254.169.254/latest/meta-data/token' }) });
  extraIdps.push(ssrf);
  let s;
  try {
    s = await startServer({ env: ssrf.env('SSRF', 'ssrf-client', 'ssrf-secret-0123456789') });
  } catch (e) {
    t.diagnostic(`start refused: ${String(e.message).split('\n').slice(-2).join(' | ')}`);
    return;
  }
  extraServers.push(s);
  registerClient(ssrf, s, 'ssrf', 'ssrf-client', 'ssrf-secret-0123456789');
  const res = await post(s, '/sign-in/social', { provider: 'ssrf', callbackURL: '/dashboard', errorCallbackURL: '/oops' });
  if (res.status !== 200) {
    assert.ok(res.status >= 400, `${res.status} ${res.text}`);
    t.diagnostic(`sign-in/social refused: ${res.status} ${res.json?.code}`);
    return;
  }
  const cb = await ssrf.login(null, res.json.url, verified('oa07ssrf'));
  const start = Date.now();
  const nav = await navigate(cb);
  assertErrorRedirect(s, nav, { base: [OOPS, `${s.authUrl}/error`] });
  assert.ok(Date.now() - start < 3000, `refused after ${Date.now() - start} ms`);
});
