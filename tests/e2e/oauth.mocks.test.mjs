// Self-test of the OAuth test infrastructure (no pgwarden, no Postgres): idp.mjs (oidc-provider) and github.mjs
// walked by hand as a relying party would, against a dummy redirect_uri listener. If this file fails, the
// oauth.*.test.mjs failures say nothing about the server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import crypto from 'node:crypto';
import { createLocalJWKSet, jwtVerify, decodeJwt, decodeProtectedHeader } from 'jose';
import { raw } from './harness.mjs';
import { startOidc, automatedLogin } from './idp.mjs';
import { startGithub } from './github.mjs';

let idp;
let gh;
let rp;  // the dummy relying party: records what reaches its redirect_uri
const hits = [];
const CLIENT = { client_id: 'selftest', client_secret: 'selftest-secret-0123456789' };

before(async () => {
  rp = http.createServer((req, res) => { hits.push(req.url); res.end('ok'); });
  await new Promise((r) => rp.listen(0, '127.0.0.1', r));
  const redirect = `http://localhost:${rp.address().port}/cb`;
  idp = await startOidc({ clients: [{ ...CLIENT, redirect_uris: [redirect] }] });
  gh = await startGithub({ clients: [CLIENT] });
  CLIENT.redirect = redirect;
});
after(async () => {
  await idp?.stop();
  await gh?.stop();
  rp?.closeAllConnections?.();
  await new Promise((r) => rp.close(r));
});

function pkce() {
  const verifier = crypto.randomBytes(48).toString('base64url');
  return { verifier, challenge: crypto.createHash('sha256').update(verifier).digest('base64url') };
}

async function discovery() {
  const r = await raw(`${idp.issuer}/.well-known/openid-configuration`);
  assert.equal(r.status, 200);
  return r.json;
}

async function authorizeUrl(extra = {}) {
  const d = await discovery();
  const p = pkce();
  const state = crypto.randomBytes(16).toString('base64url');
  const nonce = crypto.randomBytes(16).toString('base64url');
  const u = new URL(d.authorization_endpoint);
  for (const [k, v] of Object.entries({
    response_type: 'code', client_id: CLIENT.client_id, redirect_uri: CLIENT.redirect, scope: 'openid email profile',
    state, nonce, code_challenge: p.challenge, code_challenge_method: 'S256', ...extra,
  })) u.searchParams.set(k, v);
  return { url: u.toString(), state, nonce, pkce: p, d };
}

