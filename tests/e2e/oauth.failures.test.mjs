// OAuth failure paths (issue 5, security.md G: OA-01, OA-03, OA-04, OA-07; CS-04). Each one must end in an error
// redirect (errorCallbackURL, else <auth>/error) with ?error=<code>, no verifier, no session cookie and no new
// user / session / account row; verifier misuse answers 401 without a cookie. Better Auth's codes are required where
// Better Auth has one (state_not_found, state_mismatch, invalid_code, access_denied from the provider,
// oauth_provider_not_found); for defects Better Auth does not check (id_token signature/nonce/aud/iss/exp on the
// code flow, RFC 9207 iss) any error code is accepted and the one seen is printed as a diagnostic.
//
// Servers: `srv` (providers acme -> idp, github -> gh; PGWARDEN_OAUTH_TIMEOUT_MS=2000 for the hang test); `mix`
// (an IdP whose discovery names another issuer) and `ssrf` (an IdP whose discovery sends the token request to a
// link-local address) are started per test and may refuse to start, which is a pass.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { startServer, raw, post, cookieValue, COOKIE, APP_ORIGIN, showServerOutputOnFailure } from './harness.mjs';
import { startOidc } from './idp.mjs';
import { startGithub } from './github.mjs';
import { assertLogClean } from './email.common.mjs';
import {
  CHALLENGE, identity, registerClient, browser, startSocial, navigate, verifierOf, exchange, assertExchanged,
  assertErrorRedirect, counts, userRow, oidcFlow, expireNewestVerification, stopAll,
} from './oauth.common.mjs';

const CID = 'pgwarden-acme';
const SECRET = `acme-secret-${crypto.randomBytes(12).toString('hex')}`;
const GH_CID = 'gh-client-id';
const GH_SECRET = `gh-secret-${crypto.randomBytes(12).toString('hex')}`;
const TIMEOUT_MS = 2000;
let idp;
let gh;
let srv;
let canary;
const canaryHits = [];
const extraServers = [];
const extraIdps = [];
const OOPS = `${APP_ORIGIN}/oops`;

before(async () => {
  canary = http.createServer((req, res) => { canaryHits.push(`${req.method} ${req.url}`); res.end('{}'); });
  await new Promise((r) => canary.listen(0, '127.0.0.1', r));
  idp = await startOidc();
  gh = await startGithub({ clients: [{ client_id: GH_CID, client_secret: GH_SECRET }] });
  srv = await startServer({ env: { ...idp.env('ACME', CID, SECRET), ...gh.env(GH_CID, GH_SECRET), PGWARDEN_OAUTH_TIMEOUT_MS: String(TIMEOUT_MS) } });
  registerClient(idp, srv, 'acme', CID, SECRET);
});
after(async () => {
  idp?.reset();
  await stopAll([srv, ...extraServers], [idp, gh, ...extraIdps]);
  canary?.closeAllConnections?.();
  await new Promise((r) => canary.close(r));
});
showServerOutputOnFailure(() => [srv, ...extraServers]);

const acme = (extra = {}) => ({ provider: 'acme', callbackURL: '/dashboard', ...extra });
const verified = (tag) => ({ ...identity(tag), email_verified: true });

/** Asserts nothing was created: same user/session/account counts as `before`. */
async function assertNothingCreated(before, what) {
  assert.deepEqual(await counts(srv), before, `${what}: no user, session or account created`);
}

// ---------------------------------------------------------------- state (OA-01)

test('callback without state -> <auth>/error?error=state_not_found, nothing created', async () => {
  const before = await counts(srv);
  const nav = await navigate(`${srv.authUrl}/callback/acme?code=abc`);
  assertErrorRedirect(srv, nav, { error: 'state_not_found' });
  await assertNothingCreated(before, 'no state');
});

