// The built-in providers pointed at the loopback OpenID Provider (issue 5): google and microsoft through
// PGWARDEN_OAUTH_<ID>_ISSUER (discovered like a generic provider), vercel through its endpoint overrides (OAuth 2 +
// userinfo), and the providerId naming rule of generic providers (PGWARDEN_OAUTH_MY_IDP_* -> "my-idp",
// /callback/my-idp). Each: signIn.social -> IdP -> callback -> verifier exchange, account under the right providerId.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startServer, APP_ORIGIN, showServerOutputOnFailure } from './harness.mjs';
import { startOidc } from './idp.mjs';
import {
  identity, registerClient, browser, navigate, withoutVerifier, accountRows, oidcSignIn, oidcFlow, assertErrorRedirect, stopAll,
} from './oauth.common.mjs';

const secret = (id) => `${id}-secret-${crypto.randomBytes(8).toString('hex')}`;
const P = {
  google: { id: 'GOOGLE', client: '123-abc.apps.googleusercontent.com', secret: secret('google') },
  microsoft: { id: 'MICROSOFT', client: '00000000-1111-2222-3333-444444444444', secret: secret('ms') },
  vercel: { id: 'VERCEL', client: 'oac_vercel_client', secret: secret('vercel') },
  'my-idp': { id: 'MY_IDP', client: 'my-idp-client', secret: secret('myidp') },
};
let idp;
let srv;

before(async () => {
  idp = await startOidc();
  const env = {
    ...idp.env('GOOGLE', P.google.client, P.google.secret),
    ...idp.env('MICROSOFT', P.microsoft.client, P.microsoft.secret, { PGWARDEN_OAUTH_MICROSOFT_TENANT: 'contoso-tenant-id' }),
    ...idp.env('MY_IDP', P['my-idp'].client, P['my-idp'].secret),
    // Vercel is OAuth 2 + userinfo (no id_token); its endpoints are pointed at the IdP.
    PGWARDEN_OAUTH_VERCEL_CLIENT_ID: P.vercel.client,
    PGWARDEN_OAUTH_VERCEL_CLIENT_SECRET: P.vercel.secret,
    PGWARDEN_OAUTH_VERCEL_ISSUER: idp.issuer,
    PGWARDEN_OAUTH_VERCEL_AUTHORIZATION_URL: `${idp.issuer}/auth`,
    PGWARDEN_OAUTH_VERCEL_TOKEN_URL: `${idp.issuer}/token`,
    PGWARDEN_OAUTH_VERCEL_USER_URL: `${idp.issuer}/me`,
    PGWARDEN_OAUTH_VERCEL_SCOPES: 'openid,email,profile',
  };
  srv = await startServer({ env });
  for (const [providerId, p] of Object.entries(P)) registerClient(idp, srv, providerId, p.client, p.secret);
});
after(() => stopAll([srv], [idp]));
showServerOutputOnFailure(() => srv);

for (const providerId of ['google', 'microsoft', 'my-idp', 'vercel']) {
  test(`${providerId}: signIn.social -> IdP -> /callback/${providerId} -> verifier exchange; account under "${providerId}"`, async () => {
    const b = browser(srv);
    const who = { ...identity(providerId), email_verified: true };
    const r = await oidcSignIn(srv, idp, b, { provider: providerId, callbackURL: '/dashboard', newUserCallbackURL: '/welcome' }, who);
    assert.equal(r.start.params.client_id, P[providerId].client);
    assert.equal(r.start.params.redirect_uri, `${srv.authUrl}/callback/${providerId}`);
    assert.equal(r.start.params.code_challenge_method, 'S256');
    assert.equal(withoutVerifier(r.nav.location), `${APP_ORIGIN}/welcome`);
    assert.equal(idp.tokenRequests.at(-1).clientId, P[providerId].client);
    assert.equal(idp.tokenRequests.at(-1).params.redirect_uri, `${srv.authUrl}/callback/${providerId}`);
    const acc = await accountRows(srv, { userId: r.user.id });
    assert.equal(acc.length, 1);
    assert.equal(acc[0].providerId, providerId);
    assert.equal(acc[0].accountId, who.sub);
    assert.equal(r.user.emailVerified, true);
  });
}

test('google: an id_token with a wrong nonce is refused on the built-in path too', async () => {
  idp.tamperIdToken({ nonce: 'nope' });
  try {
    const f = await oidcFlow(idp, browser(srv), { provider: 'google', callbackURL: '/dashboard', errorCallbackURL: '/oops' }, { ...identity('gnonce'), email_verified: true });
    assertErrorRedirect(srv, f.nav, { base: `${APP_ORIGIN}/oops` });
  } finally {
    idp.reset();
  }
});

test('the client of one provider cannot complete another provider\'s flow: google\'s code at /callback/my-idp fails', async () => {
  const b = browser(srv);
  const res = await b.client.signIn.social({ provider: 'google', callbackURL: '/dashboard', errorCallbackURL: '/oops' });
  assert.equal(res.error, null);
  const cb = new URL(await idp.login(null, res.data.url, { ...identity('swap'), email_verified: true }));
  const nav = await navigate(`${srv.authUrl}/callback/my-idp?${cb.searchParams}`);
  assertErrorRedirect(srv, nav, { base: [`${APP_ORIGIN}/oops`, `${srv.authUrl}/error`] });
});
