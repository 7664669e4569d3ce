// GitHub, the non-OpenID provider path (issue 5), against a GitHub-shaped OAuth 2.0 server on loopback (github.mjs):
// authorize with PKCE S256, the token exchange (GitHub answers errors with HTTP 200), the identity from /user and
// /user/emails (the primary verified address; OA-06), account id = GitHub's numeric id, linking only with a
// verified primary address, provider errors, id_token unsupported, getAccessToken / refreshToken (GitHub App
// expiring tokens) and accountInfo, driven by better-auth/client 1.6.23.
//
// Server: PGWARDEN_OAUTH_GITHUB_{CLIENT_ID,CLIENT_SECRET,AUTHORIZATION_URL,TOKEN_URL,USER_URL,EMAILS_URL}.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startServer, APP_ORIGIN, PASSWORD, showServerOutputOnFailure } from './harness.mjs';
import { startGithub } from './github.mjs';
import { assertLogClean } from './email.common.mjs';
import {
  identity, browser, startSocial, navigate, verifierOf, withoutVerifier, exchange, assertExchanged, assertErrorRedirect,
  assertSdkError, counts, userRow, accountRows, verifyEmailInDb, stopAll,
} from './oauth.common.mjs';

const GH_CID = 'Iv1.0123456789abcdef';
const GH_SECRET = `gh-secret-${crypto.randomBytes(16).toString('hex')}`;
const OOPS = `${APP_ORIGIN}/oops`;
let gh;
let srv;
let nextId = 583231;
const verifiers = [];

before(async () => {
  gh = await startGithub({ clients: [{ client_id: GH_CID, client_secret: GH_SECRET }] });
  srv = await startServer({ env: gh.env(GH_CID, GH_SECRET) });
});
after(() => stopAll([srv], [gh]));
showServerOutputOnFailure(() => srv);

const github = (extra = {}) => ({ provider: 'github', callbackURL: '/dashboard', newUserCallbackURL: '/welcome', errorCallbackURL: '/oops', ...extra });

function ghUser({ email = null, emails, name = 'The Octocat', tag = 'gh' } = {}) {
  const id = ++nextId;
  const addr = identity(tag).email;
  return {
    id,
    login: `octocat${id}`,
    name,
    email,
    avatar_url: `https://avatars.example/u/${id}`,
    emails: emails ?? [{ email: addr, primary: true, verified: true, visibility: 'private' }],
  };
}

/** signIn.social(github) in browser `b`, GitHub "signed in" as `user`, callback navigation without cookies. */
async function ghFlow(b, body, user, { error } = {}) {
  const start = await startSocial(b, body);
  const callback = await gh.authorize(start.url.toString(), { user, error });
  const nav = await navigate(callback);
  return { start, callback, nav };
}

const G = {};

test('signIn.social github: GitHub\'s authorize URL with client_id, redirect_uri, scopes read:user + user:email, state and PKCE S256', async () => {
  const s = await startSocial(browser(srv), github());
  assert.equal(s.data.redirect, true);
  assert.equal(s.url.origin + s.url.pathname, `${gh.url}/login/oauth/authorize`);
  assert.equal(s.params.client_id, GH_CID);
  assert.equal(s.params.redirect_uri, `${srv.authUrl}/callback/github`);
  const scopes = s.params.scope.split(/[ ,]+/);
  assert.ok(scopes.includes('read:user') && scopes.includes('user:email'), s.params.scope);
  assert.ok(s.params.state?.length >= 22);
  assert.equal(s.params.code_challenge_method, 'S256');
  assert.match(s.params.code_challenge, /^[A-Za-z0-9_-]{43}$/);
  assert.ok(s.challenge, 'challenge cookie');
});

test('new GitHub user: /user has no public e-mail -> the primary verified address of /user/emails; account id = the numeric id', async () => {
  const user = ghUser({ tag: 'ghnew' });
  user.emails.unshift({ email: identity('ghsecondary').email, primary: false, verified: true, visibility: null });
  const primary = user.emails.find((e) => e.primary).email;
  const b = browser(srv);
  const f = await ghFlow(b, github(), user);
  assert.equal(f.nav.status, 302, f.nav.text);
  assert.equal(withoutVerifier(f.nav.location), `${APP_ORIGIN}/welcome`);
  const v = verifierOf(f.nav.location);
  verifiers.push(v);
  const ex = await exchange(srv, v, b.jar);
  assertExchanged(srv, ex, { email: primary });
  Object.assign(G, { user, primary, userId: ex.json.user.id, b });  // for the next tests, whatever happens below

  const tr = gh.tokenRequests.at(-1);
  assert.equal(tr.params.code, new URL(f.callback).searchParams.get('code'));
  assert.ok(tr.params.code_verifier, 'PKCE verifier sent (the mock checked it against the challenge)');
  assert.equal(tr.params.redirect_uri, `${srv.authUrl}/callback/github`);
  const api = gh.apiRequests.slice(-2).map((r) => r.path).sort();
  assert.deepEqual(api, ['/user', '/user/emails']);
  assert.ok(gh.apiRequests.at(-1).userAgent, 'User-Agent sent (GitHub requires it)');

  const row = await userRow(srv, primary);
  assert.equal(row.emailVerified, true);
  assert.equal(row.name, user.name);
  assert.equal(row.image, user.avatar_url);
  const [acc] = await accountRows(srv, { userId: row.id });
  assert.equal(acc.providerId, 'github');
  assert.equal(acc.accountId, String(user.id));
  const issued = gh.issued.at(-1);
  assert.ok(acc.accessToken && !acc.accessToken.includes(issued.access_token), 'access token sealed');
});