test('callback with a state the server never issued -> state_mismatch, and the code is not exchanged', async () => {
  const before = await counts(srv);
  const tokenCalls = idp.tokenRequests.length;
  const nav = await navigate(`${srv.authUrl}/callback/acme?code=abc&state=${crypto.randomBytes(24).toString('base64url')}`);
  assertErrorRedirect(srv, nav, { error: 'state_mismatch' });
  assert.equal(idp.tokenRequests.length, tokenCalls, 'no token request for an unknown state');
  await assertNothingCreated(before, 'unknown state');
});

test('a completed callback replayed (same code + state) -> state_mismatch, no second session', async () => {
  const b = browser(srv);
  const who = verified('replay');
  const f = await oidcFlow(idp, b, acme(), who);
  assert.equal(f.nav.status, 302);
  verifierOf(f.nav.location);
  const before = await counts(srv);
  const tokenCalls = idp.tokenRequests.length;
  const again = await navigate(f.callback);
  assertErrorRedirect(srv, again, { error: 'state_mismatch' });
  assert.equal(idp.tokenRequests.length, tokenCalls, 'the replayed code is not sent to the IdP again');
  await assertNothingCreated(before, 'replayed callback');
});

test('a state older than its lifetime -> state_mismatch (errorCallbackURL or <auth>/error), no token request', async () => {
  const b = browser(srv);
  const s = await startSocial(b, acme({ errorCallbackURL: '/oops' }));
  await expireNewestVerification(srv);
  const cb = await idp.login(null, s.url.toString(), verified('expired'));
  const before = await counts(srv);
  const tokenCalls = idp.tokenRequests.length;
  const nav = await navigate(cb);
  assertErrorRedirect(srv, nav, { base: [OOPS, `${srv.authUrl}/error`], error: 'state_mismatch' });
  assert.equal(idp.tokenRequests.length, tokenCalls, 'no token request for an expired state');
  await assertNothingCreated(before, 'expired state');
});

test('the state of provider acme delivered to /callback/github fails without a session', async (t) => {
  const b = browser(srv);
  const s = await startSocial(b, acme({ errorCallbackURL: '/oops' }));
  const cb = new URL(await idp.login(null, s.url.toString(), verified('crossprov')));
  const before = await counts(srv);
  const nav = await navigate(`${srv.authUrl}/callback/github?code=${cb.searchParams.get('code')}&state=${cb.searchParams.get('state')}`);
  const r = assertErrorRedirect(srv, nav, { base: [OOPS, `${srv.authUrl}/error`] });
  t.diagnostic(`acme state at /callback/github: error=${r.error}`);
  await assertNothingCreated(before, 'state of another provider');
});

// Better Auth parses the state first and then answers oauth_provider_not_found; a server that binds the state to its
// provider may refuse it first as state_mismatch. Either is a correct refusal.
test('/callback/<provider not configured> with a valid state -> oauth_provider_not_found (or state_mismatch)', async () => {
  const b = browser(srv);
  const s = await startSocial(b, acme({ errorCallbackURL: '/oops' }));
  const cb = new URL(await idp.login(null, s.url.toString(), verified('noprov')));
  const before = await counts(srv);
  const nav = await navigate(`${srv.authUrl}/callback/facebook?code=${cb.searchParams.get('code')}&state=${cb.searchParams.get('state')}`);
  assertErrorRedirect(srv, nav, { base: [OOPS, `${srv.authUrl}/error`], error: ['oauth_provider_not_found', 'state_mismatch'] });
  await assertNothingCreated(before, 'unknown provider');
});

// ---------------------------------------------------------------- code, provider errors

test('a replayed authorization code under a fresh state -> errorCallbackURL?error=invalid_code', async () => {
  const first = await oidcFlow(idp, browser(srv), acme(), verified('codereplay'));
  assert.equal(first.nav.status, 302);
  const usedCode = new URL(first.callback).searchParams.get('code');
  const s = await startSocial(browser(srv), acme({ errorCallbackURL: '/oops' }));
  const before = await counts(srv);
  const nav = await navigate(`${srv.authUrl}/callback/acme?code=${encodeURIComponent(usedCode)}&state=${encodeURIComponent(s.state)}`);
  assertErrorRedirect(srv, nav, { base: OOPS, error: 'invalid_code' });
  await assertNothingCreated(before, 'replayed code');
});

