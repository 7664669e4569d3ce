// Account linking (issue 5; security.md OA-05, OA-06; GHSA-g38m-r43w-p2q7) and the account endpoints driven by
// better-auth/client 1.6.23: implicit linking by e-mail only when the provider asserts a verified address (boolean
// true) AND the local address is verified; identities keyed on (providerId, sub); linkSocial (redirect flow, errors
// of Better Auth's callback: email_doesn't_match, unable_to_link_account, account_already_linked_to_different_user),
// listAccounts (shape, no secrets), unlinkAccount (never the last one).
//
// Server: providers acme (idp.mjs) and github (github.mjs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startServer, raw, post, APP_ORIGIN, PASSWORD, showServerOutputOnFailure } from './harness.mjs';
import { startOidc } from './idp.mjs';
import { startGithub } from './github.mjs';
import {
  identity, registerClient, browser, startSocial, navigate, verifierOf, withoutVerifier, exchange, assertExchanged,
  assertErrorRedirect, assertSdkError, counts, userRow, accountRows, verifyEmailInDb, oidcFlow, oidcSignIn, stopAll,
} from './oauth.common.mjs';

const CID = 'pgwarden-acme';
const SECRET = `acme-secret-${crypto.randomBytes(12).toString('hex')}`;
const GH_CID = 'gh-client-id';
const GH_SECRET = `gh-secret-${crypto.randomBytes(12).toString('hex')}`;
const OOPS = `${APP_ORIGIN}/oops`;
const LINK_ERR = `${APP_ORIGIN}/link-error`;
let idp;
let gh;
let srv;
let ghIds = 7000;

before(async () => {
  idp = await startOidc();
  gh = await startGithub({ clients: [{ client_id: GH_CID, client_secret: GH_SECRET }] });
  srv = await startServer({ env: { ...idp.env('ACME', CID, SECRET), ...gh.env(GH_CID, GH_SECRET) } });
  registerClient(idp, srv, 'acme', CID, SECRET);
});
after(() => stopAll([srv], [idp, gh]));
showServerOutputOnFailure(() => srv);

const acme = (extra = {}) => ({ provider: 'acme', callbackURL: '/dashboard', newUserCallbackURL: '/welcome', ...extra });

/** A password user signed up through the SDK in its own browser; `verified` sets emailVerified in the database. */
async function localUser(tag, { verified = false } = {}) {
  const b = browser(srv);
  const { email, name } = identity(tag);
  const res = await b.client.signUp.email({ email, password: PASSWORD, name });
  assert.equal(res.error, null, JSON.stringify(res.error));
  assert.equal(res.data.user.emailVerified, false);
  if (verified) await verifyEmailInDb(srv, email);
  return { email, name, userId: res.data.user.id, b };
}

async function providerIds(b) {
  const res = await b.client.listAccounts();
  assert.equal(res.error, null, JSON.stringify(res.error));
  return res.data.map((a) => a.providerId).sort();
}

// ---------------------------------------------------------------- GHSA-g38m-r43w-p2q7 / OA-05

test('GHSA-g38m-r43w-p2q7: an attacker\'s unverified pre-registration of victim@x is not linked when the victim signs in with a verified IdP address', async () => {
  const attacker = await localUser('victim');  // the attacker signed up with the victim's address and a password
  const before = await counts(srv);
  const who = { sub: identity('v').sub, email: attacker.email, email_verified: true, name: 'Victim' };
  const f = await oidcFlow(idp, browser(srv), acme({ errorCallbackURL: '/oops' }), who);
  assertErrorRedirect(srv, f.nav, { base: OOPS, error: 'account_not_linked' });
  assert.deepEqual(await counts(srv), before, 'no user, session or account created');
  assert.equal((await accountRows(srv, { userId: attacker.userId, providerId: 'acme' })).length, 0, 'no acme account on the attacker\'s user');
  assert.equal((await userRow(srv, attacker.email)).emailVerified, false, 'the pre-registered address stays unverified');
  // The attacker's password session sees nothing of the victim's provider account.
  assert.deepEqual(await providerIds(attacker.b), ['credential']);
  assertSdkError(await attacker.b.client.getAccessToken({ providerId: 'acme' }), 400, 'ACCOUNT_NOT_FOUND', 'getAccessToken');
  const info = await attacker.b.client.accountInfo({ query: { accountId: who.sub } });
  assert.equal(info.data, null, 'accountInfo of the victim\'s sub');
  assert.equal(info.error?.status, 400);
});

