// Shared pieces of the email.*.test.mjs files: server environment for the SMTP sink, a "browser" (Better Auth
// 1.6.23 client with the email-OTP and magic-link plugins over a cookie jar, Origin http://localhost:3000),
// top-level navigation to a mailed link, and small readers for what the mails carry.
import assert from 'node:assert/strict';
import { createAuthClient } from 'better-auth/client';
import { emailOTPClient, magicLinkClient } from 'better-auth/client/plugins';
import { CookieJar, jarFetch, raw, cookieValue, COOKIE, APP_ORIGIN } from './harness.mjs';

export const EMAIL_FROM = 'Acme <no-reply@acme.test>';
export const FROM_ADDRESS = 'no-reply@acme.test';
export const APP_NAME = 'Acme';
export const VERIFIER = 'neon_auth_session_verifier';

/** Server env for a plain sink (no TLS, no AUTH) plus `extra`. */
export function mailEnv(mb, extra = {}) {
  return {
    PGWARDEN_SMTP_URL: `smtp://127.0.0.1:${mb.port}`,
    PGWARDEN_EMAIL_FROM: EMAIL_FROM,
    PGWARDEN_APP_NAME: APP_NAME,
    ...extra,
  };
}

/** A browser page on http://localhost:3000: Better Auth client + its own cookie jar. */
export function browser(srv, { origin = APP_ORIGIN } = {}) {
  const f = jarFetch(new CookieJar(), { origin });
  const client = createAuthClient({
    baseURL: srv.authUrl,
    plugins: [emailOTPClient(), magicLinkClient()],
    fetchOptions: { customFetchImpl: f },
  });
  return {
    client,
    fetch: f,
    jar: f.jar,
    last: (p) => f.log.filter((e) => e.path === `/neondb/auth${p}`).at(-1),
  };
}

/**
 * Opens `url` as a top-level navigation would (GET, no Origin header), with the cookies of `jar` if given;
 * stores the answer's Set-Cookie in the jar. Returns the raw response plus `location` (string or undefined).
 */
export async function navigate(url, jar) {
  const headers = {};
  const cookie = jar?.header();
  if (cookie) headers.Cookie = cookie;
  const res = await raw(String(url), { headers });
  if (jar) jar.store(res.setCookies);
  return { ...res, location: res.headers.location, session: cookieValue(res.setCookies, COOKIE) };
}

/** The one link in the mail's text part that starts with `prefix` (as a URL). */
export function linkIn(msg, prefix) {
  const hits = msg.links.filter((l) => l.startsWith(prefix));
  assert.equal(hits.length >= 1, true, `no link starting with ${prefix} in mail to ${msg.to}:\n${msg.text}`);
  assert.ok(hits.every((h) => h === hits[0]), `several different ${prefix} links in one mail: ${hits.join(' ')}`);
  return new URL(hits[0]);
}

/** The mail's one-time code: the single 6-digit line of the text part. */
export function codeIn(msg) {
  const codes = [...new Set(msg.codes)];
  assert.equal(codes.length, 1, `expected exactly one 6-digit code line in mail to ${msg.to}:\n${msg.text}`);
  return codes[0];
}

/** The payload of a JWT (no verification). */
export function jwtPayload(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

export function b64url(obj) {
  return Buffer.from(typeof obj === 'string' ? obj : JSON.stringify(obj)).toString('base64url');
}

/** The value of the session verifier query parameter of a Location (throws if absent). */
export function verifierOf(location) {
  const u = new URL(location);
  const v = u.searchParams.get(VERIFIER);
  assert.ok(v, `no ${VERIFIER} in ${location}`);
  return v;
}

/** Location without the verifier parameter (for comparing against the expected callback). */
export function withoutVerifier(location) {
  const u = new URL(location);
  u.searchParams.delete(VERIFIER);
  return u.toString();
}

export async function userRow(srv, email) {
  const { rows } = await srv.db.query('SELECT * FROM neon_auth."user" WHERE lower(email) = lower($1)', [email]);
  return rows[0];
}

export async function sessionCount(srv, userId) {
  const { rows } = await srv.db.query('SELECT count(*)::int AS n FROM neon_auth.session WHERE "userId" = $1', [userId]);
  return rows[0].n;
}

/**
 * Asserts that the server log holds none of `secrets`. Six-digit codes are searched as whole numbers not
 * preceded by a digit, '.' or ':' (so fractions of a second and clock times cannot match by accident);
 * everything else as a plain substring.
 */
export function assertLogClean(log, secrets, what = 'server log') {
  for (const s of new Set(secrets.filter(Boolean))) {
    if (/^\d{6}$/.test(s)) {
      const re = new RegExp(`(?<![0-9.:])${s}(?![0-9])`);
      const m = log.match(re);
      assert.equal(m, null, `${what} contains the one-time code ${s}:\n${m && log.slice(Math.max(0, m.index - 200), m.index + 200)}`);
    } else {
      const i = log.indexOf(s);
      assert.equal(i, -1, `${what} contains the secret ${JSON.stringify(s)}:\n${i >= 0 ? log.slice(Math.max(0, i - 200), i + 200) : ''}`);
    }
  }
}

/** Every token and code that was mailed: link tokens (query `token`, reset path segment) and OTP codes. */
export function mailedSecrets(messages) {
  const out = [];
  for (const m of messages) {
    out.push(...m.codes);
    for (const l of m.links) {
      const u = new URL(l);
      const t = u.searchParams.get('token');
      if (t) out.push(t);
      const r = u.pathname.match(/\/reset-password\/([^/?]+)$/);
      if (r) out.push(decodeURIComponent(r[1]));
    }
  }
  return out;
}

/** Asserts a Better Auth client result is an error with `status` (and `code` when given). */
export function assertSdkError(res, status, code, what = '') {
  assert.equal(res.data, null, `${what} expected an error, got data ${JSON.stringify(res.data)}`);
  assert.ok(res.error, `${what} expected an error`);
  assert.equal(res.error.status, status, `${what} status; error: ${JSON.stringify(res.error)}`);
  if (code !== undefined) assert.equal(res.error.code, code, `${what} code; error: ${JSON.stringify(res.error)}`);
}

/** Stops every server and then every sink, even when one stop fails; rethrows the first failure. */
export async function stopAll(servers, sinks = []) {
  const results = await Promise.allSettled(servers.filter(Boolean).map((s) => s.stop()));
  await Promise.allSettled(sinks.filter(Boolean).map((s) => s.stop()));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}