test('callback with state but no code -> error redirect (Better Auth: no_code)', async () => {
  const s = await startSocial(browser(srv), acme({ errorCallbackURL: '/oops' }));
  const before = await counts(srv);
  const nav = await navigate(`${srv.authUrl}/callback/acme?state=${encodeURIComponent(s.state)}`);
  assertErrorRedirect(srv, nav, { base: OOPS, error: 'no_code' });
  await assertNothingCreated(before, 'no code');
});

test('the provider answers error=access_denied -> errorCallbackURL?error=access_denied&error_description=..., no token request', async () => {
  const b = browser(srv);
  const tokenCalls = idp.tokenRequests.length;
  const before = await counts(srv);
  const f = await oidcFlow(idp, b, acme({ errorCallbackURL: '/oops?from=idp' }), { ...verified('denied'), abort: true });
  assert.equal(new URL(f.callback).searchParams.get('error'), 'access_denied', 'the IdP did deny');
  const r = assertErrorRedirect(srv, f.nav, { base: OOPS, error: 'access_denied' });
  assert.equal(r.url.searchParams.get('from'), 'idp', 'the errorCallbackURL query is kept');
  assert.equal(r.description, 'End-User aborted interaction');
  assert.equal(idp.tokenRequests.length, tokenCalls);
  await assertNothingCreated(before, 'provider error');
});

test('the token endpoint answers invalid_grant -> invalid_code, nothing created', async () => {
  idp.hooks.tokenRequest = () => ({ status: 400, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ error: 'invalid_grant', error_description: 'grant request is invalid' }) });
  try {
    const before = await counts(srv);
    const f = await oidcFlow(idp, browser(srv), acme({ errorCallbackURL: '/oops' }), verified('tokenerr'));
    assertErrorRedirect(srv, f.nav, { base: OOPS, error: 'invalid_code' });
    await assertNothingCreated(before, 'token error');
  } finally {
    idp.reset();
  }
});

// ---------------------------------------------------------------- id_token validation (OA-03)

const now = () => Math.floor(Date.now() / 1000);
const ID_TOKEN_DEFECTS = [
  ['signed by another key under the IdP\'s kid', {}, 'foreign'],
  ['signed by a key with an unknown kid', {}, 'unknown-kid'],
  ['alg none', {}, 'none'],
  ['HS256 with the client secret as key', {}, 'hs256'],
  ['an attacker key embedded in the header (jwk)', {}, 'embedded-jwk'],
  ['a wrong nonce', { nonce: 'not-the-nonce-of-this-flow' }, 'idp'],
  ['no nonce', { nonce: undefined }, 'idp'],
  ['aud of another client', { aud: 'another-client' }, 'idp'],
  ['aud with another client and azp of it', { aud: [CID, 'another-client'], azp: 'another-client' }, 'idp'],
  ['a foreign iss', { iss: 'https://evil.example' }, 'idp'],
  ['expired', { exp: now() - 3600, iat: now() - 7200 }, 'idp'],
  ['iat far in the future', { iat: now() + 86400, exp: now() + 90000 }, 'idp'],
];

for (const [what, overrides, key] of ID_TOKEN_DEFECTS) {
  test(`OA-03: an id_token ${what} -> error redirect, no user, no session, no account`, async (t) => {
    const who = verified('idtok');
    const before = await counts(srv);
    idp.tamperIdToken(overrides, { key, secret: SECRET });
    try {
      const f = await oidcFlow(idp, browser(srv), acme({ errorCallbackURL: '/oops' }), who);
      const r = assertErrorRedirect(srv, f.nav, { base: OOPS });
      t.diagnostic(`id_token ${what}: error=${r.error}`);
      await assertNothingCreated(before, what);
      assert.equal(await userRow(srv, who.email), undefined);
    } finally {
      idp.reset();
    }
  });
}

