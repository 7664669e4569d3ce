// The official Neon SDK (@neondatabase/neon-js 0.7.0-beta) against pgwarden, as a browser page on
// http://localhost:3000 would use it (cookie jar + Origin via a replaced globalThis.fetch: createClient
// accepts no custom fetch for auth requests). The SDK keeps a module-global session cache
// (sdk-contract §1.6); node --test runs this file in its own process and the tests run in order.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from '@neondatabase/neon-js';
import { createRemoteJWKSet, jwtVerify, decodeProtectedHeader, customFetch } from 'jose';
import {
  startServer, CookieJar, jarFetch, installGlobalFetch, signCookie, uniqueEmail, COOKIE, PASSWORD,
  showServerOutputOnFailure,
} from './harness.mjs';

let srv;
let restoreFetch;
let browser;  // the jar fetch (log of every auth request)
let client;
let jwks;
const dataApiCalls = [];
const account = { email: uniqueEmail('neonjs'), password: PASSWORD, name: 'Neon JS' };
let userId;

const realFetch = globalThis.fetch;

before(async () => {
  srv = await startServer();
  browser = jarFetch(new CookieJar(), { realFetch });
  restoreFetch = installGlobalFetch(browser);
  client = createClient({
    auth: { url: srv.authUrl, allowAnonymous: true },
    dataApi: {
      url: 'http://data-api.invalid/neondb/rest/v1',
      // A stand-in Data API: records what the SDK would send to PostgREST.
      options: {
        global: {
          fetch: async (input, init) => {
            const headers = new Headers(init?.headers);
            dataApiCalls.push({ url: String(input), authorization: headers.get('authorization') });
            return new Response('[]', { status: 200, headers: { 'content-type': 'application/json' } });
          },
        },
      },
    },
  });
  jwks = createRemoteJWKSet(new URL(`${srv.authUrl}/jwks`), { [customFetch]: realFetch });
});

after(async () => {
  restoreFetch?.();
  await srv?.stop();
});
showServerOutputOnFailure(() => srv);

function requests(path) {
  return browser.log.filter((e) => e.path === `/neondb/auth${path}`);
}

async function verify(token) {
  return jwtVerify(token, jwks, { issuer: srv.baseUrl, audience: srv.baseUrl });
}

test('signUp.email creates the user and stores a signed session cookie', async () => {
  const { data, error } = await client.auth.signUp.email(account);
  assert.equal(error, null);
  assert.equal(data.user.email, account.email);
  assert.equal(data.user.name, account.name);
  assert.ok(data.user.createdAt instanceof Date, 'ISO timestamps are parsed into Date objects');
  assert.match(data.token, /^[A-Za-z0-9]{32}$/);
  userId = data.user.id;
  assert.equal(browser.jar.get(COOKIE), signCookie(srv.secret, data.token));
  const last = requests('/sign-up/email').at(-1);
  assert.equal(last.method, 'POST');
  assert.match(last.requestHeaders['x-neon-client-info'], /"sdk":"@neondatabase\/neon-js"/);
  const { rows } = await srv.db.query('SELECT count(*)::int AS n FROM neon_auth.session WHERE "userId" = $1', [userId]);
  assert.equal(rows[0].n, 1);
});

test('getSession returns the user and a JWT in session.token that verifies against /jwks', async () => {
  const before = requests('/get-session').length;
  const { data, error } = await client.auth.getSession();
  assert.equal(error, null);
  assert.equal(requests('/get-session').length, before + 1, 'the first getSession after sign-up goes to the server');
  assert.equal(data.user.id, userId);
  assert.equal(data.user.email, account.email);
  const jwt = data.session.token;
  assert.equal(jwt.split('.').length, 3, `session.token should be the set-auth-jwt JWT, got ${jwt}`);
  const { payload, protectedHeader } = await verify(jwt);
  assert.equal(protectedHeader.alg, 'EdDSA');
  assert.equal(typeof protectedHeader.kid, 'string');
  assert.deepEqual(decodeProtectedHeader(jwt), { alg: 'EdDSA', kid: protectedHeader.kid });
  assert.equal(payload.sub, userId);
  assert.equal(payload.email, account.email);
  assert.equal(payload.role, 'authenticated');
  assert.equal(payload.exp - payload.iat, 900);
  assert.ok(Math.abs(payload.iat - Date.now() / 1000) < 30, 'iat is now');
});