for (const [what, claim] of [['the string "false"', 'false'], ['false', false], ['missing', undefined]]) {
  test(`OA-05: a verified local user is not linked when the IdP's email_verified is ${what}`, async () => {
    const local = await localUser('nolink', { verified: true });
    const before = await counts(srv);
    const f = await oidcFlow(idp, browser(srv), acme({ errorCallbackURL: '/oops' }), { sub: identity('n').sub, email: local.email, email_verified: claim });
    assertErrorRedirect(srv, f.nav, { base: OOPS, error: 'account_not_linked' });
    assert.deepEqual(await counts(srv), before);
    assert.equal((await accountRows(srv, { userId: local.userId, providerId: 'acme' })).length, 0);
  });
}

test('OA-05: a verified local user IS linked when the IdP asserts email_verified:true: same user, callbackURL (not newUser), password kept', async () => {
  const local = await localUser('link', { verified: true });
  const who = { sub: identity('l').sub, email: local.email.toUpperCase(), email_verified: true, name: 'Linked' };
  const b = browser(srv);
  const flow = await oidcFlow(idp, b, acme(), who);
  assert.equal(flow.nav.status, 302, flow.nav.text);
  assert.equal(withoutVerifier(flow.nav.location), `${APP_ORIGIN}/dashboard`, 'an existing user goes to callbackURL');
  const ex = await exchange(srv, verifierOf(flow.nav.location), b.jar);
  assertExchanged(srv, ex, { email: local.email });
  assert.equal(ex.json.user.id, local.userId);
  const acc = await accountRows(srv, { userId: local.userId, providerId: 'acme' });
  assert.equal(acc.length, 1);
  assert.equal(acc[0].accountId, who.sub);
  assert.equal((await post(srv, '/sign-in/email', { email: local.email, password: PASSWORD })).status, 200, 'the password still signs in');
  assert.deepEqual(await providerIds(local.b), ['acme', 'credential']);
});

test('a new user from an IdP that does not assert a verified address is created unverified', async () => {
  const who = { ...identity('unv'), email_verified: false };
  const b = browser(srv);
  const flow = await oidcFlow(idp, b, acme(), who);
  assert.equal(withoutVerifier(flow.nav.location), `${APP_ORIGIN}/welcome`);
  assertExchanged(srv, await exchange(srv, verifierOf(flow.nav.location), b.jar), { email: who.email });
  assert.equal((await userRow(srv, who.email)).emailVerified, false);
});

// ---------------------------------------------------------------- OA-06

test('OA-06: the identity is (providerId, sub): the same sub with a changed IdP e-mail signs into the same user', async () => {
  const who = { ...identity('sub'), email_verified: true };
  const first = await oidcSignIn(srv, idp, browser(srv), acme(), who);
  const before = await counts(srv);
  const moved = { ...who, email: identity('moved').email };
  const b = browser(srv);
  const flow = await oidcFlow(idp, b, acme(), moved);
  assert.equal(flow.nav.status, 302, flow.nav.text);
  assert.equal(withoutVerifier(flow.nav.location), `${APP_ORIGIN}/dashboard`, 'a returning user');
  const ex = await exchange(srv, verifierOf(flow.nav.location), b.jar);
  assert.equal(ex.status, 200, ex.text);
  assert.equal(ex.json.user.id, first.user.id);
  assert.equal(await userRow(srv, moved.email), undefined, 'no user for the new address');
  assert.equal((await counts(srv)).users, before.users);
  assert.equal((await counts(srv)).accounts, before.accounts);
});

test('OA-06: a new sub claiming the address of a user who already has an identity at that provider is not signed into that user (D34)', async () => {
  const who = { ...identity('resub'), email_verified: true };
  const first = await oidcSignIn(srv, idp, browser(srv), acme(), who);
  await verifyEmailInDb(srv, who.email);
  const before = await counts(srv);
  const other = { ...who, sub: identity('resub2').sub };  // a reassigned / recycled address at the IdP
  const f = await oidcFlow(idp, browser(srv), acme({ errorCallbackURL: '/oops' }), other);
  assertErrorRedirect(srv, f.nav, { base: OOPS, error: 'account_not_linked' });
  assert.deepEqual(await counts(srv), before, 'no user, session or account created');
  const acc = await accountRows(srv, { userId: first.user.id, providerId: 'acme' });
  assert.deepEqual(acc.map((a) => a.accountId), [who.sub]);
  // The original subject still signs in.
  assert.equal((await oidcSignIn(srv, idp, browser(srv), acme(), who)).user.id, first.user.id);
});