test('OA-03 control: the same flow with the id_token re-signed unchanged by the IdP key succeeds', async () => {
  const who = verified('idtokok');
  idp.tamperIdToken({}, { key: 'idp' });
  try {
    const b = browser(srv);
    const f = await oidcFlow(idp, b, acme(), who);
    assert.equal(f.nav.status, 302);
    assert.equal(f.nav.url.searchParams.get('error'), null, f.nav.location);
    assertExchanged(srv, await exchange(srv, verifierOf(f.nav.location), b.jar), { email: who.email });
  } finally {
    idp.reset();
  }
});

test('OA-04: a foreign iss on the authorization response (RFC 9207) -> error redirect, the code is never exchanged', async (t) => {
  idp.hooks.authorizeResponse = (u) => { u.searchParams.set('iss', 'https://mix-up.example'); return u; };
  try {
    const before = await counts(srv);
    const tokenCalls = idp.tokenRequests.length;
    const f = await oidcFlow(idp, browser(srv), acme({ errorCallbackURL: '/oops' }), verified('mixup'));
    const r = assertErrorRedirect(srv, f.nav, { base: OOPS });
    t.diagnostic(`foreign iss on the authorization response: error=${r.error}`);
    assert.equal(idp.tokenRequests.length, tokenCalls, 'no token request after a mix-up');
    await assertNothingCreated(before, 'foreign iss');
  } finally {
    idp.reset();
  }
});

// ---------------------------------------------------------------- the verifier hand-off

test('a verifier is single use: the second exchange answers 401 INVALID_TOKEN and sets no cookie', async () => {
  const b = browser(srv);
  const who = verified('vreplay');
  const f = await oidcFlow(idp, b, acme(), who);
  const v = verifierOf(f.nav.location);
  const challengeHeader = b.jar.header();
  assertExchanged(srv, await exchange(srv, v, b.jar), { email: who.email });
  const again = await raw(`${srv.authUrl}/get-session?neon_auth_session_verifier=${encodeURIComponent(v)}`, { headers: { Origin: APP_ORIGIN, Cookie: challengeHeader } });
  assert.equal(again.status, 401, `${again.status} ${again.text}`);
  assert.equal(again.json?.code, 'INVALID_TOKEN');
  assert.equal(cookieValue(again.setCookies, COOKIE) || undefined, undefined);
});

test('the verifier without the challenge cookie is refused (401), no cookie', async () => {
  const b = browser(srv);
  const f = await oidcFlow(idp, b, acme(), verified('nochal'));
  const res = await exchange(srv, verifierOf(f.nav.location), null);
  assert.equal(res.status, 401, `${res.status} ${res.text}`);
  assert.equal(res.json?.code, 'INVALID_TOKEN');
  assert.equal(cookieValue(res.setCookies, COOKIE) || undefined, undefined);
});

test('the verifier with another browser\'s challenge (login CSRF / fixation) is refused (401)', async () => {
  const victim = browser(srv);
  const attacker = browser(srv);
  await startSocial(attacker, acme());  // the attacker's own, valid challenge cookie
  assert.ok(attacker.jar.get(CHALLENGE));
  const f = await oidcFlow(idp, victim, acme(), verified('fixation'));
  const res = await exchange(srv, verifierOf(f.nav.location), attacker.jar);
  assert.equal(res.status, 401, `${res.status} ${res.text}`);
  assert.equal(cookieValue(res.setCookies, COOKIE) || undefined, undefined);
});