async function token(d, body, { basic = true } = {}) {
  const headers = { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' };
  const params = new URLSearchParams(body);
  if (basic) headers.Authorization = `Basic ${Buffer.from(`${CLIENT.client_id}:${CLIENT.client_secret}`).toString('base64')}`;
  else { params.set('client_id', CLIENT.client_id); params.set('client_secret', CLIENT.client_secret); }
  return raw(d.token_endpoint, { method: 'POST', headers, body: params.toString() });
}

test('oidc-provider: discovery, devInteractions login + consent, code exchange with PKCE, id_token, userinfo, refresh', async () => {
  const a = await authorizeUrl();
  assert.equal(a.d.issuer, idp.issuer);
  assert.equal(a.d.authorization_response_iss_parameter_supported, true);
  const cb = await automatedLogin(null, a.url, { sub: 'sub-1', email: 'one@example.com', email_verified: true, name: 'One' });
  const cbu = new URL(cb);
  assert.equal(cbu.origin + cbu.pathname, CLIENT.redirect);
  assert.equal(cbu.searchParams.get('state'), a.state);
  assert.equal(cbu.searchParams.get('iss'), idp.issuer);
  const code = cbu.searchParams.get('code');
  assert.ok(code);
  assert.equal(idp.authorizeRequests.at(-1).code_challenge_method, 'S256');

  // The RP side: basic auth here, post auth in the refresh below (both accepted).
  const bad = await token(a.d, { grant_type: 'authorization_code', code, redirect_uri: CLIENT.redirect, code_verifier: 'x'.repeat(43) });
  assert.equal(bad.status, 400, 'a wrong PKCE verifier is refused');
  assert.equal(bad.json.error, 'invalid_grant');
  const a2 = await authorizeUrl();
  const cb2 = new URL(await automatedLogin(null, a2.url, { sub: 'sub-1', email: 'one@example.com', email_verified: true, name: 'One' }));
  const t = await token(a2.d, { grant_type: 'authorization_code', code: cb2.searchParams.get('code'), redirect_uri: CLIENT.redirect, code_verifier: a2.pkce.verifier });
  assert.equal(t.status, 200, t.text);
  assert.ok(t.json.access_token && t.json.refresh_token && t.json.id_token, JSON.stringify(t.json));
  assert.equal(idp.tokenRequests.at(-1).authMethod, 'client_secret_basic');
  const jwks = createLocalJWKSet((await raw(a2.d.jwks_uri)).json);
  const { payload } = await jwtVerify(t.json.id_token, jwks, { issuer: idp.issuer, audience: CLIENT.client_id });
  assert.equal(payload.sub, 'sub-1');
  assert.equal(payload.nonce, a2.nonce);
  assert.equal(payload.email, 'one@example.com');
  assert.equal(payload.email_verified, true);
  const ui = await raw(a2.d.userinfo_endpoint, { headers: { Authorization: `Bearer ${t.json.access_token}` } });
  assert.equal(ui.status, 200, ui.text);
  assert.deepEqual({ sub: ui.json.sub, email: ui.json.email, email_verified: ui.json.email_verified, name: ui.json.name },
    { sub: 'sub-1', email: 'one@example.com', email_verified: true, name: 'One' });

  const r = await token(a2.d, { grant_type: 'refresh_token', refresh_token: t.json.refresh_token }, { basic: false });
  assert.equal(r.status, 200, r.text);
  assert.equal(idp.tokenRequests.at(-1).authMethod, 'client_secret_post');
  assert.notEqual(r.json.access_token, t.json.access_token);
  assert.ok(r.json.refresh_token);

  const replay = await token(a2.d, { grant_type: 'authorization_code', code: cb2.searchParams.get('code'), redirect_uri: CLIENT.redirect, code_verifier: a2.pkce.verifier });
  assert.equal(replay.status, 400, 'a replayed code is refused');
  const revoked = await token(a2.d, { grant_type: 'refresh_token', refresh_token: r.json.refresh_token });
  assert.equal(revoked.status, 400, 'a code replay revokes the grant (oidc-provider), refresh tokens included');
});

test('oidc-provider: abort gives error=access_denied; authorizeResponse hook rewrites iss; missing email_verified stays missing', async () => {
  const a = await authorizeUrl();
  const cb = new URL(await automatedLogin(null, a.url, { sub: 'sub-2', email: 'two@example.com', abort: true }));
  assert.equal(cb.searchParams.get('error'), 'access_denied');
  assert.equal(cb.searchParams.get('state'), a.state);

  idp.hooks.authorizeResponse = (u) => { u.searchParams.set('iss', 'https://mix-up.example'); return u; };
  const b = await authorizeUrl();
  const cb2 = new URL(await automatedLogin(null, b.url, { sub: 'sub-2', email: 'two@example.com' }));
  assert.equal(cb2.searchParams.get('iss'), 'https://mix-up.example');
  idp.reset();

  const c = await authorizeUrl();
  const cb3 = new URL(await automatedLogin(null, c.url, { sub: 'sub-2', email: 'two@example.com', email_verified: undefined }));
  const t = await token(c.d, { grant_type: 'authorization_code', code: cb3.searchParams.get('code'), redirect_uri: CLIENT.redirect, code_verifier: c.pkce.verifier });
  assert.equal(t.status, 200, t.text);
  assert.equal('email_verified' in decodeJwt(t.json.id_token), false);
});

test('oidc-provider: id_token tampering hooks produce the intended defects', async () => {
  const jwks = createLocalJWKSet(idp.publicJwks);
  const cases = [
    [{ nonce: 'wrong' }, 'idp', (p) => assert.equal(p.nonce, 'wrong')],
    [{ aud: 'someone-else' }, 'idp', (p) => assert.equal(p.aud, 'someone-else')],
    [{ exp: Math.floor(Date.now() / 1000) - 3600 }, 'idp', null],
    [{}, 'foreign', null],
  ];
  for (const [over, key, check] of cases) {
    const a = await authorizeUrl();
    const rec = idp.tamperIdToken(over, { key });
    const cb = new URL(await automatedLogin(null, a.url, { sub: 'sub-3', email: 'three@example.com', email_verified: true }));
    const t = await token(a.d, { grant_type: 'authorization_code', code: cb.searchParams.get('code'), redirect_uri: CLIENT.redirect, code_verifier: a.pkce.verifier });
    assert.equal(t.status, 200);
    assert.equal(t.json.id_token, rec.tampered);
    const p = decodeJwt(t.json.id_token);
    if (check) {
      check(p);
      await jwtVerify(t.json.id_token, jwks, { issuer: idp.issuer });  // still validly signed
    } else {
      await assert.rejects(jwtVerify(t.json.id_token, jwks, { issuer: idp.issuer, audience: CLIENT.client_id }));
    }
  }
  const none = await idp.signIdToken({ sub: 'x', aud: CLIENT.client_id }, { key: 'none' });
  assert.equal(decodeProtectedHeader(none).alg, 'none');
  const emb = await idp.signIdToken({ sub: 'x', aud: CLIENT.client_id }, { key: 'embedded-jwk' });
  assert.ok(decodeProtectedHeader(emb).jwk);
  const good = await idp.signIdToken({ sub: 'x', aud: CLIENT.client_id, nonce: 'n' });
  await jwtVerify(good, jwks, { issuer: idp.issuer, audience: CLIENT.client_id });
});

test('oidc-provider: tokenRequest hook can redirect or hang the token endpoint', async () => {
  const d = await discovery();
  idp.hooks.tokenRequest = () => ({ status: 302, headers: { Location: 'http://127.0.0.1:9/steal' } });
  const r = await token(d, { grant_type: 'authorization_code', code: 'x', redirect_uri: CLIENT.redirect, code_verifier: 'y'.repeat(43) });
  assert.equal(r.status, 302);
  idp.hooks.tokenRequest = () => 'hang';
  const pending = token(d, { grant_type: 'authorization_code', code: 'x' });
  await new Promise((res) => setTimeout(res, 200));
  assert.equal(idp.hanging.size, 1);
  idp.reset();
  assert.equal((await pending).status, 504);
});

test('github mock: authorize -> code -> access_token (PKCE, JSON and form answers), /user, /user/emails', async () => {
  const p = pkce();
  gh.as({ id: 4242, login: 'octo', name: 'Octo Cat', email: null, emails: [
    { email: 'secondary@example.com', primary: false, verified: true, visibility: null },
    { email: 'octo@example.com', primary: true, verified: true, visibility: 'private' },
  ] });
  const u = new URL(`${gh.url}/login/oauth/authorize`);
  for (const [k, v] of Object.entries({ client_id: CLIENT.client_id, redirect_uri: CLIENT.redirect, scope: 'read:user user:email', state: 'st-1', code_challenge: p.challenge, code_challenge_method: 'S256' })) u.searchParams.set(k, v);
  const cb = new URL(await gh.authorize(u.toString()));
  assert.equal(cb.origin + cb.pathname, CLIENT.redirect);
  assert.equal(cb.searchParams.get('state'), 'st-1');
  const code = cb.searchParams.get('code');

  const form = (extra) => new URLSearchParams({ client_id: CLIENT.client_id, client_secret: CLIENT.client_secret, code, redirect_uri: CLIENT.redirect, ...extra }).toString();
  const wrong = await raw(`${gh.url}/login/oauth/access_token`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' }, body: form({ code_verifier: 'z'.repeat(43) }) });
  assert.equal(wrong.status, 200, 'GitHub answers token errors with 200');
  assert.equal(wrong.json.error, 'bad_verification_code');
  const t = await raw(`${gh.url}/login/oauth/access_token`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' }, body: form({ code_verifier: p.verifier }) });
  assert.equal(t.status, 200);
  assert.ok(t.json.access_token, t.text);
  assert.equal(t.json.token_type, 'bearer');
  const again = await raw(`${gh.url}/login/oauth/access_token`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: form({ code_verifier: p.verifier }) });
  assert.match(again.text, /^error=bad_verification_code/, 'form-encoded answer without Accept: application/json; codes are single use');

  const noUa = await raw(`${gh.url}/user`, { headers: { Authorization: `Bearer ${t.json.access_token}` } });
  assert.equal(noUa.status, 403, 'GitHub refuses API calls without User-Agent');
  const user = await raw(`${gh.url}/user`, { headers: { Authorization: `Bearer ${t.json.access_token}`, 'User-Agent': 'selftest' } });
  assert.equal(user.status, 200);
  assert.deepEqual({ id: user.json.id, login: user.json.login, email: user.json.email }, { id: 4242, login: 'octo', email: null });
  const emails = await raw(`${gh.url}/user/emails`, { headers: { Authorization: `token ${t.json.access_token}`, 'User-Agent': 'selftest' } });
  assert.equal(emails.status, 200);
  assert.equal(emails.json.find((e) => e.primary).email, 'octo@example.com');
  const bad = await raw(`${gh.url}/user`, { headers: { Authorization: 'Bearer nope', 'User-Agent': 'selftest' } });
  assert.equal(bad.status, 401);
  assert.equal(gh.tokenRequests.length, 3);
  assert.equal(gh.authorizeRequests.at(-1).code_challenge_method, 'S256');
});
