// Shared pieces of the oauth.*.test.mjs files (issue 5): a "browser" on http://localhost:3000 (better-auth/client
// 1.6.23 over a cookie jar), the steps of the redirect flow of sdk-contract §4.2 (sign-in/social -> IdP ->
// top-level navigation to /callback/:provider -> GET /get-session?neon_auth_session_verifier= with the challenge
// cookie), and readers for what a failure must leave behind (an error redirect, no session, no account).
//
// The generic OpenID provider used by most files is "acme": PGWARDEN_OAUTH_ACME_{CLIENT_ID,CLIENT_SECRET,ISSUER}
// -> providerId "acme", redirect_uri <authUrl>/callback/acme.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { createAuthClient } from 'better-auth/client';
import { CookieJar, jarFetch, raw, cookieValue, signCookie, COOKIE, APP_ORIGIN } from './harness.mjs';

export const VERIFIER = 'neon_auth_session_verifier';
export const CHALLENGE = '__Secure-neon-auth.session_challenge';

let n = 0;
/** A unique IdP subject / e-mail pair. */
export function identity(tag = 'oauth') {
  const id = `${tag}-${process.pid}-${Date.now().toString(36)}-${++n}`;
  return { sub: `sub-${id}-${crypto.randomBytes(3).toString('hex')}`, email: `${id}@example.com`, name: `User ${tag} ${n}` };
}

/** A client registration for `srv` at `idp` for provider `providerId` (redirect_uri = <authUrl>/callback/<id>). */
export function registerClient(idp, srv, providerId, clientId, clientSecret, extra = {}) {
  return idp.addClient({
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [`${srv.authUrl}/callback/${providerId}`],
    ...extra,
  });
}

/** A browser page: Better Auth client + its own cookie jar; every request carries `origin`. */
export function browser(srv, { origin = APP_ORIGIN, jar = new CookieJar() } = {}) {
  const f = jarFetch(jar, { origin });
  const client = createAuthClient({ baseURL: srv.authUrl, fetchOptions: { customFetchImpl: f } });
  return {
    client,
    fetch: f,
    jar,
    origin,
    last: (p) => f.log.filter((e) => e.path === `/neondb/auth${p}`).at(-1),
  };
}

/**
 * signIn.social through the SDK (or linkSocial with `link: true`); asserts the 200 answer and returns
 * {data, url (URL), state, params (of the authorize URL), entry (request log), challenge (jar value)}.
 */
export async function startSocial(b, body, { link = false } = {}) {
  const res = link ? await b.client.linkSocial(body) : await b.client.signIn.social(body);
  assert.equal(res.error, null, `${link ? 'link-social' : 'sign-in/social'}: ${JSON.stringify(res.error)}`);
  assert.equal(typeof res.data?.url, 'string', JSON.stringify(res.data));
  const url = new URL(res.data.url);
  const entry = b.last(link ? '/link-social' : '/sign-in/social');
  return {
    data: res.data,
    url,
    state: url.searchParams.get('state'),
    params: Object.fromEntries(url.searchParams),
    entry,
    challenge: b.jar.get(CHALLENGE),
  };
}

/**
 * The provider's redirect to the callback opened as a top-level navigation (GET, no Origin). `jar` is optional:
 * the callback must not need any cookie (sdk-contract §4.2 step 4). Returns the raw answer plus `location`,
 * `session` (value of a session cookie it set, if any) and `url` (URL of the Location, or undefined).
 */
export async function navigate(url, jar) {
  const headers = {};
  const cookie = jar?.header();
  if (cookie) headers.Cookie = cookie;
  const res = await raw(String(url), { headers });
  if (jar) jar.store(res.setCookies);
  const location = res.headers.location;
  return { ...res, location, url: location ? new URL(location) : undefined, session: cookieValue(res.setCookies, COOKIE) || undefined };
}