test('the verifier with a forged (unsigned) challenge cookie is refused (401)', async () => {
  const b = browser(srv);
  const f = await oidcFlow(idp, b, acme(), verified('forged'));
  const raw0 = decodeURIComponent(b.jar.get(CHALLENGE));
  const unsigned = raw0.includes('.') ? raw0.slice(0, raw0.lastIndexOf('.')) : raw0;
  const res = await raw(`${srv.authUrl}/get-session?neon_auth_session_verifier=${encodeURIComponent(verifierOf(f.nav.location))}`, {
    headers: { Origin: APP_ORIGIN, Cookie: `${CHALLENGE}=${encodeURIComponent(unsigned)}` },
  });
  assert.equal(res.status, 401, `${res.status} ${res.text}`);
});

test('an expired verifier is refused (401)', async () => {
  const b = browser(srv);
  const f = await oidcFlow(idp, b, acme(), verified('vexpired'));
  await expireNewestVerification(srv);  // the verifier row is the newest once the state row is consumed
  const res = await exchange(srv, verifierOf(f.nav.location), b.jar);
  assert.equal(res.status, 401, `${res.status} ${res.text}`);
});

// ---------------------------------------------------------------- untrusted URLs (CS-04)

test('untrusted callbackURL / errorCallbackURL / newUserCallbackURL are refused at sign-in/social (403), nothing stored', async () => {
  const { rows: [{ n: before }] } = await srv.db.query('SELECT count(*)::int AS n FROM neon_auth.verification');
  for (const bad of ['https://evil.example/x', '//evil.example', '/\\evil.example', '/%5C/evil.example', 'https://localhost:3000.evil.example/', 'https://localhost:3000@evil.example/', 'javascript:alert(1)']) {
    const r = await post(srv, '/sign-in/social', { provider: 'acme', callbackURL: bad });
    assert.equal(r.status, 403, `callbackURL ${bad}: ${r.status} ${r.text}`);
    assert.equal(r.json?.code, 'INVALID_CALLBACK_URL', bad);
  }
  const e = await post(srv, '/sign-in/social', { provider: 'acme', callbackURL: '/ok', errorCallbackURL: 'https://evil.example/err' });
  assert.equal(e.status, 403, e.text);
  assert.equal(e.json?.code, 'INVALID_ERROR_CALLBACK_URL');
  const nu = await post(srv, '/sign-in/social', { provider: 'acme', callbackURL: '/ok', newUserCallbackURL: 'https://evil.example/new' });
  assert.equal(nu.status, 403, nu.text);
  assert.equal(nu.json?.code, 'INVALID_NEW_USER_CALLBACK_URL');
  const { rows: [{ n: afterN }] } = await srv.db.query('SELECT count(*)::int AS n FROM neon_auth.verification');
  assert.equal(afterN, before, 'no state stored for a refused request');
});

test('a relative callbackURL is never resolved against an untrusted Origin (403, or the flow does not end there)', async (t) => {
  const res = await raw(`${srv.authUrl}/sign-in/social`, { method: 'POST', headers: { Origin: 'https://evil.example' }, body: { provider: 'acme', callbackURL: '/ok', errorCallbackURL: '/err' } });
  if (res.status === 403) {
    t.diagnostic(`untrusted Origin refused: 403 ${res.json?.code}`);
    return;
  }
  assert.equal(res.status, 200, `${res.status} ${res.text}`);
  const cb = await idp.login(null, res.json.url, verified('evilorigin'));
  const nav = await navigate(cb);
  assert.equal(nav.status, 302, nav.text);
  assert.notEqual(new URL(nav.location, srv.baseUrl).origin, 'https://evil.example', `redirected to ${nav.location}`);
  t.diagnostic(`untrusted Origin: flow ended at ${withoutVerifierSafe(nav.location)}`);
});

// ---------------------------------------------------------------- back-channel (OA-07)

