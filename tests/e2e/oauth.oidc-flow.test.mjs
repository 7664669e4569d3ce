// OAuth sign-in through a generic OpenID provider (issue 5): the whole redirect flow of sdk-contract §4.2 driven by
// better-auth/client 1.6.23 (signIn.social, getSession) in a "browser" on http://localhost:3000, a real OpenID
// Provider (oidc-provider, idp.mjs) on 127.0.0.1, the callback opened as a top-level navigation, and the
// `neon_auth_session_verifier` exchanged with the challenge cookie. New and returning users, newUserCallbackURL,
// relative URLs resolved against the caller's Origin, query + fragment kept, the popup flow (§4.3), the POST
// (form_post) callback, the authorize request (state, PKCE S256, nonce, redirect_uri from PGWARDEN_BASE_URL), the
// provider tokens sealed in `account`, /error.
//
// Server: PGWARDEN_OAUTH_ACME_{CLIENT_ID,CLIENT_SECRET,ISSUER} -> provider "acme".
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startServer, raw, post, cookieValue, signCookie, COOKIE, APP_ORIGIN, showServerOutputOnFailure } from './harness.mjs';
import { startOidc } from './idp.mjs';
import { assertLogClean } from './email.common.mjs';
import {
  VERIFIER, CHALLENGE, identity, registerClient, browser, startSocial, navigate, verifierOf, withoutVerifier,
  exchange, assertExchanged, assertErrorRedirect, counts, userRow, accountRows, oidcFlow, oidcSignIn, stopAll,
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

const S = {};  // state carried between the tests of this file (they run in order)
const verifiers = [];
const codes = [];

async function verificationCount() {
  const { rows } = await srv.db.query('SELECT count(*)::int AS n FROM neon_auth.verification');
  return rows[0].n;
}

test('signIn.social answers {url, redirect:true} with a Location header and the challenge cookie; the authorize URL carries state, PKCE S256, nonce and redirect_uri', async () => {
  const b = browser(srv);
  const rowsBefore = await verificationCount();
  const s = await startSocial(b, { provider: 'acme', callbackURL: '/dashboard' });
  assert.equal(s.data.redirect, true);
  assert.equal(s.entry.status, 200);
  assert.equal(s.entry.responseHeaders.get('location'), s.data.url, 'Location header = url (sdk-contract §8.16)');
  assert.equal(s.url.origin + s.url.pathname, `${idp.issuer}/auth`, 'the authorization_endpoint from discovery');
  const p = s.params;
  assert.equal(p.response_type, 'code');
  assert.equal(p.client_id, CID);
  assert.equal(p.redirect_uri, `${srv.authUrl}/callback/acme`);
  assert.ok(p.scope.split(' ').includes('openid'), `scope ${p.scope}`);
  assert.equal(p.code_challenge_method, 'S256');
  assert.match(p.code_challenge, /^[A-Za-z0-9_-]{43}$/);
  assert.ok(p.state && p.state.length >= 22, `state of >= 128 bits: ${p.state}`);
  assert.ok(p.nonce && p.nonce.length >= 16, `nonce: ${p.nonce}`);
  assert.equal(p.client_secret, undefined);

  const sc = s.entry.setCookies.find((c) => c.startsWith(`${CHALLENGE}=`));
  assert.ok(sc, `challenge cookie set: ${s.entry.setCookies.join(' | ')}`);
  assert.ok(s.challenge, 'challenge value');
  assert.match(sc, /;\s*HttpOnly/i);
  assert.match(sc, /;\s*Secure/i);
  assert.match(sc, /;\s*Path=\//i);
  assert.ok(!s.entry.setCookies.some((c) => c.startsWith(`${COOKIE}=`) && !/max-age=0/i.test(c)), 'no session cookie yet');
  assert.equal(await verificationCount(), rowsBefore + 1, 'the state (with PKCE verifier and nonce) is stored in the database');

  const again = await startSocial(browser(srv), { provider: 'acme', callbackURL: '/dashboard' });
  assert.notEqual(again.params.state, p.state);
  assert.notEqual(again.params.nonce, p.nonce);
  assert.notEqual(again.params.code_challenge, p.code_challenge);
  assert.notEqual(again.challenge, s.challenge);
});

test('PGWARDEN_COOKIE_MODE=cross-site: the challenge cookie is SameSite=None; Secure; Partitioned and the cross-site flow completes', async () => {
  const cross = await startServer({ env: { ...idp.env('ACME', CID, SECRET), PGWARDEN_COOKIE_MODE: 'cross-site' } });
  try {
    registerClient(idp, cross, 'acme', CID, SECRET);
    const b = browser(cross);
    const s = await startSocial(b, { provider: 'acme', callbackURL: '/dashboard' });
    const sc = s.entry.setCookies.find((c) => c.startsWith(`${CHALLENGE}=`));
    assert.ok(sc, s.entry.setCookies.join(' | '));
    assert.match(sc, /;\s*SameSite=None/i);
    assert.match(sc, /;\s*Secure/i);
    assert.match(sc, /;\s*Partitioned/i);
    const cb = await idp.login(null, s.url.toString(), { ...identity('cross'), email_verified: true });
    const nav = await navigate(cb);
    assert.equal(nav.status, 302, nav.text);
    const ex = await exchange(cross, verifierOf(nav.location), b.jar);
    assertExchanged(cross, ex);
    const sess = ex.setCookies.find((c) => c.startsWith(`${COOKIE}=`));
    assert.match(sess, /;\s*SameSite=None/i);
    assert.match(sess, /;\s*Partitioned/i);
  } finally {
    await cross.stop();
  }
});

test('disableRedirect: {url, redirect:false} and no Location header; extra scopes are added to the provider\'s', async () => {
  const b = browser(srv);
  const s = await startSocial(b, { provider: 'acme', callbackURL: '/dashboard', disableRedirect: true, scopes: ['offline_access'] });
  assert.equal(s.data.redirect, false);
  assert.equal(s.entry.responseHeaders.get('location'), null);
  const scopes = s.params.scope.split(' ');
  assert.ok(scopes.includes('openid') && scopes.includes('offline_access'), `scope ${s.params.scope}`);
  assert.ok(s.challenge, 'challenge cookie also without redirect');
});

test('new user: IdP login, callback navigation without cookies -> 302 to newUserCallbackURL + verifier; getSession with the verifier and the challenge sets the session', async () => {
  const b = browser(srv);
  const who = { ...identity('new'), email_verified: true, picture: 'https://img.example/p.png' };
  const before = await counts(srv);
  const flow = await oidcFlow(idp, b, { provider: 'acme', callbackURL: '/dashboard?tab=1', newUserCallbackURL: '/welcome', errorCallbackURL: '/oops' }, who);
  codes.push(new URL(flow.callback).searchParams.get('code'));
  assert.equal(flow.nav.status, 302, flow.nav.text);
  assert.equal(withoutVerifier(flow.nav.location), `${APP_ORIGIN}/welcome`);
  const v = verifierOf(flow.nav.location);
  verifiers.push(v);
  assert.ok(v.length >= 32, 'a 256-bit verifier');

  // What the IdP saw at its token endpoint: the code with the PKCE verifier of this flow's challenge.
  const tr = idp.tokenRequests.at(-1);
  assert.equal(tr.params.grant_type, 'authorization_code');
  assert.equal(tr.params.redirect_uri, `${srv.authUrl}/callback/acme`);
  assert.ok(tr.params.code_verifier?.length >= 43 && tr.params.code_verifier.length <= 128, 'RFC 7636 verifier length');
  assert.equal(crypto.createHash('sha256').update(tr.params.code_verifier).digest('base64url'), flow.start.params.code_challenge);
  assert.ok(!flow.start.entry.setCookies.some((c) => c.includes(tr.params.code_verifier)), 'the PKCE verifier never went to the browser');

  // sdk-contract §4.2 step 6 through the SDK: getSession with the verifier in the query, cookies from the jar.
  const res = await b.client.getSession({ query: { [VERIFIER]: v } });
  assert.equal(res.error, null, JSON.stringify(res.error));
  assert.equal(res.data.user.email, who.email);
  Object.assign(S, { who, userId: res.data.user.id, b });  // for the next tests, whatever happens below
  const e = b.last('/get-session');
  assert.equal(e.status, 200);
  assert.ok(e.requestHeaders.cookie.includes(`${CHALLENGE}=`), 'the challenge cookie went with the exchange');
  assert.ok(e.responseHeaders.get('set-auth-jwt'), 'set-auth-jwt');
  assert.equal(b.jar.get(COOKIE), signCookie(srv.secret, res.data.session.token), 'the session cookie is set in the app context');
  assert.equal(b.jar.get(CHALLENGE), undefined, 'the challenge cookie is expired');
  const again = await b.client.getSession();
  assert.equal(again.data?.user?.id, res.data.user.id, 'the cookie is a working session');

  const row = await userRow(srv, who.email);
  assert.equal(row.emailVerified, true);
  assert.equal(row.name, who.name);
  assert.equal(row.image, who.picture);
  const acc = await accountRows(srv, { userId: row.id });
  assert.equal(acc.length, 1);
  assert.equal(acc[0].providerId, 'acme');
  assert.equal(acc[0].accountId, who.sub);
  assert.ok(acc[0].scope?.split(/[ ,]/).includes('openid'), `scope ${acc[0].scope}`);
  const after = await counts(srv);
  assert.equal(after.users, before.users + 1);
});

test('the provider tokens are stored in `account` sealed, never as issued', async () => {
  const issued = idp.tokenResponses.at(-1);
  assert.ok(issued.access_token && issued.refresh_token, JSON.stringify(Object.keys(issued)));
  const [acc] = await accountRows(srv, { userId: S.userId, providerId: 'acme' });
  assert.ok(acc.accessToken, 'an access token is stored');
  assert.ok(!acc.accessToken.includes(issued.access_token), 'access token sealed');
  assert.ok(acc.refreshToken, 'a refresh token is stored');
  assert.ok(!acc.refreshToken.includes(issued.refresh_token), 'refresh token sealed');
  assert.ok(acc.accessTokenExpiresAt instanceof Date && acc.accessTokenExpiresAt > new Date(), 'accessTokenExpiresAt from expires_in');
  for (const row of await srv.db.query('SELECT value FROM neon_auth.verification').then((r) => r.rows)) {
    assert.ok(!row.value.includes(issued.access_token), 'no provider token in verification rows');
  }
});

test('a returning user lands on callbackURL with its query kept and the verifier appended, as the same user', async () => {
  const b = browser(srv);
  const before = await counts(srv);
  const r = await oidcSignIn(srv, idp, b, { provider: 'acme', callbackURL: '/dashboard?tab=1', newUserCallbackURL: '/welcome' }, S.who);
  assert.ok(r.nav.location.startsWith(`${APP_ORIGIN}/dashboard?tab=1&${VERIFIER}=`), r.nav.location);
  assert.equal(r.user.id, S.userId);
  const after = await counts(srv);
  assert.equal(after.users, before.users, 'no new user');
  assert.equal(after.accounts, before.accounts, 'no new account');
  verifiers.push(r.verifier);
  const [acc] = await accountRows(srv, { userId: S.userId, providerId: 'acme' });
  assert.ok(!acc.accessToken.includes(idp.tokenResponses.at(-1).access_token));
});

test('relative callbackURL / errorCallbackURL resolve against the caller\'s Origin (another localhost app), not the auth host', async () => {
  const other = 'http://localhost:4100';
  const b = browser(srv, { origin: other });
  const r = await oidcSignIn(srv, idp, b, { provider: 'acme', callbackURL: '/app/home' }, S.who);
  assert.equal(withoutVerifier(r.nav.location), `${other}/app/home`);

  const b2 = browser(srv, { origin: other });
  const f = await oidcFlow(idp, b2, { provider: 'acme', callbackURL: '/app/home', errorCallbackURL: '/app/oops' }, { ...S.who, abort: true });
  assertErrorRedirect(srv, f.nav, { base: `${other}/app/oops`, error: 'access_denied' });
});

test('an absolute trusted callbackURL keeps its query and fragment; the verifier goes into the query', async () => {
  const b = browser(srv);
  const r = await oidcSignIn(srv, idp, b, { provider: 'acme', callbackURL: `${APP_ORIGIN}/cb?a=1&b=two#frag` }, S.who);
  const u = new URL(r.nav.location);
  assert.equal(u.origin + u.pathname, `${APP_ORIGIN}/cb`);
  assert.equal(u.searchParams.get('a'), '1');
  assert.equal(u.searchParams.get('b'), 'two');
  assert.equal(u.hash, '#frag');
  assert.ok(r.nav.location.startsWith(`${APP_ORIGIN}/cb?a=1&b=two&${VERIFIER}=`), r.nav.location);
});

test('without callbackURL the flow still ends with the verifier (on the app origin or the base URL)', async () => {
  const b = browser(srv);
  const f = await oidcFlow(idp, b, { provider: 'acme' }, S.who);
  assert.equal(f.nav.status, 302, f.nav.text);
  assert.equal(f.nav.url.searchParams.get('error'), null, f.nav.location);
  const v = verifierOf(f.nav.location);
  assertExchanged(srv, await exchange(srv, v, b.jar), { email: S.who.email });
});

test('popup flow (sdk-contract §4.3): the rewritten callbackURL keeps neon_popup + neon_popup_callback and gets the verifier; redirect:false', async () => {
  const b = browser(srv);
  const popupCb = `${APP_ORIGIN}/auth/callback?neon_popup=1&neon_popup_callback=%2Fdashboard`;
  const s = await startSocial(b, { provider: 'acme', callbackURL: popupCb, disableRedirect: true });
  assert.equal(s.data.redirect, false);
  assert.equal(s.entry.responseHeaders.get('location'), null);
  const cb = await idp.login(null, s.url.toString(), S.who);
  const nav = await navigate(cb);  // the popup window: a top-level page on the auth host
  assert.equal(nav.status, 302, nav.text);
  assert.equal(nav.url.origin + nav.url.pathname, `${APP_ORIGIN}/auth/callback`, nav.location);
  assert.deepEqual([...nav.url.searchParams.keys()], ['neon_popup', 'neon_popup_callback', VERIFIER], 'query kept, verifier appended');
  assert.equal(nav.url.searchParams.get('neon_popup'), '1');
  assert.equal(nav.url.searchParams.get('neon_popup_callback'), '/dashboard');
  // The opener navigates to <originalCallback>?neon_auth_session_verifier=<v> and exchanges it with its cookies.
  const ex = await exchange(srv, verifierOf(nav.location), b.jar);
  assertExchanged(srv, ex, { email: S.who.email });
});

test('POST callback (form_post) answers 302 to the GET callback with code and state, setting no session; the GET completes the flow', async () => {
  const b = browser(srv);
  const s = await startSocial(b, { provider: 'acme', callbackURL: '/posted' });
  const cb = new URL(await idp.login(null, s.url.toString(), S.who));
  const form = new URLSearchParams({ code: cb.searchParams.get('code'), state: cb.searchParams.get('state') });
  const res = await raw(`${srv.authUrl}/callback/acme`, {
    method: 'POST',
    // A cross-site form POST from the IdP's page, as a browser sends it.
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: idp.issuer },
    body: form.toString(),
  });
  assert.equal(res.status, 302, `${res.status} ${res.text}`);
  const loc = new URL(res.headers.location, srv.authUrl);
  assert.equal(loc.origin + loc.pathname, `${srv.authUrl}/callback/acme`);
  assert.equal(loc.searchParams.get('code'), form.get('code'));
  assert.equal(loc.searchParams.get('state'), form.get('state'));
  assert.equal(cookieValue(res.setCookies, COOKIE) || undefined, undefined, 'the POST sets no session');
  const nav = await navigate(loc.toString());
  assert.equal(nav.status, 302, nav.text);
  assert.equal(withoutVerifier(nav.location), `${APP_ORIGIN}/posted`);
  assertExchanged(srv, await exchange(srv, verifierOf(nav.location), b.jar), { email: S.who.email });
});

test('CS-06: the redirect_uri is built from PGWARDEN_BASE_URL, not from Host / X-Forwarded-Host / X-Forwarded-Proto', async (t) => {
  const res = await raw(`${srv.authUrl}/sign-in/social`, {
    method: 'POST',
    headers: { Host: 'evil.example', 'X-Forwarded-Host': 'evil.example', 'X-Forwarded-Proto': 'https', Origin: APP_ORIGIN },
    body: { provider: 'acme', callbackURL: '/dashboard' },
  });
  if (res.status === 200) {
    const u = new URL(res.json.url);
    assert.equal(u.searchParams.get('redirect_uri'), `${srv.authUrl}/callback/acme`);
  } else {
    // Refusing a request for a foreign Host is fine too; a 404 is not (the route exists).
    assert.ok([400, 403, 421].includes(res.status), `${res.status} ${res.text}`);
    t.diagnostic(`foreign Host refused: ${res.status} ${res.json?.code}`);
  }
});

test('OA-02: redirect_uri, state, nonce, client_id, code_challenge in the body cannot change the authorize request', async (t) => {
  const res = await post(srv, '/sign-in/social', {
    provider: 'acme', callbackURL: '/dashboard',
    redirect_uri: 'https://evil.example/cb', redirectURI: 'https://evil.example/cb', state: 'attacker-state', nonce: 'attacker-nonce',
    client_id: 'attacker', code_challenge: 'A'.repeat(43), code_challenge_method: 'plain', response_type: 'token',
  });
  if (res.status !== 200) {
    assert.equal(res.status, 400, `${res.status} ${res.text}`);
    t.diagnostic(`reserved parameters in the body refused: ${res.status} ${res.json?.code}`);
    return;
  }
  const u = new URL(res.json.url);
  const all = (k) => u.searchParams.getAll(k);
  assert.deepEqual(all('redirect_uri'), [`${srv.authUrl}/callback/acme`]);
  assert.deepEqual(all('client_id'), [CID]);
  assert.deepEqual(all('response_type'), ['code']);
  assert.deepEqual(all('code_challenge_method'), ['S256']);
  assert.equal(all('state').length, 1);
  assert.notEqual(all('state')[0], 'attacker-state');
  assert.equal(all('nonce').length, 1);
  assert.notEqual(all('nonce')[0], 'attacker-nonce');
  assert.notEqual(all('code_challenge')[0], 'A'.repeat(43));
});

test('OA-02: loginHint reaches the provider only as an e-mail address; anything else is dropped, never spliced (D35)', async () => {
  const hint = async (loginHint) => {
    const res = await post(srv, '/sign-in/social', { provider: 'acme', callbackURL: '/dashboard', loginHint });
    assert.equal(res.status, 200, res.text);
    return new URL(res.json.url).searchParams;
  };
  assert.deepEqual((await hint('ada@example.com')).getAll('login_hint'), ['ada@example.com']);
  for (const bad of ['admin', 'x&prompt=none', 'ada@example.com&prompt=none', 'a'.repeat(300) + '@example.com']) {
    const q = await hint(bad);
    assert.deepEqual(q.getAll('login_hint'), [], bad);
    assert.deepEqual(q.getAll('prompt'), [], bad);
  }
});

test('a provider that is not configured: 404 PROVIDER_NOT_FOUND (a Better Auth provider name) / 4xx (any other name); nothing stored', async () => {
  const before = await verificationCount();
  const fb = await post(srv, '/sign-in/social', { provider: 'facebook', callbackURL: '/dashboard' });
  assert.equal(fb.status, 404, fb.text);
  assert.equal(fb.json?.code, 'PROVIDER_NOT_FOUND');
  const other = await post(srv, '/sign-in/social', { provider: 'no-such-provider', callbackURL: '/dashboard' });
  assert.ok([400, 404].includes(other.status), `${other.status} ${other.text}`);
  const missing = await post(srv, '/sign-in/social', { callbackURL: '/dashboard' });
  assert.equal(missing.status, 400, missing.text);
  assert.equal(await verificationCount(), before);
});

// Better Auth in production (and pgwarden, auth.http.test.mjs) answers the default error landing with a redirect to
// "/?error=<code>&error_description=..." on the auth host; a code outside [A-Za-z0-9_'-] becomes UNKNOWN.
test('GET /error (the default OAuth error landing) redirects to /?error=<code>; an unsafe code becomes UNKNOWN, nothing unescaped', async () => {
  const ok = await raw(`${srv.authUrl}/error?error=state_mismatch&error_description=State%20mismatch`);
  assert.equal(ok.status, 302, ok.text);
  const u = new URL(ok.headers.location, srv.baseUrl);
  assert.equal(u.pathname, '/');
  assert.equal(u.searchParams.get('error'), 'state_mismatch');
  assert.equal(u.searchParams.get('error_description'), 'State mismatch');
  const xss = await raw(`${srv.authUrl}/error?error=${encodeURIComponent('<script>alert(1)</script>')}&error_description=${encodeURIComponent('"><img src=x onerror=alert(2)>')}`);
  assert.equal(xss.status, 302, xss.text);
  assert.ok(!/[<>"\s]/.test(xss.headers.location), `Location is encoded: ${xss.headers.location}`);
  const x = new URL(xss.headers.location, srv.baseUrl);
  assert.equal(x.searchParams.get('error'), 'UNKNOWN');
  assert.ok(!xss.text.includes('<script>'), 'no markup in the body');
});

// pgwarden's site root shows where that redirect lands: an HTML page without scripts (D33), not a 404.
test('the site root /?error= is a static HTML error page: code shown, description escaped, nothing loaded', async () => {
  const hop = await raw(`${srv.authUrl}/error?error=access_denied&error_description=${encodeURIComponent('"><img src=x onerror=alert(2)>')}`);
  const page = await raw(new URL(hop.headers.location, srv.baseUrl).href);
  assert.equal(page.status, 200, page.text);
  assert.match(page.headers['content-type'], /^text\/html/);
  assert.match(page.headers['content-security-policy'], /default-src 'none'/);
  assert.equal(page.headers['x-content-type-options'], 'nosniff');
  assert.equal(page.headers['cache-control'], 'no-store');
  assert.match(page.text, /<code>access_denied<\/code>/);
  assert.ok(page.text.includes('&quot;&gt;&lt;img src=x onerror=alert(2)&gt;'), page.text);
  assert.ok(!/<img|<script/i.test(page.text), 'no markup from the query');
  const unsafe = await raw(`${srv.baseUrl}/?error=${encodeURIComponent('<b>x</b>')}`);
  assert.match(unsafe.text, /<code>UNKNOWN<\/code>/);
  const bare = await raw(`${srv.baseUrl}/`);
  assert.equal(bare.status, 404);
});

test('no client secret, provider token, code or verifier appears in the server log', () => {
  const secrets = [SECRET, ...verifiers, ...codes.filter(Boolean)];
  for (const t of idp.allTokenResponses) secrets.push(t.access_token, t.refresh_token, t.id_token);
  assertLogClean(srv.stderr(), secrets.filter(Boolean));
});