test('a Data API call while signed in carries the user JWT as Bearer', async () => {
  dataApiCalls.length = 0;
  const { error } = await client.from('notes').select('*');
  assert.equal(error, null);
  assert.equal(dataApiCalls.length, 1);
  const bearer = dataApiCalls[0].authorization?.replace(/^Bearer /, '');
  const { payload } = await verify(bearer);
  assert.equal(payload.sub, userId);
  assert.equal(payload.role, 'authenticated');
});

test('signOut expires the cookie and deletes the session; getSession is then null', async () => {
  const { data, error } = await client.auth.signOut();
  assert.equal(error, null);
  assert.deepEqual(data, { success: true });
  assert.equal(browser.jar.get(COOKIE), undefined, 'the session cookie was deleted by Max-Age=0');
  const signOut = requests('/sign-out').at(-1);
  assert.equal(signOut.status, 200);
  const { rows } = await srv.db.query('SELECT count(*)::int AS n FROM neon_auth.session WHERE "userId" = $1', [userId]);
  assert.equal(rows[0].n, 0);
  const before = requests('/get-session').length;
  const after = await client.auth.getSession();
  assert.equal(after.error, null);
  assert.equal(after.data, null);
  assert.equal(requests('/get-session').length, before + 1, 'a signed-out getSession asks the server');
});

test('signIn.email with a wrong password rejects with INVALID_EMAIL_OR_PASSWORD (401)', async () => {
  let thrown;
  try {
    const r = await client.auth.signIn.email({ email: account.email, password: 'wrong-password-1' });
    thrown = r.error;  // tolerate a {data, error} answer; the checks below apply either way
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown, 'a wrong password must not succeed');
  assert.equal(thrown.status, 401);
  assert.equal(thrown.message, 'Invalid email or password');
  assert.equal(thrown.code, 'invalid_credentials', 'the SDK maps INVALID_EMAIL_OR_PASSWORD to invalid_credentials');
  const last = requests('/sign-in/email').at(-1);
  assert.equal(last.status, 401);
  assert.deepEqual(JSON.parse(await last.text), { message: 'Invalid email or password', code: 'INVALID_EMAIL_OR_PASSWORD' });
  assert.equal(browser.jar.get(COOKIE), undefined);
});

test('allowAnonymous: with no session the client fetches GET /token/anonymous and sends that JWT', async () => {
  dataApiCalls.length = 0;
  const start = browser.log.length;
  const { error } = await client.from('notes').select('*');
  assert.equal(error, null);
  const paths = browser.log.slice(start).map((e) => `${e.method} ${e.path} ${e.status}`);
  assert.deepEqual(paths, ['GET /neondb/auth/get-session 200', 'GET /neondb/auth/token/anonymous 200']);
  const anon = JSON.parse(await browser.log.at(-1).text);
  assert.deepEqual(Object.keys(anon).sort(), ['expires_at', 'token']);
  assert.equal(dataApiCalls.length, 1);
  assert.equal(dataApiCalls[0].authorization, `Bearer ${anon.token}`);
  const { payload, protectedHeader } = await verify(anon.token);
  assert.equal(protectedHeader.alg, 'EdDSA');
  assert.equal(payload.role, 'anonymous');
  assert.equal('sub' in payload, false, 'the anonymous token has no sub');
  assert.equal('email' in payload, false);
  assert.equal(anon.expires_at, payload.exp, 'expires_at is the JWT exp in seconds');
  assert.ok(payload.exp > Date.now() / 1000 + 70, 'lifetime comfortably above the SDK 60 s fallback TTL');
});

test('signIn.email with the right password signs in again and getSession sees the user', async () => {
  const { data, error } = await client.auth.signIn.email({ email: account.email, password: account.password });
  assert.equal(error, null);
  assert.equal(data.redirect, false);
  assert.equal(data.user.id, userId);
  assert.equal(browser.jar.get(COOKIE), signCookie(srv.secret, data.token));
  const s = await client.auth.getSession();
  assert.equal(s.data.user.id, userId);
  const { payload } = await verify(s.data.session.token);
  assert.equal(payload.sub, userId);
});