test('OA-07: a redirect from the token endpoint is not followed (canary sees nothing), error redirect', async () => {
  const target = `http://127.0.0.1:${canary.address().port}/steal`;
  idp.hooks.tokenRequest = () => ({ status: 302, headers: { Location: target } });
  try {
    const before = await counts(srv);
    const f = await oidcFlow(idp, browser(srv), acme({ errorCallbackURL: '/oops' }), verified('redir'));
    assertErrorRedirect(srv, f.nav, { base: OOPS });
    assert.deepEqual(canaryHits, [], 'the redirect target was never contacted');
    await assertNothingCreated(before, 'token endpoint redirect');
  } finally {
    idp.reset();
  }
});

test(`OA-07: a token endpoint that never answers fails within PGWARDEN_OAUTH_TIMEOUT_MS (${TIMEOUT_MS} ms) and the server keeps serving`, { timeout: 30_000 }, async () => {
  idp.hooks.tokenRequest = () => 'hang';
  try {
    const b = browser(srv);
    const s = await startSocial(b, acme({ errorCallbackURL: '/oops' }));
    const cb = await idp.login(null, s.url.toString(), verified('hang'));
    const t0 = Date.now();
    const pending = navigate(cb);
    await new Promise((r) => setTimeout(r, 300));
    const t1 = Date.now();
    const ok = await raw(`${srv.authUrl}/ok`);
    assert.equal(ok.status, 200, 'other requests are served while the token request hangs');
    assert.ok(Date.now() - t1 < 1000, `/ok took ${Date.now() - t1} ms during the hang`);
    const nav = await pending;
    const took = Date.now() - t0;
    assertErrorRedirect(srv, nav, { base: OOPS });
    assert.ok(took < TIMEOUT_MS + 3000, `the callback took ${took} ms`);
    assert.ok(took >= TIMEOUT_MS - 200, `the callback gave up after ${took} ms, before the timeout`);
  } finally {
    idp.reset();
  }
});

test('OA-07: an oversized token answer (1 MiB) is refused: error redirect, nothing created', async () => {
  idp.hooks.tokenRequest = () => ({
    status: 200,
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ access_token: 'x', token_type: 'Bearer', expires_in: 3600, padding: 'a'.repeat(1 << 20) }),
  });
  try {
    const before = await counts(srv);
    const f = await oidcFlow(idp, browser(srv), acme({ errorCallbackURL: '/oops' }), verified('huge'));
    assertErrorRedirect(srv, f.nav, { base: OOPS });
    await assertNothingCreated(before, 'oversized token answer');
  } finally {
    idp.reset();
  }
});

test('a callback opened in a browser whose state cookie names another flow is refused (decisions D31); its own browser completes it', async () => {
  const victim = browser(srv);
  await startSocial(victim, acme());  // the victim's browser holds the state cookie of its own flow
  const stateCookies = [...victim.jar.cookies.keys()].filter((k) => /state$/.test(k) && k !== CHALLENGE);
  const attacker = browser(srv);
  const s = await startSocial(attacker, acme({ errorCallbackURL: '/oops' }));
  const cb = await idp.login(null, s.url.toString(), verified('csrfcb'));
  const before = await counts(srv);
  const nav = await navigate(cb, victim.jar);
  if (stateCookies.length === 0) {
    assert.fail('no state cookie is set by sign-in/social (D31 says Better Auth\'s state cookie is set)');
  }
  assertErrorRedirect(srv, nav, { base: [OOPS, `${srv.authUrl}/error`], error: 'state_mismatch' });
  await assertNothingCreated(before, 'callback with another flow\'s state cookie');
  assert.equal(victim.jar.get(COOKIE), undefined, 'no session planted in the victim\'s browser');

  // The same check lets a browser's own flow through (its state cookie names that state).
  const own = browser(srv);
  const s2 = await startSocial(own, acme());
  const nav2 = await navigate(await idp.login(null, s2.url.toString(), verified('owncb')), own.jar);
  assert.equal(nav2.status, 302, nav2.text);
  assertExchanged(srv, await exchange(srv, verifierOf(nav2.location), own.jar));
});