/** The verifier of a Location (throws if absent). */
export function verifierOf(location) {
  const v = new URL(location).searchParams.get(VERIFIER);
  assert.ok(v, `no ${VERIFIER} in ${location}`);
  return v;
}

/** Location without the verifier parameter, for comparing against the expected callback. */
export function withoutVerifier(location) {
  const u = new URL(location);
  u.searchParams.delete(VERIFIER);
  return u.toString();
}

/**
 * sdk-contract §4.2 steps 6-7 done by hand (what neon-js does in a browser): GET
 * <auth>/get-session?neon_auth_session_verifier=<v> with the jar's cookies (the challenge) and the app's Origin.
 * Stores the answer's cookies in the jar.
 */
export async function exchange(srv, verifier, jar, { origin = APP_ORIGIN } = {}) {
  const headers = { Origin: origin };
  const cookie = jar?.header();
  if (cookie) headers.Cookie = cookie;
  const res = await raw(`${srv.authUrl}/get-session?${VERIFIER}=${encodeURIComponent(verifier)}`, { headers });
  if (jar) jar.store(res.setCookies);
  return res;
}

/** Asserts a successful verifier exchange: 200 {session, user}, the session cookie, set-auth-jwt, challenge expired. */
export function assertExchanged(srv, res, { email } = {}) {
  assert.equal(res.status, 200, `verifier exchange: ${res.status} ${res.text}`);
  assert.ok(res.json?.session && res.json?.user, `verifier exchange body: ${res.text}`);
  if (email) assert.equal(res.json.user.email, email.toLowerCase());
  assert.equal(cookieValue(res.setCookies, COOKIE), signCookie(srv.secret, res.json.session.token), 'session cookie of the exchanged session');
  assert.ok(res.headers['set-auth-jwt'], 'set-auth-jwt header');
  const ch = res.setCookies.find((c) => c.startsWith(`${CHALLENGE}=`));
  assert.ok(ch && /max-age=0/i.test(ch), `the challenge cookie is expired: ${res.setCookies.join(' | ')}`);
}

/**
 * Asserts the callback answered with an error redirect and nothing else: 302 to `base` (default <authUrl>/error)
 * with ?error=<code> (when `error` is given: that code; an array: one of them), no verifier, no session cookie.
 * Returns {error, description, url}.
 */
export function assertErrorRedirect(srv, nav, { base, error } = {}) {
  assert.equal(nav.status, 302, `expected an error redirect, got ${nav.status} ${nav.text?.slice(0, 300)}`);
  const u = nav.url;
  const expectedBase = base ?? `${srv.authUrl}/error`;
  const bases = [expectedBase].flat();
  assert.ok(bases.includes(u.origin + u.pathname), `error redirect to ${u.origin + u.pathname}, expected ${bases.join(' or ')} (${nav.location})`);
  const code = u.searchParams.get('error');
  assert.ok(code, `no error parameter in ${nav.location}`);
  if (error !== undefined) {
    const allowed = [error].flat();
    assert.ok(allowed.includes(code), `error=${code}, expected ${allowed.join(' or ')} (${nav.location})`);
  }
  assert.equal(u.searchParams.get(VERIFIER), null, `an error redirect carries no verifier: ${nav.location}`);
  assert.equal(nav.session, undefined, 'no session cookie on an error redirect');
  return { error: code, description: u.searchParams.get('error_description'), url: u };
}

/** Row counts that a failed flow must leave unchanged. */
export async function counts(srv) {
  const { rows } = await srv.db.query(`SELECT
    (SELECT count(*)::int FROM neon_auth."user") AS users,
    (SELECT count(*)::int FROM neon_auth.session) AS sessions,
    (SELECT count(*)::int FROM neon_auth.account) AS accounts`);
  return rows[0];
}

export async function userRow(srv, email) {
  const { rows } = await srv.db.query('SELECT * FROM neon_auth."user" WHERE lower(email) = lower($1)', [email]);
  return rows[0];
}