// ---------------------------------------------------------------- linkSocial

const L = {};

test('linkSocial (redirect flow): {url, redirect:true}; the callback links the IdP account to the signed-in user and redirects to callbackURL', async () => {
  const p = await localUser('linker', { verified: true });
  const s = await startSocial(p.b, { provider: 'acme', callbackURL: '/settings', errorCallbackURL: '/link-error' }, { link: true });
  assert.equal(s.data.redirect, true);
  assert.equal(s.params.redirect_uri, `${srv.authUrl}/callback/acme`);
  assert.equal(s.params.code_challenge_method, 'S256');
  const sub = identity('ls').sub;
  Object.assign(L, { p, sub });  // for the next tests, whatever happens below
  const before = await counts(srv);
  const cb = await idp.login(null, s.url.toString(), { sub, email: p.email, email_verified: true, name: 'Linker at IdP' });
  const nav = await navigate(cb);  // the callback needs no session cookie: the state names the user
  assert.equal(nav.status, 302, nav.text);
  assert.equal(withoutVerifier(nav.location), `${APP_ORIGIN}/settings`);
  const acc = await accountRows(srv, { userId: p.userId, providerId: 'acme' });
  assert.equal(acc.length, 1);
  assert.equal(acc[0].accountId, sub);
  assert.ok(!acc[0].accessToken?.includes(idp.tokenResponses.at(-1).access_token), 'sealed');
  assert.equal((await counts(srv)).users, before.users);
  assert.deepEqual(await providerIds(p.b), ['acme', 'credential']);
  // The linked identity now signs in as that user.
  const again = await oidcSignIn(srv, idp, browser(srv), acme(), { sub, email: p.email, email_verified: true });
  assert.equal(again.user.id, p.userId);
});

test('linkSocial with an IdP address different from the user\'s -> error=email_doesn\'t_match, no account', async () => {
  const p = await localUser('diff', { verified: true });
  const s = await startSocial(p.b, { provider: 'acme', callbackURL: '/settings', errorCallbackURL: '/link-error' }, { link: true });
  const cb = await idp.login(null, s.url.toString(), { sub: identity('d').sub, email: identity('other').email, email_verified: true });
  assertErrorRedirect(srv, await navigate(cb), { base: LINK_ERR, error: "email_doesn't_match" });
  assert.equal((await accountRows(srv, { userId: p.userId, providerId: 'acme' })).length, 0);
});

test('linkSocial when the IdP does not assert a verified address -> error=unable_to_link_account, no account', async () => {
  const p = await localUser('unvlink', { verified: true });
  const s = await startSocial(p.b, { provider: 'acme', callbackURL: '/settings', errorCallbackURL: '/link-error' }, { link: true });
  const cb = await idp.login(null, s.url.toString(), { sub: identity('u').sub, email: p.email, email_verified: false });
  assertErrorRedirect(srv, await navigate(cb), { base: LINK_ERR, error: 'unable_to_link_account' });
  assert.equal((await accountRows(srv, { userId: p.userId, providerId: 'acme' })).length, 0);
});

test('linkSocial of an IdP account linked to another user -> error=account_already_linked_to_different_user', async () => {
  const q = await localUser('second', { verified: true });
  const s = await startSocial(q.b, { provider: 'acme', callbackURL: '/settings', errorCallbackURL: '/link-error' }, { link: true });
  // L.sub (linked to L.p) now asserts q's address at the IdP.
  const cb = await idp.login(null, s.url.toString(), { sub: L.sub, email: q.email, email_verified: true });
  assertErrorRedirect(srv, await navigate(cb), { base: LINK_ERR, error: 'account_already_linked_to_different_user' });
  assert.equal((await accountRows(srv, { userId: q.userId, providerId: 'acme' })).length, 0);
  const still = await accountRows(srv, { providerId: 'acme', accountId: L.sub });
  assert.equal(still.length, 1);
  assert.equal(still[0].userId, L.p.userId, 'the account stays with its owner');
});

test('linkSocial without a session -> 401; with an untrusted callbackURL -> 403 INVALID_CALLBACK_URL', async () => {
  const anon = await post(srv, '/link-social', { provider: 'acme', callbackURL: '/settings' });
  assert.equal(anon.status, 401, anon.text);
  const bad = await L.p.b.client.linkSocial({ provider: 'acme', callbackURL: 'https://evil.example/settings' });
  assertSdkError(bad, 403, 'INVALID_CALLBACK_URL');
  const unknown = await L.p.b.client.linkSocial({ provider: 'facebook', callbackURL: '/settings' });
  assertSdkError(unknown, 404, 'PROVIDER_NOT_FOUND');
});

