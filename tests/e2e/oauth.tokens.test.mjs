// Provider tokens and id_token sign-in (issue 5) through better-auth/client 1.6.23: getAccessToken (the stored,
// sealed token; refreshed at the IdP when expired, the rotated refresh token stored), refreshToken, accountInfo,
// signIn.social / linkSocial with an idToken (signature against the IdP's JWKS, iss, aud, exp, nonce; OA-03).
//
// Server: provider acme (idp.mjs, refresh tokens issued and rotated by oidc-provider).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startServer, post, signCookie, COOKIE, PASSWORD, showServerOutputOnFailure } from './harness.mjs';
import { startOidc } from './idp.mjs';
import { assertLogClean } from './email.common.mjs';
import {
  identity, registerClient, browser, assertSdkError, counts, userRow, accountRows, verifyEmailInDb, oidcSignIn, stopAll,
} from './oauth.common.mjs';

const CID = 'pgwarden-acme';
const SECRET = `acme-secret-${crypto.randomBytes(12).toString('hex')}`;
let idp;
let srv;

before(async () => {
  idp = await startOidc();
  srv = await startServer({ env: idp.env('ACME', CID, SECRET) });
  registerClient(idp, srv, 'acme', CID, SECRET);
});
after(() => stopAll([srv], [idp]));
showServerOutputOnFailure(() => srv);

const acme = (extra = {}) => ({ provider: 'acme', callbackURL: '/dashboard', ...extra });
const T = {};

async function expireAccessToken(userId) {
  await srv.db.query(`UPDATE neon_auth.account SET "accessTokenExpiresAt" = now() - interval '1 minute' WHERE "userId" = $1 AND "providerId" = 'acme'`, [userId]);
}

test('getAccessToken returns the IdP\'s access token (unsealed), its expiry and scopes', async () => {
  const b = browser(srv);
  const who = { ...identity('tok'), email_verified: true };
  const r = await oidcSignIn(srv, idp, b, acme(), who);
  const issued = idp.tokenResponses.at(-1);
  Object.assign(T, { b, who, userId: r.user.id, issued });  // for the next tests, whatever happens below
  const res = await b.client.getAccessToken({ providerId: 'acme' });
  assert.equal(res.error, null, JSON.stringify(res.error));
  assert.equal(res.data.accessToken, issued.access_token);
  assert.ok(res.data.accessTokenExpiresAt instanceof Date, JSON.stringify(res.data));
  const expected = Date.now() + issued.expires_in * 1000;
  assert.ok(Math.abs(res.data.accessTokenExpiresAt.getTime() - expected) < 60_000, `expiry ${res.data.accessTokenExpiresAt.toISOString()}`);
  assert.ok(Array.isArray(res.data.scopes) && res.data.scopes.includes('openid'), JSON.stringify(res.data.scopes));
  if (res.data.idToken !== undefined) assert.equal(res.data.idToken, issued.id_token);
  assert.equal(idp.tokenResponses.at(-1), issued, 'no token request while the access token is valid');
  const byAccount = await b.client.getAccessToken({ providerId: 'acme', accountId: who.sub });
  assert.equal(byAccount.data?.accessToken, issued.access_token);
});

