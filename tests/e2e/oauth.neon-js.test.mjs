// The official Neon SDK (@neondatabase/neon-js 0.7.0-beta) driving OAuth sign-in end to end (issue 5,
// sdk-contract §4.2 and §4.3) in a simulated browser page on http://localhost:3000: `window`, `document`,
// `location`, `history`, `localStorage`, message events and `open` are stand-ins installed on globalThis before the
// SDK is loaded, so the SDK takes its browser paths: the redirect plugin assigns `location.href` to the provider URL,
// getSession() reads `neon_auth_session_verifier` from `location.search`, exchanges it (with the challenge cookie
// from the jar) and removes it with history.replaceState; inside an iframe signIn.social opens a popup and waits for
// its postMessage. The IdP (idp.mjs) and the callback navigation stand in for what the browser does between pages.
// This file runs in its own process (module-global SDK caches and the globals it installs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startServer, CookieJar, jarFetch, installGlobalFetch, signCookie, COOKIE, APP_ORIGIN, showServerOutputOnFailure } from './harness.mjs';
import { startOidc, automatedLogin } from './idp.mjs';
import { VERIFIER, CHALLENGE, identity, registerClient, navigate, userRow, stopAll } from './oauth.common.mjs';

const CID = 'pgwarden-acme';
const SECRET = `acme-secret-${crypto.randomBytes(12).toString('hex')}`;
const realFetch = globalThis.fetch;
let idp;
let srv;
let client;
let restoreFetch;
let page;  // the jar fetch with a body log

// ---------------------------------------------------------------- the simulated browser page

class FakeLocation {
  constructor(href) { this.u = new URL(href); this.navigations = []; }
  get href() { return this.u.href; }
  set href(v) { this.navigations.push(String(v)); this.u = new URL(String(v), this.u); }
  get origin() { return this.u.origin; }
  get protocol() { return this.u.protocol; }
  get host() { return this.u.host; }
  get hostname() { return this.u.hostname; }
  get port() { return this.u.port; }
  get pathname() { return this.u.pathname; }
  get search() { return this.u.search; }
  get hash() { return this.u.hash; }
  assign(v) { this.href = v; }
  replace(v) { this.href = v; }
  reload() {}
  toString() { return this.href; }
}
const listeners = new Map();
function installBrowserGlobals() {
  const g = globalThis;
  const loc = new FakeLocation(`${APP_ORIGIN}/login`);
  const storage = new Map();
  Object.assign(g, {
    window: g,
    self: g,
    top: g,
    location: loc,
    history: { state: null, length: 1, replaceState(state, _t, href) { this.state = state; loc.u = new URL(String(href), loc.u); }, pushState(state, _t, href) { this.replaceState(state, _t, href); } },
    document: { visibilityState: 'visible', hidden: false, cookie: '', addEventListener() {}, removeEventListener() {} },
    localStorage: {
      getItem: (k) => (storage.has(k) ? storage.get(k) : null),
      setItem: (k, v) => { storage.set(k, String(v)); },
      removeItem: (k) => { storage.delete(k); },
      clear: () => storage.clear(),
    },
    addEventListener(type, fn) { if (!listeners.has(type)) listeners.set(type, new Set()); listeners.get(type).add(fn); },
    removeEventListener(type, fn) { listeners.get(type)?.delete(fn); },
  });
}
function dispatch(type, event) {
  for (const fn of [...(listeners.get(type) || [])]) fn(event);
}
/** A top-level navigation of the page to `href` (a new page load with the same SDK state: good enough here). */
function load(href) {
  globalThis.location.u = new URL(href);
}

function pageFetch() {
  const f = jarFetch(new CookieJar(), { realFetch });
  const bodies = [];
  const wrapped = async (input, init = {}) => {
    bodies.push({ url: String(typeof input === 'string' || input instanceof URL ? input : input.url), body: init.body });
    return f(input, init);
  };
  wrapped.jar = f.jar;
  wrapped.log = f.log;
  wrapped.bodies = bodies;
  return wrapped;
}

before(async () => {
  installBrowserGlobals();
  idp = await startOidc();
  srv = await startServer({ env: idp.env('ACME', CID, SECRET) });
  registerClient(idp, srv, 'acme', CID, SECRET);
  page = pageFetch();
  restoreFetch = installGlobalFetch(page);
  const { createClient } = await import('@neondatabase/neon-js');
  client = createClient({
    auth: { url: srv.authUrl },
    dataApi: { url: 'http://data-api.invalid/neondb/rest/v1', options: { global: { fetch: async () => new Response('[]', { status: 200, headers: { 'content-type': 'application/json' } }) } } },
  });
});
after(async () => {
  restoreFetch?.();
  await stopAll([srv], [idp]);
});
showServerOutputOnFailure(() => srv);

const requests = (p) => page.log.filter((e) => e.path === `/neondb/auth${p}`);