// ---------------------------------------------------------------- listAccounts / unlinkAccount

test('listAccounts: [{id, providerId, accountId, userId, scopes[], createdAt, updatedAt}] and nothing secret', async () => {
  const res = await L.p.b.client.listAccounts();
  assert.equal(res.error, null);
  assert.equal(res.data.length, 2);
  for (const a of res.data) {
    assert.deepEqual(Object.keys(a).sort(), ['accountId', 'createdAt', 'id', 'providerId', 'scopes', 'updatedAt', 'userId'], JSON.stringify(a));
    assert.equal(a.userId, L.p.userId);
    assert.ok(Array.isArray(a.scopes));
    assert.ok(a.createdAt instanceof Date && a.updatedAt instanceof Date);
  }
  const acme = res.data.find((a) => a.providerId === 'acme');
  assert.equal(acme.accountId, L.sub);
  assert.ok(acme.scopes.includes('openid'), JSON.stringify(acme.scopes));
  const text = await L.p.b.last('/list-accounts').text;
  for (const t of idp.allTokenResponses) {
    for (const v of [t.access_token, t.refresh_token, t.id_token]) if (v) assert.ok(!text.includes(v), 'no provider token in list-accounts');
  }
  assert.equal((await raw(`${srv.authUrl}/list-accounts`)).status, 401, 'without a session');
});

test('unlinkAccount: never the last account (400 FAILED_TO_UNLINK_LAST_ACCOUNT); unknown provider 400 ACCOUNT_NOT_FOUND; otherwise {status:true}', async () => {
  // An OAuth-only user.
  const b = browser(srv);
  const who = { ...identity('only'), email_verified: true };
  const signed = await oidcSignIn(srv, idp, b, acme(), who);
  assert.deepEqual(await providerIds(b), ['acme']);
  assertSdkError(await b.client.unlinkAccount({ providerId: 'acme' }), 400, 'FAILED_TO_UNLINK_LAST_ACCOUNT');
  assert.equal((await accountRows(srv, { userId: signed.user.id })).length, 1, 'the only account is kept');

  // Link GitHub (same verified address), then acme can go.
  const ghUser = { id: ++ghIds, login: `octo${ghIds}`, name: 'Octo', email: null, emails: [{ email: who.email, primary: true, verified: true, visibility: 'private' }] };
  gh.as(ghUser);
  const s = await startSocial(b, { provider: 'github', callbackURL: '/settings', errorCallbackURL: '/link-error' }, { link: true });
  const nav = await navigate(await gh.authorize(s.url.toString()));
  assert.equal(nav.status, 302, nav.text);
  assert.equal(withoutVerifier(nav.location), `${APP_ORIGIN}/settings`, nav.location);
  assert.deepEqual(await providerIds(b), ['acme', 'github']);
  const gacc = await accountRows(srv, { userId: signed.user.id, providerId: 'github' });
  assert.equal(gacc[0].accountId, String(ghUser.id));

  assertSdkError(await b.client.unlinkAccount({ providerId: 'google' }), 400, 'ACCOUNT_NOT_FOUND');
  assertSdkError(await b.client.unlinkAccount({ providerId: 'acme', accountId: 'not-the-sub' }), 400, 'ACCOUNT_NOT_FOUND');
  const ok = await b.client.unlinkAccount({ providerId: 'acme', accountId: who.sub });
  assert.equal(ok.error, null, JSON.stringify(ok.error));
  assert.deepEqual(ok.data, { status: true });
  assert.deepEqual(await providerIds(b), ['github']);
  assert.equal((await accountRows(srv, { userId: signed.user.id, providerId: 'acme' })).length, 0);
  assertSdkError(await b.client.unlinkAccount({ providerId: 'github' }), 400, 'FAILED_TO_UNLINK_LAST_ACCOUNT');

  // A password user keeps its password account as the last one.
  const okP = await L.p.b.client.unlinkAccount({ providerId: 'acme' });
  assert.equal(okP.error, null, JSON.stringify(okP.error));
  assertSdkError(await L.p.b.client.unlinkAccount({ providerId: 'credential' }), 400, 'FAILED_TO_UNLINK_LAST_ACCOUNT');
  const anon = await post(srv, '/unlink-account', { providerId: 'acme' });
  assert.equal(anon.status, 401, anon.text);
});