test('getAccessToken with an expired access token refreshes it at the IdP and stores the new (sealed) tokens', async () => {
  await expireAccessToken(T.userId);
  const calls = idp.tokenRequests.length;
  const res = await T.b.client.getAccessToken({ providerId: 'acme' });
  assert.equal(res.error, null, JSON.stringify(res.error));
  assert.equal(idp.tokenRequests.length, calls + 1, 'one token request');
  const tr = idp.tokenRequests.at(-1);
  assert.equal(tr.params.grant_type, 'refresh_token');
  assert.equal(tr.params.refresh_token, T.issued.refresh_token);
  const fresh = idp.tokenResponses.at(-1);
  T.fresh = fresh;
  assert.notEqual(fresh.access_token, T.issued.access_token);
  assert.equal(res.data.accessToken, fresh.access_token);
  assert.ok(res.data.accessTokenExpiresAt > new Date());
  const [acc] = await accountRows(srv, { userId: T.userId, providerId: 'acme' });
  assert.ok(acc.accessTokenExpiresAt > new Date(), 'the new expiry is stored');
  assert.ok(!acc.accessToken.includes(fresh.access_token), 'sealed');
  assert.ok(!acc.refreshToken.includes(fresh.refresh_token), 'sealed');
  const again = await T.b.client.getAccessToken({ providerId: 'acme' });
  assert.equal(again.data.accessToken, fresh.access_token, 'the refreshed token is the stored one now');
  assert.equal(idp.tokenRequests.length, calls + 1);
  T.fresh = fresh;
});

test('refreshToken refreshes with the stored (rotated) refresh token and answers the new tokens', async () => {
  const res = await T.b.client.refreshToken({ providerId: 'acme' });
  assert.equal(res.error, null, JSON.stringify(res.error));
  const tr = idp.tokenRequests.at(-1);
  assert.equal(tr.params.grant_type, 'refresh_token');
  assert.equal(tr.params.refresh_token, T.fresh.refresh_token, 'the rotated refresh token was stored and used');
  const newest = idp.tokenResponses.at(-1);
  assert.equal(res.data.accessToken, newest.access_token);
  assert.equal(res.data.refreshToken, newest.refresh_token);
  assert.ok(res.data.accessTokenExpiresAt instanceof Date && res.data.accessTokenExpiresAt > new Date());
  const got = await T.b.client.getAccessToken({ providerId: 'acme' });
  assert.equal(got.data.accessToken, newest.access_token);
  T.newest = newest;
});

test('a refresh the IdP refuses -> 400 FAILED_TO_REFRESH_ACCESS_TOKEN / FAILED_TO_GET_ACCESS_TOKEN; the stored token is kept', async () => {
  idp.hooks.tokenRequest = ({ params }) => (params.grant_type === 'refresh_token'
    ? { status: 400, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ error: 'invalid_grant', error_description: 'refresh token not found' }) }
    : undefined);
  try {
    assertSdkError(await T.b.client.refreshToken({ providerId: 'acme' }), 400, 'FAILED_TO_REFRESH_ACCESS_TOKEN');
    await expireAccessToken(T.userId);
    assertSdkError(await T.b.client.getAccessToken({ providerId: 'acme' }), 400, 'FAILED_TO_GET_ACCESS_TOKEN');
    assert.equal((await accountRows(srv, { userId: T.userId, providerId: 'acme' })).length, 1);
  } finally {
    idp.reset();
  }
});

test('getAccessToken / refreshToken: 401 without a session, 400 for a provider without account or not configured', async () => {
  const anon = await post(srv, '/get-access-token', { providerId: 'acme' });
  assert.equal(anon.status, 401, anon.text);
  const anonR = await post(srv, '/refresh-token', { providerId: 'acme' });
  assert.equal(anonR.status, 401, anonR.text);
  const pw = browser(srv);
  const su = await pw.client.signUp.email({ email: identity('pw').email, password: PASSWORD, name: 'Pw' });
  assert.equal(su.error, null);
  assertSdkError(await pw.client.getAccessToken({ providerId: 'acme' }), 400, 'ACCOUNT_NOT_FOUND');
  assertSdkError(await pw.client.refreshToken({ providerId: 'acme' }), 400, 'ACCOUNT_NOT_FOUND');
  // A userId in the body never selects another user's account over HTTP.
  const other = await pw.client.getAccessToken({ providerId: 'acme', userId: T.userId });
  assert.equal(other.data, null, 'another user\'s token');
  assertSdkError(await pw.client.getAccessToken({ providerId: 'facebook' }), 400, 'PROVIDER_NOT_SUPPORTED');
});