test('OA-06: the same GitHub id with another primary address signs into the same user', async () => {
  const moved = { ...G.user, emails: [{ email: identity('ghmoved').email, primary: true, verified: true, visibility: 'private' }] };
  const before = await counts(srv);
  const b = browser(srv);
  const f = await ghFlow(b, github(), moved);
  assert.equal(withoutVerifier(f.nav.location), `${APP_ORIGIN}/dashboard`, 'a returning user');
  const ex = await exchange(srv, verifierOf(f.nav.location), b.jar);
  assert.equal(ex.status, 200, ex.text);
  assert.equal(ex.json.user.id, G.userId);
  assert.equal((await counts(srv)).users, before.users);
  gh.as(G.user);
});

test('a public e-mail on /user that /user/emails lists as verified is used, verified', async () => {
  const addr = identity('ghpublic').email;
  const user = ghUser({ email: addr, emails: [{ email: addr, primary: true, verified: true, visibility: 'public' }] });
  const b = browser(srv);
  const f = await ghFlow(b, github(), user);
  assertExchanged(srv, await exchange(srv, verifierOf(f.nav.location), b.jar), { email: addr });
  assert.equal((await userRow(srv, addr)).emailVerified, true);
});

test('an unverified primary GitHub address is not linked to a verified local user (account_not_linked)', async () => {
  const local = browser(srv);
  const { email } = identity('ghlocal');
  const su = await local.client.signUp.email({ email, password: PASSWORD, name: 'Local' });
  assert.equal(su.error, null);
  await verifyEmailInDb(srv, email);
  const user = ghUser({ emails: [{ email, primary: true, verified: false, visibility: 'private' }] });
  const before = await counts(srv);
  const f = await ghFlow(browser(srv), github(), user);
  assertErrorRedirect(srv, f.nav, { base: OOPS, error: 'account_not_linked' });
  assert.deepEqual(await counts(srv), before);
  assert.equal((await accountRows(srv, { userId: su.data.user.id, providerId: 'github' })).length, 0);
});

test('a verified primary GitHub address is linked to a verified local user', async () => {
  const local = browser(srv);
  const { email } = identity('ghlink');
  const su = await local.client.signUp.email({ email, password: PASSWORD, name: 'Local' });
  await verifyEmailInDb(srv, email);
  const user = ghUser({ emails: [{ email, primary: true, verified: true, visibility: 'private' }] });
  const b = browser(srv);
  const f = await ghFlow(b, github(), user);
  assert.equal(withoutVerifier(f.nav.location), `${APP_ORIGIN}/dashboard`);
  const ex = await exchange(srv, verifierOf(f.nav.location), b.jar);
  assert.equal(ex.json?.user?.id, su.data.user.id, ex.text);
  assert.equal((await accountRows(srv, { userId: su.data.user.id, providerId: 'github' }))[0]?.accountId, String(user.id));
});

test('a new GitHub user whose only address is unverified is created unverified', async () => {
  const { email } = identity('ghunv');
  const user = ghUser({ emails: [{ email, primary: true, verified: false, visibility: 'private' }] });
  const b = browser(srv);
  const f = await ghFlow(b, github(), user);
  assertExchanged(srv, await exchange(srv, verifierOf(f.nav.location), b.jar), { email });
  assert.equal((await userRow(srv, email)).emailVerified, false);
});

test('a GitHub user without any e-mail address -> error=email_not_found, nothing created', async () => {
  const user = ghUser({ emails: [] });
  const before = await counts(srv);
  const f = await ghFlow(browser(srv), github(), user);
  assertErrorRedirect(srv, f.nav, { base: OOPS, error: 'email_not_found' });
  assert.deepEqual(await counts(srv), before);
});

test('GitHub denies the authorization -> errorCallbackURL?error=access_denied, no token request', async () => {
  const calls = gh.tokenRequests.length;
  const before = await counts(srv);
  const f = await ghFlow(browser(srv), github(), ghUser(), { error: 'access_denied' });
  assertErrorRedirect(srv, f.nav, { base: OOPS, error: 'access_denied' });
  assert.equal(gh.tokenRequests.length, calls);
  assert.deepEqual(await counts(srv), before);
});