test('redirect flow: signIn.social sends the page to the provider; back on the app page getSession() exchanges the verifier and removes it from the URL', async () => {
  const who = { ...identity('neonjs'), email_verified: true };
  load(`${APP_ORIGIN}/login`);
  const { data, error } = await client.auth.signIn.social({ provider: 'acme', callbackURL: '/dashboard?tab=2' });
  assert.equal(error, null, JSON.stringify(error));
  assert.equal(data.redirect, true);
  assert.equal(globalThis.location.navigations.at(-1), data.url, 'the SDK navigated the page to the provider');
  assert.ok(page.jar.get(CHALLENGE), 'challenge cookie in the page\'s jar');

  // The browser at the IdP, then the top-level navigation to the auth host's callback.
  const cb = await automatedLogin(null, globalThis.location.href, who);
  const nav = await navigate(cb);
  assert.equal(nav.status, 302, nav.text);
  assert.ok(nav.location.startsWith(`${APP_ORIGIN}/dashboard?tab=2&${VERIFIER}=`), nav.location);
  load(nav.location);

  const before = requests('/get-session').length;
  const s = await client.auth.getSession();
  assert.equal(s.error, null, JSON.stringify(s.error));
  assert.equal(s.data.user.email, who.email);
  const ex = requests('/get-session').slice(before);
  assert.equal(ex.length, 1, 'one exchange request');
  assert.ok(ex[0].url.includes(`${VERIFIER}=`), `the SDK sent the verifier: ${ex[0].url}`);
  assert.ok(ex[0].requestHeaders.cookie.includes(`${CHALLENGE}=`), 'with the challenge cookie');
  assert.equal(ex[0].status, 200);
  assert.equal(s.data.session.token.split('.').length, 3, 'session.token is the set-auth-jwt JWT');
  const exchanged = JSON.parse(await ex[0].text);  // the wire body (the SDK puts the JWT into session.token)
  assert.equal(page.jar.get(COOKIE), signCookie(srv.secret, exchanged.session.token), 'the session cookie of the exchanged session');
  assert.equal(globalThis.location.search, '?tab=2', 'the SDK removed the verifier from the URL');
  assert.equal(page.jar.get(CHALLENGE), undefined, 'challenge cookie expired');
  assert.ok(await userRow(srv, who.email));

  const out = await client.auth.signOut();
  assert.equal(out.error, null);
});

test('popup flow (app in an iframe): signIn.social opens the popup, gets the verifier by postMessage, navigates to the original callback and getSession() signs in', async () => {
  const who = { ...identity('popup'), email_verified: true };
  load(`${APP_ORIGIN}/embedded`);
  globalThis.top = {};  // inside an iframe
  let popupUrl;
  let finalPopupLocation;
  globalThis.open = (url) => {
    popupUrl = url;
    const popup = { closed: false, close() { this.closed = true; } };
    setImmediate(async () => {
      try {
        const cb = await automatedLogin(null, url, who);
        const nav = await navigate(cb);
        finalPopupLocation = nav.location;
        const u = new URL(nav.location);
        // The app page loaded in the popup: the SDK there posts the verifier to its opener and closes.
        dispatch('message', { origin: u.origin, data: { type: 'neon-auth:oauth-complete', verifier: u.searchParams.get(VERIFIER), originalCallback: u.searchParams.get('neon_popup_callback') } });
      } catch (e) {
        finalPopupLocation = `error: ${e.stack}`;
      }
      popup.closed = true;
    });
    return popup;
  };
  try {
    const { error } = await client.auth.signIn.social({ provider: 'acme', callbackURL: '/dashboard' });
    assert.equal(error, null, `${JSON.stringify(error)} (popup ended at ${finalPopupLocation})`);
    const sent = page.bodies.filter((b) => b.url.includes('/sign-in/social')).at(-1);
    const body = JSON.parse(sent.body);
    assert.equal(body.callbackURL, `${APP_ORIGIN}/auth/callback?neon_popup=1&neon_popup_callback=%2Fdashboard`);
    assert.equal(body.disableRedirect, true);
    assert.ok(popupUrl.startsWith(`${idp.issuer}/auth?`), popupUrl);
    const fin = new URL(finalPopupLocation);
    assert.equal(fin.origin + fin.pathname, `${APP_ORIGIN}/auth/callback`, finalPopupLocation);
    assert.ok(globalThis.location.href.startsWith(`${APP_ORIGIN}/dashboard?${VERIFIER}=`), globalThis.location.href);

    const s = await client.auth.getSession();
    assert.equal(s.error, null, JSON.stringify(s.error));
    assert.equal(s.data?.user?.email, who.email);
    assert.equal(globalThis.location.search, '', 'verifier removed');
  } finally {
    globalThis.top = globalThis;
    delete globalThis.open;
  }
});