test('accountInfo({query:{accountId}}) answers {user:{id,name,email,image,emailVerified}, data} from the provider', async () => {
  const res = await T.b.client.accountInfo({ query: { accountId: T.who.sub } });
  assert.equal(res.error, null, JSON.stringify(res.error));
  assert.equal(res.data.user.id, T.who.sub);
  assert.equal(res.data.user.email, T.who.email);
  assert.equal(res.data.user.emailVerified, true);
  assert.equal(res.data.user.name, T.who.name);
  assert.equal(typeof res.data.data, 'object');
  assert.equal(res.data.data.sub, T.who.sub);
});

test('accountInfo answers 400 for a credential account and for another user\'s account', async () => {
  const pwB = browser(srv);
  const su = await pwB.client.signUp.email({ email: identity('pwinfo').email, password: PASSWORD, name: 'Pw' });
  const cred = await pwB.client.accountInfo({ query: { accountId: su.data.user.id } });
  assert.equal(cred.data, null);
  assert.equal(cred.error?.status, 400, JSON.stringify(cred.error));
  const foreign = await pwB.client.accountInfo({ query: { accountId: T.who.sub } });
  assert.equal(foreign.data, null);
  assert.equal(foreign.error?.status, 400);
});

// ---------------------------------------------------------------- sign-in with an idToken

async function idToken(claims, opts) {
  return idp.signIdToken({ aud: CID, ...claims }, opts);
}

test('signIn.social with an idToken: 200 {redirect:false, token, user}, session cookie, user + account created', async () => {
  const b = browser(srv);
  const who = { ...identity('idt'), email_verified: true };
  const nonce = crypto.randomBytes(12).toString('base64url');
  const token = await idToken({ sub: who.sub, email: who.email, email_verified: true, name: who.name, nonce });
  const res = await b.client.signIn.social({ provider: 'acme', idToken: { token, nonce } });
  assert.equal(res.error, null, JSON.stringify(res.error));
  assert.equal(res.data.redirect, false);
  assert.equal(res.data.url, undefined);
  assert.equal(typeof res.data.token, 'string');
  assert.equal(res.data.user.email, who.email);
  assert.equal(b.jar.get(COOKIE), signCookie(srv.secret, res.data.token));
  const s = await b.client.getSession();
  assert.equal(s.data?.user?.id, res.data.user.id);
  const acc = await accountRows(srv, { userId: res.data.user.id });
  assert.equal(acc.length, 1);
  assert.equal(acc[0].providerId, 'acme');
  assert.equal(acc[0].accountId, who.sub);
  // A later id_token for the same sub signs into the same user (a returning user).
  const b2 = browser(srv);
  const nonce2 = crypto.randomBytes(12).toString('base64url');
  const token2 = await idToken({ sub: who.sub, email: who.email, email_verified: true, nonce: nonce2 });
  const again = await b2.client.signIn.social({ provider: 'acme', idToken: { token: token2, nonce: nonce2 } });
  assert.equal(again.data?.user?.id, res.data.user.id, JSON.stringify(again.error));
});

const ID_TOKEN_DEFECTS = [
  ['signed by another key under the IdP\'s kid', {}, 'foreign'],
  ['signed by a key with an unknown kid', {}, 'unknown-kid'],
  ['alg none', {}, 'none'],
  ['HS256 with the client secret as key', {}, 'hs256'],
  ['an attacker key embedded in the header (jwk)', {}, 'embedded-jwk'],
  ['aud of another client', { aud: 'another-client' }, 'idp'],
  ['a foreign iss', { iss: 'https://evil.example' }, 'idp'],
  ['expired', { exp: Math.floor(Date.now() / 1000) - 3600, iat: Math.floor(Date.now() / 1000) - 7200 }, 'idp'],
  ['a nonce other than the one sent', { nonce: 'other-nonce' }, 'idp'],
  ['no nonce while one is sent', { nonce: undefined }, 'idp'],
];