test('a used code (GitHub answers 200 {error: bad_verification_code}) -> invalid_code, nothing created', async () => {
  const first = await ghFlow(browser(srv), github(), ghUser({ tag: 'ghcode' }));
  assert.equal(first.nav.status, 302);
  const usedCode = new URL(first.callback).searchParams.get('code');
  const s = await startSocial(browser(srv), github());
  const before = await counts(srv);
  const nav = await navigate(`${srv.authUrl}/callback/github?code=${usedCode}&state=${encodeURIComponent(s.state)}`);
  assertErrorRedirect(srv, nav, { base: OOPS, error: 'invalid_code' });
  assert.equal(gh.tokenRequests.at(-1).params.code, usedCode);
  assert.deepEqual(await counts(srv), before);
});

test('/user answering 401 -> error=unable_to_get_user_info, nothing created', async () => {
  gh.hooks.api = ({ path }) => (path === '/user' ? { status: 401, body: { message: 'Bad credentials' } } : undefined);
  try {
    const before = await counts(srv);
    const f = await ghFlow(browser(srv), github(), ghUser());
    assertErrorRedirect(srv, f.nav, { base: OOPS, error: 'unable_to_get_user_info' });
    assert.deepEqual(await counts(srv), before);
  } finally {
    gh.hooks = {};
  }
});

test('signIn.social github with an idToken -> 404 ID_TOKEN_NOT_SUPPORTED', async () => {
  const res = await browser(srv).client.signIn.social({ provider: 'github', idToken: { token: 'eyJhbGciOiJub25lIn0.e30.' } });
  assertSdkError(res, 404, 'ID_TOKEN_NOT_SUPPORTED');
});

const GT = {};

test('getAccessToken github returns GitHub\'s token', async () => {
  const b = browser(srv);
  const user = ghUser({ tag: 'ghtok' });
  const f = await ghFlow(b, github(), user);
  assertExchanged(srv, await exchange(srv, verifierOf(f.nav.location), b.jar));
  Object.assign(GT, { b, user });
  const issued = gh.issued.at(-1);
  const t = await b.client.getAccessToken({ providerId: 'github' });
  assert.equal(t.error, null, JSON.stringify(t.error));
  assert.equal(t.data.accessToken, issued.access_token);
});

test('accountInfo github answers the GitHub profile; refreshToken without a refresh token -> 400 REFRESH_TOKEN_NOT_FOUND', async () => {
  const { b, user } = GT;
  const info = await b.client.accountInfo({ query: { accountId: String(user.id) } });
  assert.equal(info.error, null, JSON.stringify(info.error));
  assert.equal(String(info.data.user.id), String(user.id));
  assert.equal(info.data.user.email, user.emails[0].email);
  assert.equal(info.data.data.login, user.login);
  assertSdkError(await b.client.refreshToken({ providerId: 'github' }), 400, 'REFRESH_TOKEN_NOT_FOUND');
});

test('GitHub App expiring tokens: stored with their expiry, refreshed with grant_type=refresh_token when expired', async () => {
  gh.expiringTokens = true;
  gh.accessTokenTtl = 28800;
  try {
    const b = browser(srv);
    const user = ghUser({ tag: 'ghexp' });
    const f = await ghFlow(b, github(), user);
    const ex = await exchange(srv, verifierOf(f.nav.location), b.jar);
    assert.equal(ex.status, 200, ex.text);
    const issued = gh.issued.at(-1);
    const [acc] = await accountRows(srv, { userId: ex.json.user.id, providerId: 'github' });
    assert.ok(acc.accessTokenExpiresAt > new Date(Date.now() + 28000_000), `expiry ${acc.accessTokenExpiresAt}`);
    assert.ok(acc.refreshToken && !acc.refreshToken.includes(issued.refresh_token), 'refresh token stored sealed');
    await srv.db.query(`UPDATE neon_auth.account SET "accessTokenExpiresAt" = now() - interval '1 minute' WHERE id = $1`, [acc.id]);
    const t = await b.client.getAccessToken({ providerId: 'github' });
    assert.equal(t.error, null, JSON.stringify(t.error));
    const tr = gh.tokenRequests.at(-1);
    assert.equal(tr.params.grant_type, 'refresh_token');
    assert.equal(tr.params.refresh_token, issued.refresh_token);
    assert.equal(t.data.accessToken, gh.issued.at(-1).access_token);
    const r = await b.client.refreshToken({ providerId: 'github' });
    assert.equal(r.error, null, JSON.stringify(r.error));
    assert.equal(r.data.accessToken, gh.issued.at(-1).access_token);
    assert.equal(gh.tokenRequests.at(-1).params.refresh_token, gh.issued.at(-2).refresh_token, 'the rotated refresh token was stored');
  } finally {
    gh.expiringTokens = false;
  }
});

test('no client secret, GitHub token or verifier appears in the server log', () => {
  const secrets = [GH_SECRET, ...verifiers];
  for (const t of gh.allIssued) secrets.push(t.access_token, t.refresh_token);
  assertLogClean(srv.stderr(), secrets.filter(Boolean));
});