export async function accountRows(srv, { userId, providerId, accountId } = {}) {
  const where = [];
  const args = [];
  if (userId) { args.push(userId); where.push(`"userId" = $${args.length}`); }
  if (providerId) { args.push(providerId); where.push(`"providerId" = $${args.length}`); }
  if (accountId) { args.push(accountId); where.push(`"accountId" = $${args.length}`); }
  const { rows } = await srv.db.query(
    `SELECT * FROM neon_auth.account ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY "createdAt"`, args);
  return rows;
}

/** Marks a user's e-mail as verified (the local half of the linking rule). */
export async function verifyEmailInDb(srv, email) {
  await srv.db.query('UPDATE neon_auth."user" SET "emailVerified" = true WHERE lower(email) = lower($1)', [email]);
}

/** Asserts a Better Auth client result is an error with `status` (and `code` when given). */
export function assertSdkError(res, status, code, what = '') {
  assert.equal(res.data, null, `${what} expected an error, got data ${JSON.stringify(res.data)}`);
  assert.ok(res.error, `${what} expected an error`);
  assert.equal(res.error.status, status, `${what} status; error: ${JSON.stringify(res.error)}`);
  if (code !== undefined) assert.equal(res.error.code, code, `${what} code; error: ${JSON.stringify(res.error)}`);
}

/**
 * The whole redirect flow for an OpenID IdP (oidc-provider): signIn.social in browser `b` with `body`, the IdP
 * login as `who` ({sub, email, email_verified, name, abort, ...}), then the callback navigation (without cookies
 * unless `navJar`). Returns {start, callback (URL string the IdP redirected to), nav}.
 */
export async function oidcFlow(idp, b, body, who, { navJar, link = false } = {}) {
  const start = await startSocial(b, body, { link });
  const callback = await idp.login(null, start.url.toString(), who);
  const nav = await navigate(callback, navJar);
  return { start, callback, nav };
}

/** oidcFlow + verifier exchange in the same browser; asserts success. Returns {..., verifier, exchanged, user}. */
export async function oidcSignIn(srv, idp, b, body, who) {
  const flow = await oidcFlow(idp, b, body, who);
  assert.equal(flow.nav.status, 302, `callback: ${flow.nav.status} ${flow.nav.text?.slice(0, 300)}`);
  assert.equal(flow.nav.url.searchParams.get('error'), null, `callback redirected with an error: ${flow.nav.location}`);
  const verifier = verifierOf(flow.nav.location);
  const exchanged = await exchange(srv, verifier, b.jar, { origin: b.origin });
  assertExchanged(srv, exchanged, { email: who.email });
  return { ...flow, verifier, exchanged, user: exchanged.json.user, session: exchanged.json.session };
}

/** Sets a verification row (the OAuth state) as expired: the column and, if the value is JSON with expiresAt, that. */
export async function expireNewestVerification(srv) {
  const { rows } = await srv.db.query('SELECT id, value FROM neon_auth.verification ORDER BY "createdAt" DESC LIMIT 1');
  assert.ok(rows.length, 'a verification row for the state');
  const { id, value } = rows[0];
  let newValue = value;
  try {
    const v = JSON.parse(value);
    if (v && typeof v === 'object' && 'expiresAt' in v) {
      v.expiresAt = typeof v.expiresAt === 'number' ? Date.now() - 60_000 : new Date(Date.now() - 60_000).toISOString();
      newValue = JSON.stringify(v);
    }
  } catch { /* not JSON */ }
  await srv.db.query(`UPDATE neon_auth.verification SET "expiresAt" = now() - interval '1 minute', value = $2 WHERE id = $1`, [id, newValue]);
}

/** Stops every server and then every provider, even when one stop fails; rethrows the first failure. */
export async function stopAll(servers, providers = []) {
  const results = await Promise.allSettled(servers.filter(Boolean).map((s) => s.stop()));
  await Promise.allSettled(providers.filter(Boolean).map((p) => p.stop()));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}