for (const [what, overrides, key] of ID_TOKEN_DEFECTS) {
  test(`signIn.social with an idToken ${what} -> 401 INVALID_TOKEN, nothing created`, async () => {
    const b = browser(srv);
    const who = { ...identity('badidt'), email_verified: true };
    const token = await idToken({ sub: who.sub, email: who.email, email_verified: true, nonce: 'the-nonce', ...overrides }, { key, secret: SECRET });
    const before = await counts(srv);
    const res = await b.client.signIn.social({ provider: 'acme', idToken: { token, nonce: 'the-nonce' } });
    assertSdkError(res, 401, 'INVALID_TOKEN', what);
    assert.equal(b.jar.get(COOKIE), undefined);
    assert.deepEqual(await counts(srv), before);
  });
}

test('signIn.social with an idToken for an unverified local user is refused (401), no account linked', async () => {
  const attacker = browser(srv);
  const { email } = identity('idtvictim');
  const su = await attacker.client.signUp.email({ email, password: PASSWORD, name: 'Attacker' });
  assert.equal(su.error, null);
  const b = browser(srv);
  const token = await idToken({ sub: identity('x').sub, email, email_verified: true, nonce: 'n' });
  const res = await b.client.signIn.social({ provider: 'acme', idToken: { token, nonce: 'n' } });
  assert.equal(res.data, null);
  assert.equal(res.error?.status, 401, JSON.stringify(res.error));
  assert.equal((await accountRows(srv, { userId: su.data.user.id, providerId: 'acme' })).length, 0);
  assert.equal(b.jar.get(COOKIE), undefined);
});

/** A verified password user in its own browser. */
async function verifiedUser(tag) {
  const b = browser(srv);
  const { email, name } = identity(tag);
  const su = await b.client.signUp.email({ email, password: PASSWORD, name });
  assert.equal(su.error, null, JSON.stringify(su.error));
  await verifyEmailInDb(srv, email);
  return { b, email, userId: su.data.user.id };
}

test('linkSocial with an idToken links to the signed-in user ({url:"", status:true, redirect:false})', async () => {
  const p = await verifiedUser('idtlink');
  const sub = identity('il').sub;
  const ok = await p.b.client.linkSocial({ provider: 'acme', idToken: { token: await idToken({ sub, email: p.email, email_verified: true }) } });
  assert.equal(ok.error, null, JSON.stringify(ok.error));
  assert.deepEqual(ok.data, { url: '', status: true, redirect: false });
  const acc = await accountRows(srv, { userId: p.userId, providerId: 'acme' });
  assert.equal(acc.length, 1);
  assert.equal(acc[0].accountId, sub);
  assert.equal((await userRow(srv, p.email)).id, p.userId);
});

for (const [what, claims, key, status, code] of [
  ['an address other than the user\'s', (p) => ({ email: identity('zz').email, email_verified: true }), 'idp', 401, 'LINKING_DIFFERENT_EMAILS_NOT_ALLOWED'],
  ['an address the IdP does not assert verified', (p) => ({ email: p.email, email_verified: false }), 'idp', 401, 'LINKING_NOT_ALLOWED'],
  ['a bad signature', (p) => ({ email: p.email, email_verified: true }), 'foreign', 401, 'INVALID_TOKEN'],
]) {
  test(`linkSocial with an idToken carrying ${what} -> ${status} ${code}, no account`, async () => {
    const p = await verifiedUser('idtlinkbad');
    const res = await p.b.client.linkSocial({ provider: 'acme', idToken: { token: await idToken({ sub: identity('ib').sub, ...claims(p) }, { key }) } });
    assertSdkError(res, status, code, what);
    assert.equal((await accountRows(srv, { userId: p.userId, providerId: 'acme' })).length, 0);
  });
}

test('no client secret or provider token appears in the server log', () => {
  const secrets = [SECRET];
  for (const t of idp.allTokenResponses) secrets.push(t.access_token, t.refresh_token, t.id_token);
  assertLogClean(srv.stderr(), secrets.filter(Boolean));
});