function withoutVerifierSafe(loc) {
  try { const u = new URL(loc, 'http://x'); u.searchParams.delete('neon_auth_session_verifier'); return u.toString(); } catch { return loc; }
}

/** Starts a server; resolves {srv} or {error} when it refuses to start (which these tests accept). */
async function startMaybe(env) {
  try {
    const s = await startServer({ env });
    extraServers.push(s);
    return { srv: s };
  } catch (error) {
    return { error };
  }
}

test('OA-04: discovery naming another issuer disables the provider (start-up refused, or sign-in fails without a session)', async (t) => {
  const evil = await startOidc({ discovery: (d) => ({ ...d, issuer: 'https://accounts.example.com' }) });
  extraIdps.push(evil);
  const { srv: s, error } = await startMaybe(evil.env('MIXUP', 'mix-client', 'mix-secret-0123456789'));
  if (error) {
    t.diagnostic(`discovery issuer mismatch: server refused to start: ${String(error.message).split('\n').slice(-3).join(' | ')}`);
    return;
  }
  registerClient(evil, s, 'mixup', 'mix-client', 'mix-secret-0123456789');
  const res = await post(s, '/sign-in/social', { provider: 'mixup', callbackURL: '/dashboard', errorCallbackURL: '/oops' });
  if (res.status !== 200) {
    assert.ok(res.status >= 400, `${res.status} ${res.text}`);
    t.diagnostic(`discovery issuer mismatch: sign-in/social answered ${res.status} ${res.json?.code}`);
    return;
  }
  const cb = await evil.login(null, res.json.url, verified('mixdisc'));
  const nav = await navigate(cb);
  const r = assertErrorRedirect(s, nav, { base: [OOPS, `${s.authUrl}/error`] });
  t.diagnostic(`discovery issuer mismatch: callback error=${r.error}`);
});

test('OA-07: discovery pointing the token endpoint at a link-local address is refused quickly (no connection attempt)', { timeout: 30_000 }, async (t) => {
  const ssrf = await startOidc({ discovery: (d) => ({ ...d, token_endpoint: 'http://169.254.169.254/latest/meta-data/token' }) });
  extraIdps.push(ssrf);
  const { srv: s, error } = await startMaybe(ssrf.env('SSRF', 'ssrf-client', 'ssrf-secret-0123456789'));
  if (error) {
    t.diagnostic(`link-local token endpoint: server refused to start: ${String(error.message).split('\n').slice(-3).join(' | ')}`);
    return;
  }
  registerClient(ssrf, s, 'ssrf', 'ssrf-client', 'ssrf-secret-0123456789');
  const res = await post(s, '/sign-in/social', { provider: 'ssrf', callbackURL: '/dashboard', errorCallbackURL: '/oops' });
  if (res.status !== 200) {
    assert.ok(res.status >= 400, `${res.status} ${res.text}`);
    t.diagnostic(`link-local token endpoint: sign-in/social answered ${res.status} ${res.json?.code}`);
    return;
  }
  const cb = await ssrf.login(null, res.json.url, verified('ssrf'));
  const t0 = Date.now();
  const nav = await navigate(cb);
  const r = assertErrorRedirect(s, nav, { base: [OOPS, `${s.authUrl}/error`] });
  t.diagnostic(`link-local token endpoint: callback error=${r.error} after ${Date.now() - t0} ms`);
  assert.ok(Date.now() - t0 < 3000, `refused after ${Date.now() - t0} ms (a connection attempt would wait for the 10 s timeout)`);
});

test('no client secret, code, provider token or verifier appears in the server log', () => {
  const secrets = [SECRET, GH_SECRET];
  for (const t of idp.allTokenResponses) secrets.push(t.access_token, t.refresh_token, t.id_token);
  assertLogClean(srv.stderr(), secrets.filter(Boolean));
});
