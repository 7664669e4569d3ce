// security.md §B Sessions & cookies: SE-01 … SE-09.
//
// Servers:
//   srv       defaults, SMTP sink, OpenID provider "acme" (idp.mjs): id_token sign-ins mint sessions without a
//             password hash, so SE-01 can collect thousands of tokens quickly
//   short     PGWARDEN_BASE_URL https://auth.example.test, session lifetime 60 s, updateAge 20 s, absolute max
//             120 s, freshAge 2 s (SE-02 Max-Age, SE-05, SE-06); provider acme too (unlink-account)
//   insecure  PGWARDEN_SECURE_COOKIES=false on a plain-http base URL (SE-02 development mode)
// SE-05 ages sessions by moving their timestamps back in neon_auth.session (the server only compares them with
// its clock), which is what waiting would do.
//
// SECURITY_SE01_TOKENS (environment, default 2000) sets how many session tokens SE-01 collects (security.md: 10 000).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {
  startServer, raw, post, get, signUp, signIn, signCookie, cookieValue, header, uniqueEmail, COOKIE, PASSWORD,
  APP_ORIGIN, showServerOutputOnFailure,
} from '../e2e/harness.mjs';
import * as mailbox from '../e2e/mailbox.mjs';
import { mailEnv, linkIn, codeIn, assertLogClean, mailedSecrets } from '../e2e/email.common.mjs';
import { startOidc } from '../e2e/idp.mjs';
import { identity, registerClient, browser as oauthBrowser, oidcFlow, exchange, verifierOf } from '../e2e/oauth.common.mjs';

const CID = 'pgwarden-acme';
const SECRET = `acme-secret-${crypto.randomBytes(12).toString('hex')}`;
const N_TOKENS = Number(process.env.SECURITY_SE01_TOKENS || 2000);
const SHORT = { expiresIn: 60, updateAge: 20, absolute: 120, fresh: 2 };

let mb;
let idp;
let srv;
let short;
let insecure;

before(async () => {
  mb = await mailbox.start();
  idp = await startOidc();
  [srv, short, insecure] = await Promise.all([
    startServer({ env: { ...mailEnv(mb), ...idp.env('ACME', CID, SECRET) } }),
    startServer({
      env: {
        ...idp.env('ACME', CID, SECRET),
        PGWARDEN_BASE_URL: 'https://auth.example.test',
        PGWARDEN_SESSION_EXPIRES_IN: String(SHORT.expiresIn),
        PGWARDEN_SESSION_UPDATE_AGE: String(SHORT.updateAge),
        PGWARDEN_SESSION_ABSOLUTE_MAX: String(SHORT.absolute),
        PGWARDEN_SESSION_FRESH_AGE: String(SHORT.fresh),
      },
    }),
    startServer({ env: { PGWARDEN_SECURE_COOKIES: 'false', PGWARDEN_BASE_URL: 'http://auth.example.test' } }),
  ]);
  registerClient(idp, srv, 'acme', CID, SECRET);
});
after(async () => {
  const results = await Promise.allSettled([srv, short, insecure].filter(Boolean).map((s) => s.stop()));
  await Promise.allSettled([mb?.stop(), idp?.stop()]);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
});
showServerOutputOnFailure(() => [srv, short, insecure]);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const cookieHeader = (c) => ({ Cookie: `${COOKIE}=${c}` });
const seenSecrets = new Set();   // session tokens and cookie values met in this file (SE-09 log check)
const PASSWORDS = new Set([PASSWORD]);

function remember(...values) { for (const v of values) if (v) seenSecrets.add(v); }

async function session(s, cookie) {
  const r = await get(s, '/get-session', { cookie });
  assert.equal(r.status, 200, `get-session: ${r.status} ${r.text}`);
  return r.json;
}

async function tokenStatus(s, cookie) {
  return (await raw(`${s.authUrl}/token`, { headers: cookieHeader(cookie) })).status;
}

async function sessionRows(s, userId) {
  const { rows } = await s.db.query('SELECT token FROM neon_auth.session WHERE "userId" = $1', [userId]);
  return rows.map((r) => r.token);
}

/** Sign-in with an id_token of provider acme (no password hash); returns the raw response. */
async function idTokenSignIn(s, claims, headers = {}) {
  const token = await idp.signIdToken({ aud: CID, email_verified: true, ...claims });
  return raw(`${s.authUrl}/sign-in/social`, { method: 'POST', headers, body: { provider: 'acme', idToken: { token } } });
}

function parseSetCookie(sc) {
  const [nv, ...attrs] = sc.split(';').map((p) => p.trim());
  const eq = nv.indexOf('=');
  const a = {};
  for (const at of attrs) {
    const i = at.indexOf('=');
    a[(i < 0 ? at : at.slice(0, i)).toLowerCase()] = i < 0 ? true : at.slice(i + 1);
  }
  return { name: nv.slice(0, eq), value: nv.slice(eq + 1), attrs: a, raw: sc };
}

// Upper tail of χ²(df) at z standard deviations (Wilson–Hilferty); z = 5.3 is p ≈ 6e-8 per test.
function chi2Critical(df, z = 5.3) {
  const a = 2 / (9 * df);
  return df * (1 - a + z * Math.sqrt(a)) ** 3;
}
function chi2(counts, expected) {
  let x = 0;
  for (const c of counts) x += (c - expected) ** 2 / expected;
  return x;
}

// ---------------------------------------------------------------- SE-01

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

test(`SE-01: ${N_TOKENS} session tokens: unique, fixed length and alphabet, uniform per position (χ²), unrelated to user and time`, async () => {
  const who = identity('se01');
  const first = await idTokenSignIn(srv, { sub: who.sub, email: who.email });
  assert.equal(first.status, 200, first.text);
  const userId = first.json.user.id;
  const tokens = [first.json.token];
  const t0 = Date.now();
  const idt = await idp.signIdToken({ aud: CID, email_verified: true, sub: who.sub, email: who.email, exp: Math.floor(Date.now() / 1000) + 3600 });
  const C = 8;
  while (tokens.length < N_TOKENS) {
    const n = Math.min(C, N_TOKENS - tokens.length);
    const rs = await Promise.all(Array.from({ length: n }, () =>
      raw(`${srv.authUrl}/sign-in/social`, { method: 'POST', body: { provider: 'acme', idToken: { token: idt } } })));
    for (const r of rs) {
      assert.equal(r.status, 200, r.text);
      assert.equal(cookieValue(r.setCookies), signCookie(srv.secret, r.json.token), 'cookie = signed body token');
      tokens.push(r.json.token);
    }
  }
  const t1 = Date.now();
  for (const t of tokens) remember(t);

  assert.equal(new Set(tokens).size, tokens.length, 'all tokens are distinct');
  const len = tokens[0].length;
  assert.ok(len >= 22, `token length ${len}`);
  for (const t of tokens) {
    assert.equal(t.length, len, `constant length: ${t}`);
    assert.match(t, /^[A-Za-z0-9]+$/, `alphabet: ${t}`);
  }
  assert.ok(len * Math.log2(62) >= 128, `≥128 bits: ${len} chars of [A-Za-z0-9]`);

  // Per-position and pooled χ² against the uniform distribution over the 62 symbols.
  const idx = new Map([...ALNUM].map((c, i) => [c, i]));
  const pooled = new Array(62).fill(0);
  const bad = [];
  for (let p = 0; p < len; p++) {
    const counts = new Array(62).fill(0);
    for (const t of tokens) counts[idx.get(t[p])]++;
    for (let i = 0; i < 62; i++) pooled[i] += counts[i];
    const x = chi2(counts, tokens.length / 62);
    if (x > chi2Critical(61)) bad.push(`position ${p}: χ²=${x.toFixed(1)} > ${chi2Critical(61).toFixed(1)}`);
  }
  assert.deepEqual(bad, [], 'per-position distribution is uniform');
  const px = chi2(pooled, (tokens.length * len) / 62);
  assert.ok(px <= chi2Critical(61), `pooled χ²=${px.toFixed(1)} (critical ${chi2Critical(61).toFixed(1)}); counts ${pooled.join(',')}`);
  assert.ok(pooled.every((c) => c > 0), 'every symbol of [A-Za-z0-9] occurs');

  // No substring derived from the user or the clock.
  const fragments = new Set();
  const hex = userId.replace(/-/g, '');
  for (let i = 0; i + 8 <= hex.length; i += 4) fragments.add(hex.slice(i, i + 8));
  fragments.add(who.email.split('@')[0].slice(0, 8));
  for (const ms of [t0, t1]) {
    fragments.add(String(Math.floor(ms / 1000)).slice(0, 8));
    fragments.add(String(ms).slice(0, 9));
    fragments.add(Math.floor(ms / 1000).toString(16).slice(0, 7));
    fragments.add(ms.toString(36).slice(0, 6));
  }
  for (const t of tokens) {
    for (const f of fragments) assert.ok(!t.toLowerCase().includes(f.toLowerCase()), `token ${t} contains ${f}`);
  }
});

test('SE-01: a cookie with an altered, missing or foreign signature gives no session', async () => {
  const u = await signUp(srv, { name: 'Signature' });
  remember(u.token, u.cookie);
  const other = await signUp(srv, { name: 'Other' });
  const signed = decodeURIComponent(u.cookie);
  const dot = signed.lastIndexOf('.');
  const sig = signed.slice(dot + 1);
  const flipped = sig.slice(0, 10) + (sig[10] === 'A' ? 'B' : 'A') + sig.slice(11);
  const values = {
    'one signature char flipped': encodeURIComponent(`${u.token}.${flipped}`),
    'no signature': u.token,
    'empty signature': encodeURIComponent(`${u.token}.`),
    'signature of another token': encodeURIComponent(`${u.token}.${decodeURIComponent(other.cookie).split('.').pop()}`),
    'HMAC with another key': encodeURIComponent(`${u.token}.${crypto.createHmac('sha256', 'not-the-secret').update(u.token).digest('base64')}`),
  };
  assert.ok((await session(srv, u.cookie))?.user, 'the genuine cookie works');
  for (const [what, v] of Object.entries(values)) {
    const r = await raw(`${srv.authUrl}/get-session`, { headers: cookieHeader(v) });
    assert.equal(r.status, 200, what);
    assert.equal(r.text, 'null', `${what}: ${r.text.slice(0, 100)}`);
    assert.equal(await tokenStatus(srv, v), 401, `${what}: /token`);
  }
  const bearer = await raw(`${srv.authUrl}/get-session`, { headers: { Authorization: `Bearer ${u.token}.${flipped}` } });
  assert.equal(bearer.text, 'null', 'Bearer with an altered signature');
});

test('SE-01: the genuine cookie of a deleted session row gives no session', async () => {
  const u = await signUp(srv, { name: 'Deleted row' });
  remember(u.token, u.cookie);
  assert.ok((await session(srv, u.cookie))?.user);
  await srv.db.query('DELETE FROM neon_auth.session WHERE token = $1', [u.token]);
  assert.equal((await get(srv, '/get-session', { cookie: u.cookie })).text, 'null');
  assert.equal(await tokenStatus(srv, u.cookie), 401);
});

// ---------------------------------------------------------------- SE-02

function assertCookieAttrs(c, { secure = true, maxAge, what }) {
  const w = `${what}: ${c.raw}`;
  assert.ok(c.raw.length <= 4096, `${w} (≤ 4096 bytes)`);
  if (secure) {
    assert.ok(c.name.startsWith('__Secure-'), `${w}: __Secure- prefix`);
    assert.equal(c.attrs.secure, true, `${w}: Secure`);
  } else {
    assert.ok(!c.name.startsWith('__Secure-') && !c.name.startsWith('__Host-'), `${w}: no secure prefix over plain http`);
    assert.equal(c.attrs.secure, undefined, `${w}: no Secure over plain http`);
  }
  assert.equal(c.attrs.httponly, true, `${w}: HttpOnly`);
  assert.equal(c.attrs.samesite, 'Lax', `${w}: SameSite=Lax`);
  assert.equal(c.attrs.path, '/', `${w}: Path=/`);
  assert.equal(c.attrs.domain, undefined, `${w}: no Domain`);
  if (maxAge !== undefined) assert.equal(c.attrs['max-age'], String(maxAge), `${w}: Max-Age`);
}

test('SE-02: every cookie over https: __Secure- prefix, HttpOnly, Secure, SameSite=Lax, Path=/, no Domain, Max-Age = session lifetime', async () => {
  // short: https base URL, 60 s sessions
  const up = await post(short, '/sign-up/email', { name: 'Cookies', email: uniqueEmail('se02'), password: PASSWORD });
  assert.equal(up.status, 200, up.text);
  remember(up.json.token);
  const inn = await post(short, '/sign-in/email', { email: up.json.user.email, password: PASSWORD });
  assert.equal(inn.status, 200, inn.text);
  remember(inn.json.token);
  for (const [what, res] of [['sign-up', up], ['sign-in', inn]]) {
    const cs = res.setCookies.map(parseSetCookie);
    const s = cs.find((c) => c.name.endsWith('.session_token'));
    assert.ok(s, `${what}: a session cookie in ${JSON.stringify(res.setCookies)}`);
    assert.equal(s.name, COOKIE);
    for (const c of cs) assertCookieAttrs(c, { what, maxAge: c === s ? SHORT.expiresIn : undefined });
  }
  // srv: default lifetime 7 d; rememberMe:false (dont_remember), sign-out (session_data etc.), OAuth state cookies
  const me = await signUp(srv, { name: 'Cookies 2' });
  remember(me.token, me.cookie);
  const s7 = parseSetCookie(me.res.setCookies.find((c) => c.startsWith(`${COOKIE}=`)));
  assertCookieAttrs(s7, { what: 'sign-up (7 d)', maxAge: 604800 });
  const rm = await post(srv, '/sign-in/email', { email: me.email, password: PASSWORD, rememberMe: false });
  assert.equal(rm.status, 200);
  remember(rm.json.token);
  const rmCookies = rm.setCookies.map(parseSetCookie);
  assert.ok(rmCookies.some((c) => c.name.endsWith('.dont_remember')), JSON.stringify(rm.setCookies));
  for (const c of rmCookies) assertCookieAttrs(c, { what: 'rememberMe:false' });
  const out = await post(srv, '/sign-out', {}, cookieHeader(me.cookie));
  assert.equal(out.status, 200);
  const outCookies = out.setCookies.map(parseSetCookie);
  assert.ok(outCookies.some((c) => c.name.endsWith('.session_data')), JSON.stringify(out.setCookies));
  for (const c of outCookies) assertCookieAttrs(c, { what: 'sign-out', maxAge: 0 });
  const social = await post(srv, '/sign-in/social', { provider: 'acme', callbackURL: '/dashboard' });
  assert.equal(social.status, 200, social.text);
  const socialCookies = social.setCookies.map(parseSetCookie);
  assert.ok(socialCookies.some((c) => c.name.endsWith('.state')), JSON.stringify(social.setCookies));
  for (const c of socialCookies) {
    assertCookieAttrs(c, { what: 'sign-in/social' });
    assert.ok(Number(c.attrs['max-age']) > 0 && Number(c.attrs['max-age']) <= 600, `${c.raw}: short-lived`);
  }
});

test('SE-02: with secure cookies off (plain-http development) cookies carry neither Secure nor a __Secure- prefix', async () => {
  const up = await post(insecure, '/sign-up/email', { name: 'Plain', email: uniqueEmail('se02-plain'), password: PASSWORD });
  assert.equal(up.status, 200, up.text);
  remember(up.json.token);
  assert.ok(up.setCookies.length > 0);
  for (const c of up.setCookies.map(parseSetCookie)) assertCookieAttrs(c, { what: 'plain http', secure: false });
});

test('SE-02: insecure (plain-http) cookies are announced by a startup warning', async () => {
  const lines = insecure.stderr().split('\n').filter((l) => l.trim());
  const warned = lines.some((l) => /"level":"warn/.test(l) && /cookie|secure/i.test(l));
  assert.ok(warned, `no startup warning about insecure cookies; startup log:\n${lines.slice(0, 20).join('\n')}`);
});

// ---------------------------------------------------------------- SE-03

test('SE-03: sign-in never adopts a client-supplied session token (unsigned, forged-signed, or another user\'s session)', async () => {
  const victim = await signUp(srv, { name: 'Victim' });
  const attacker = await signUp(srv, { name: 'Attacker' });
  remember(victim.token, victim.cookie, attacker.token, attacker.cookie);
  const chosen = crypto.randomBytes(24).toString('base64').replace(/[^A-Za-z0-9]/g, '').padEnd(32, 'Q').slice(0, 32);
  const planted = {
    'unsigned attacker.sig': 'attacker.sig',
    'attacker-chosen token signed with the server secret': signCookie(srv.secret, chosen),
    "the attacker's own valid session": attacker.cookie,
  };
  for (const [what, value] of Object.entries(planted)) {
    const r = await post(srv, '/sign-in/email', { email: victim.email, password: PASSWORD }, cookieHeader(value));
    assert.equal(r.status, 200, `${what}: ${r.text}`);
    const issued = cookieValue(r.setCookies);
    remember(r.json.token, issued);
    assert.ok(issued, `${what}: a session cookie is issued`);
    assert.notEqual(issued, value, `${what}: the planted value is not adopted`);
    assert.notEqual(r.json.token, decodeURIComponent(value).split('.')[0], `${what}: the planted token is not adopted`);
    assert.equal((await session(srv, issued))?.user?.id, victim.user.id, `${what}: the new cookie is the victim's`);
  }
  assert.equal((await get(srv, '/get-session', { cookie: 'attacker.sig' })).text, 'null');
  assert.equal((await get(srv, '/get-session', { cookie: signCookie(srv.secret, chosen) })).text, 'null');
  const { rows } = await srv.db.query('SELECT count(*)::int AS n FROM neon_auth.session WHERE token = $1', [chosen]);
  assert.equal(rows[0].n, 0, 'the chosen token was never stored');
  assert.equal((await session(srv, attacker.cookie))?.user?.id, attacker.user.id, 'the attacker\'s session still belongs to the attacker');
});

test('SE-03: two sign-ins give two distinct tokens, both listed by list-sessions', async () => {
  const u = await signUp(srv, { name: 'Twice' });
  const a = await signIn(srv, u.email);
  const b = await signIn(srv, u.email);
  remember(u.token, a.token, b.token, a.cookie, b.cookie);
  assert.notEqual(a.token, b.token);
  assert.notEqual(a.cookie, b.cookie);
  const list = await get(srv, '/list-sessions', { cookie: a.cookie });
  assert.equal(list.status, 200, list.text);
  const tokens = list.json.map((s) => s.token);
  assert.ok(tokens.includes(a.token) && tokens.includes(b.token), JSON.stringify(tokens));
});

test('SE-03: email-OTP and id_token sign-ins with a session cookie present create new sessions', async () => {
  const u = await signUp(srv, { name: 'Reauth' });
  remember(u.token, u.cookie);
  const mark = mb.mark();
  const sent = await post(srv, '/email-otp/send-verification-otp', { email: u.email, type: 'sign-in' });
  assert.equal(sent.status, 200, sent.text);
  const otp = codeIn(await mb.next(u.email, { after: mark }));
  const r = await post(srv, '/sign-in/email-otp', { email: u.email, otp }, cookieHeader(u.cookie));
  assert.equal(r.status, 200, r.text);
  remember(r.json.token, cookieValue(r.setCookies));
  assert.notEqual(r.json.token, u.token, 'OTP sign-in: a new token');
  assert.notEqual(cookieValue(r.setCookies), u.cookie);

  const who = identity('se03');
  const o1 = await idTokenSignIn(srv, { sub: who.sub, email: who.email });
  assert.equal(o1.status, 200, o1.text);
  const c1 = cookieValue(o1.setCookies);
  const o2 = await idTokenSignIn(srv, { sub: who.sub, email: who.email }, { ...cookieHeader(c1), Origin: APP_ORIGIN });
  assert.equal(o2.status, 200, o2.text);
  remember(o1.json.token, o2.json.token, c1, cookieValue(o2.setCookies));
  assert.notEqual(o2.json.token, o1.json.token, 'id_token sign-in: a new token');
});

// ---------------------------------------------------------------- SE-04

test('SE-04: after sign-out the copied cookie is dead: get-session null, /token 401, Bearer null, row deleted', async () => {
  const u = await signUp(srv, { name: 'Sign out' });
  remember(u.token, u.cookie);
  const copy = u.cookie;
  const out = await post(srv, '/sign-out', {}, cookieHeader(u.cookie));
  assert.equal(out.status, 200, out.text);
  assert.equal((await get(srv, '/get-session', { cookie: copy })).text, 'null');
  assert.equal(await tokenStatus(srv, copy), 401);
  const bearer = await raw(`${srv.authUrl}/get-session`, { headers: { Authorization: `Bearer ${decodeURIComponent(copy)}` } });
  assert.equal(bearer.text, 'null');
  const { rows } = await srv.db.query('SELECT count(*)::int AS n FROM neon_auth.session WHERE token = $1', [u.token]);
  assert.equal(rows[0].n, 0);
});

test('SE-04: a session revoked from another device cannot change the password or mint JWTs', async () => {
  const u = await signUp(srv, { name: 'Revoked' });
  const other = await signIn(srv, u.email);
  remember(u.token, u.cookie, other.token, other.cookie);
  const rv = await post(srv, '/revoke-session', { token: u.token }, cookieHeader(other.cookie));
  assert.equal(rv.status, 200, rv.text);
  const cp = await post(srv, '/change-password', { currentPassword: PASSWORD, newPassword: 'revoked-new-password' }, cookieHeader(u.cookie));
  assert.equal(cp.status, 401, `change-password with a revoked session: ${cp.status} ${cp.text}`);
  assert.equal(await tokenStatus(srv, u.cookie), 401);
  assert.equal((await post(srv, '/sign-in/email', { email: u.email, password: PASSWORD })).status, 200, 'password unchanged');
});

test('SE-04: a forged session_data cookie is ignored (the database decides)', async () => {
  const a = await signUp(srv, { name: 'Cache A' });
  const b = await signUp(srv, { name: 'Cache B' });
  remember(a.token, a.cookie, b.token, b.cookie);
  const now = Date.now();
  const forgedSession = { session: { id: crypto.randomUUID(), token: b.token, userId: b.user.id, expiresAt: new Date(now + 86_400_000).toISOString() }, user: b.user };
  const payload = { session: forgedSession, expiresAt: now + 300_000 };
  const signature = crypto.createHmac('sha256', srv.secret).update(JSON.stringify(payload)).digest('base64url');
  const data = Buffer.from(JSON.stringify({ ...payload, signature })).toString('base64url');
  const DATA = '__Secure-neon-auth.session_data';
  // only session_data
  let r = await raw(`${srv.authUrl}/get-session`, { headers: { Cookie: `${DATA}=${data}` } });
  assert.equal(r.text, 'null', 'session_data alone is no session');
  // A's valid session + session_data naming B → still A
  r = await raw(`${srv.authUrl}/get-session`, { headers: { Cookie: `${COOKIE}=${a.cookie}; ${DATA}=${data}` } });
  assert.equal(r.json?.user?.id, a.user.id, 'the session token decides, not session_data');
  // revoked B + session_data claiming B is alive → null
  await post(srv, '/sign-out', {}, cookieHeader(b.cookie));
  r = await raw(`${srv.authUrl}/get-session`, { headers: { Cookie: `${COOKIE}=${b.cookie}; ${DATA}=${data}` } });
  assert.equal(r.text, 'null', 'a revoked session stays revoked whatever session_data says');
  r = await raw(`${srv.authUrl}/token`, { headers: { Cookie: `${COOKIE}=${b.cookie}; ${DATA}=${data}` } });
  assert.equal(r.status, 401);
});

// ---------------------------------------------------------------- SE-05 (short: 60 s / 20 s / 120 s)

async function age(s, token, seconds) {
  const r = await s.db.query(
    `UPDATE neon_auth.session SET "createdAt" = "createdAt" - make_interval(secs => $2), "updatedAt" = "updatedAt" - make_interval(secs => $2),
       "expiresAt" = "expiresAt" - make_interval(secs => $2) WHERE token = $1`, [token, seconds]);
  assert.equal(r.rowCount, 1, 'session row present');
}

test('SE-05: used after updateAge (t = 25 s) a session gets a new expiresAt (DB matches) and a re-sent cookie', async () => {
  const u = await signUp(short, { name: 'Sliding' });
  remember(u.token, u.cookie);
  await age(short, u.token, 25);
  const r = await get(short, '/get-session', { cookie: u.cookie });
  assert.equal(r.json?.session?.token, u.token, r.text);
  const exp = Date.parse(r.json.session.expiresAt);
  assert.ok(Math.abs(exp - (Date.now() + SHORT.expiresIn * 1000)) < 5000, `expiresAt ≈ now + 60 s: ${r.json.session.expiresAt}`);
  const c = r.setCookies.map(parseSetCookie).find((x) => x.name === COOKIE);
  assert.ok(c, `the cookie is re-sent: ${JSON.stringify(r.setCookies)}`);
  assert.equal(c.attrs['max-age'], String(SHORT.expiresIn));
  const { rows } = await short.db.query('SELECT "expiresAt" FROM neon_auth.session WHERE token = $1', [u.token]);
  assert.ok(Math.abs(rows[0].expiresAt.getTime() - exp) < 1000, `DB expiresAt ${rows[0].expiresAt.toISOString()} = ${r.json.session.expiresAt}`);
});

test('SE-05: idle for longer than expiresIn (61 s) a session is over: get-session null, /token 401', async () => {
  const u = await signUp(short, { name: 'Idle' });
  remember(u.token, u.cookie);
  await age(short, u.token, 61);
  assert.equal((await get(short, '/get-session', { cookie: u.cookie })).text, 'null');
  assert.equal(await tokenStatus(short, u.cookie), 401);
});

test('SE-05: used every 10 s, a session still ends at the absolute maximum (120 s)', async () => {
  const u = await signUp(short, { name: 'Absolute' });
  remember(u.token, u.cookie);
  for (let t = 10; t <= 110; t += 10) {
    await age(short, u.token, 10);
    const s = await session(short, u.cookie);
    assert.equal(s?.session?.token, u.token, `still valid at t = ${t} s`);
  }
  await age(short, u.token, 11);  // t = 121 s
  assert.equal((await get(short, '/get-session', { cookie: u.cookie })).text, 'null', 'over at t = 121 s');
  assert.equal(await tokenStatus(short, u.cookie), 401);
});

// ---------------------------------------------------------------- SE-06 (short: freshAge 2 s)

/** A user on `short` with a password and a linked acme identity (local address marked verified first). */
async function linkedUser(tag) {
  const u = await signUp(short, { name: tag, email: uniqueEmail(tag) });
  await short.db.query('UPDATE neon_auth."user" SET "emailVerified" = true WHERE id = $1', [u.user.id]);
  const who = { sub: `sub-${tag}-${crypto.randomBytes(4).toString('hex')}`, email: u.email };
  return { ...u, who };
}

async function ensureLinked(u) {
  const r = await idTokenSignIn(short, { sub: u.who.sub, email: u.email });
  assert.equal(r.status, 200, `id_token sign-in links the verified user: ${r.text}`);
  assert.equal(r.json.user.id, u.user.id);
  remember(r.json.token);
}

async function accounts(userId) {
  const { rows } = await short.db.query('SELECT "providerId" FROM neon_auth.account WHERE "userId" = $1 ORDER BY 1', [userId]);
  return rows.map((r) => r.providerId);
}

let freshUser;

test('SE-06: a session older than freshAge gets 403 SESSION_NOT_FRESH on list-sessions, unlink-account and delete-user without password', async () => {
  freshUser = await linkedUser('se06');
  await ensureLinked(freshUser);
  assert.deepEqual(await accounts(freshUser.user.id), ['acme', 'credential']);
  const stale = await signIn(short, freshUser.email);
  remember(stale.token, stale.cookie);
  await sleep(SHORT.fresh * 1000 + 600);
  const h = cookieHeader(stale.cookie);
  const list = await get(short, '/list-sessions', { cookie: stale.cookie });
  const unlink = await post(short, '/unlink-account', { providerId: 'acme' }, h);
  const del = await post(short, '/delete-user', {}, h);
  const got = { list: [list.status, list.json?.code], unlink: [unlink.status, unlink.json?.code], del: [del.status, del.json?.code] };
  assert.deepEqual(got, {
    list: [403, 'SESSION_NOT_FRESH'], unlink: [403, 'SESSION_NOT_FRESH'], del: [403, 'SESSION_NOT_FRESH'],
  }, `stale session answers: ${JSON.stringify({ list: list.text, unlink: unlink.text, del: del.text })}`);
});

test('SE-06: a fresh sign-in may list sessions, unlink an account and delete the user without password', async () => {
  const u = freshUser ?? await linkedUser('se06b');
  const { rows } = await short.db.query('SELECT count(*)::int AS n FROM neon_auth."user" WHERE id = $1', [u.user.id]);
  assert.equal(rows[0].n, 1, 'the user still exists');
  await ensureLinked(u);
  const fresh = await signIn(short, u.email);
  remember(fresh.token, fresh.cookie);
  const h = cookieHeader(fresh.cookie);
  const list = await get(short, '/list-sessions', { cookie: fresh.cookie });
  assert.equal(list.status, 200, list.text);
  const unlink = await post(short, '/unlink-account', { providerId: 'acme' }, h);
  assert.equal(unlink.status, 200, unlink.text);
  assert.deepEqual(await accounts(u.user.id), ['credential']);
  const del = await post(short, '/delete-user', {}, h);
  assert.equal(del.status, 200, del.text);
  const after = await short.db.query('SELECT count(*)::int AS n FROM neon_auth."user" WHERE id = $1', [u.user.id]);
  assert.equal(after.rows[0].n, 0);
});

// ---------------------------------------------------------------- SE-07

test('SE-07: list-sessions shows the caller\'s sessions only; another user\'s token cannot be revoked; revoke-other-sessions keeps the caller', async () => {
  const A = await signUp(srv, { name: 'Alice SE07' });
  const a2 = await signIn(srv, A.email);
  const B = await signUp(srv, { name: 'Bob SE07' });
  remember(A.token, A.cookie, a2.token, a2.cookie, B.token, B.cookie);
  const list = await get(srv, '/list-sessions', { cookie: A.cookie });
  assert.equal(list.status, 200, list.text);
  assert.deepEqual(list.json.map((s) => s.token).sort(), [A.token, a2.token].sort());
  assert.ok(list.json.every((s) => s.userId === A.user.id));
  assert.ok(!list.text.includes(B.token) && !list.text.includes(B.user.id), 'nothing of B');

  const rv = await post(srv, '/revoke-session', { token: B.token }, cookieHeader(A.cookie));
  assert.ok(rv.status === 200 || rv.status === 404 || rv.status === 403, `${rv.status} ${rv.text}`);
  assert.equal((await session(srv, B.cookie))?.user?.id, B.user.id, "B's session survives A's revoke-session");

  const others = await post(srv, '/revoke-other-sessions', {}, cookieHeader(A.cookie));
  assert.equal(others.status, 200, others.text);
  assert.equal((await get(srv, '/get-session', { cookie: a2.cookie })).text, 'null', 'A2 revoked');
  assert.equal((await session(srv, A.cookie))?.user?.id, A.user.id, 'A1 kept');
  assert.equal((await session(srv, B.cookie))?.user?.id, B.user.id, 'B untouched');
});

// ---------------------------------------------------------------- SE-08

test('SE-08: delete-user ends every session of the user and stops JWT issuance; earlier JWTs live ≤ 15 min', async () => {
  const u = await signUp(srv, { name: 'Deleted' });
  const s2 = await signIn(srv, u.email);
  remember(u.token, u.cookie, s2.token, s2.cookie);
  const tok = await raw(`${srv.authUrl}/token`, { headers: cookieHeader(u.cookie) });
  assert.equal(tok.status, 200);
  const claims = JSON.parse(Buffer.from(tok.json.token.split('.')[1], 'base64url').toString());
  assert.ok(claims.exp - claims.iat <= 900, `JWT lifetime ${claims.exp - claims.iat} s`);
  const del = await post(srv, '/delete-user', { password: PASSWORD }, cookieHeader(u.cookie));
  assert.equal(del.status, 200, del.text);
  for (const c of [u.cookie, s2.cookie]) {
    assert.equal((await get(srv, '/get-session', { cookie: c })).text, 'null');
    assert.equal(await tokenStatus(srv, c), 401);
  }
  assert.deepEqual(await sessionRows(srv, u.user.id), []);
});

test('SE-08: a banned user (admin columns set in the database) holds no session and gets no JWT', async () => {
  const u = await signUp(srv, { name: 'Banned' });
  const s2 = await signIn(srv, u.email);
  remember(u.token, u.cookie, s2.token, s2.cookie);
  await srv.db.query('UPDATE neon_auth."user" SET banned = true, "banReason" = $2 WHERE id = $1', [u.user.id, 'test']);
  for (const c of [u.cookie, s2.cookie]) {
    assert.equal((await get(srv, '/get-session', { cookie: c })).text, 'null');
    assert.equal(await tokenStatus(srv, c), 401);
  }
  const again = await post(srv, '/sign-in/email', { email: u.email, password: PASSWORD });
  assert.equal(again.status, 403, again.text);
  assert.deepEqual(again.setCookies.filter((c) => c.startsWith(`${COOKIE}=`) && !/Max-Age=0/.test(c)), []);
});

// ---------------------------------------------------------------- SE-09

const recorded = [];  // {what, res}
function rec(what, res) { recorded.push({ what, res }); return res; }

test('SE-09: no session token in a Location, redirect URL or error body of sign-in, OAuth, verify-email, magic link and reset flows', async () => {
  // sign-up / sign-in with callbackURL
  const email = uniqueEmail('se09');
  const up = rec('sign-up', await post(srv, '/sign-up/email', { name: 'Walk', email, password: PASSWORD, callbackURL: '/welcome' }));
  assert.equal(up.status, 200, up.text);
  const inn = rec('sign-in', await post(srv, '/sign-in/email', { email, password: PASSWORD, callbackURL: '/dashboard' }));
  assert.equal(inn.status, 200);
  rec('sign-in wrong', await post(srv, '/sign-in/email', { email, password: 'wrong-password-se09' }));
  const cookie = cookieValue(inn.setCookies);
  remember(up.json.token, inn.json.token, cookie, cookieValue(up.setCookies));
  rec('get-session', await get(srv, '/get-session', { cookie }));
  rec('token', await get(srv, '/token', { cookie }));
  rec('list-sessions', await get(srv, '/list-sessions', { cookie }));
  // verify-email (link mailed on request), with callbackURL
  let mark = mb.mark();
  rec('send-verification-email', await post(srv, '/send-verification-email', { email, callbackURL: '/verified' }));
  const vlink = linkIn(await mb.next(email, { after: mark }), `${srv.authUrl}/verify-email?`);
  const v = rec('verify-email', await raw(vlink.toString()));
  assert.equal(v.status, 302, v.text);
  remember(cookieValue(v.setCookies));
  // magic link
  mark = mb.mark();
  rec('sign-in/magic-link', await post(srv, '/sign-in/magic-link', { email, callbackURL: '/dash' }));
  const mlink = linkIn(await mb.next(email, { after: mark }), `${srv.authUrl}/magic-link/verify?`);
  const m = rec('magic-link/verify', await raw(mlink.toString()));
  assert.equal(m.status, 302, m.text);
  remember(cookieValue(m.setCookies));
  const ex = rec('verifier exchange', await raw(`${srv.authUrl}/get-session?neon_auth_session_verifier=${encodeURIComponent(verifierOf(m.headers.location))}`, { headers: { Origin: APP_ORIGIN } }));
  remember(cookieValue(ex.setCookies));
  rec('magic-link replay', await raw(mlink.toString()));
  // reset
  mark = mb.mark();
  rec('request-password-reset', await post(srv, '/request-password-reset', { email, redirectTo: '/reset' }));
  const rlink = linkIn(await mb.next(email, { after: mark }), `${srv.authUrl}/reset-password/`);
  rec('reset-password GET', await raw(rlink.toString()));
  const rtoken = decodeURIComponent(rlink.pathname.split('/').pop());
  rec('reset-password POST', await post(srv, '/reset-password', { token: rtoken, newPassword: 'se09-new-password' }));
  PASSWORDS.add('se09-new-password');
  rec('reset-password reuse', await post(srv, '/reset-password', { token: rtoken, newPassword: 'se09-newer-password' }));
  PASSWORDS.add('se09-newer-password');
  // OAuth redirect flow (acme) and an error callback
  const b = oauthBrowser(srv);
  const who = { ...identity('se09'), email_verified: true };
  const flow = await oidcFlow(idp, b, { provider: 'acme', callbackURL: '/after-oauth' }, who);
  rec('sign-in/social', { status: flow.start.entry.status, headers: Object.fromEntries(flow.start.entry.responseHeaders), text: await flow.start.entry.text });
  rec('oauth callback', flow.nav);
  assert.equal(flow.nav.status, 302, flow.nav.text);
  const exo = rec('oauth verifier exchange', await exchange(srv, verifierOf(flow.nav.location), b.jar));
  remember(cookieValue(exo.setCookies), exo.json?.session?.token);
  rec('oauth callback replay', await raw(flow.callback));

  const { rows } = await srv.db.query('SELECT token FROM neon_auth.session');
  const tokens = new Set([...rows.map((r) => r.token), ...[...seenSecrets].filter((s) => /^[A-Za-z0-9]{32}$/.test(s))]);
  const needles = [];
  for (const t of tokens) needles.push(t, signCookie(srv.secret, t), decodeURIComponent(signCookie(srv.secret, t)));
  for (const { what, res } of recorded) {
    const loc = res.headers?.location ?? res.location;
    if (loc) for (const n of needles) assert.ok(!loc.includes(n), `${what}: Location carries a session token: ${loc}`);
    if (res.status >= 400 && res.text) for (const n of needles) assert.ok(!res.text.includes(n), `${what}: error body carries a session token`);
  }
  for (const l of [vlink, mlink, rlink, new URL(flow.callback), flow.start.url]) {
    for (const n of needles) assert.ok(!l.toString().includes(n), `URL carries a session token: ${l}`);
  }
  for (const msg of mb.messages) for (const n of needles) assert.ok(!msg.raw.includes(n), `mail to ${msg.to} carries a session token`);
});

test('SE-09: auth answers are not cacheable (Cache-Control: no-store)', async () => {
  assert.ok(recorded.length > 10, 'the flows of the previous test were recorded');
  const must = ['sign-up', 'sign-in', 'sign-in wrong', 'get-session', 'token', 'list-sessions', 'verify-email', 'magic-link/verify',
    'verifier exchange', 'reset-password GET', 'reset-password POST', 'sign-in/social', 'oauth callback', 'oauth verifier exchange'];
  const missing = [];
  for (const what of must) {
    const e = recorded.find((x) => x.what === what);
    assert.ok(e, `recorded ${what}`);
    const cc = e.res.headers['cache-control'] ?? '';
    if (!/\bno-store\b/.test(cc)) missing.push(`${what} (${e.res.status}): Cache-Control ${JSON.stringify(cc)}`);
  }
  const anon = await get(srv, '/get-session');
  if (!/\bno-store\b/.test(header(anon, 'cache-control') ?? '')) missing.push('get-session without a session');
  const tok401 = await get(srv, '/token');
  if (!/\bno-store\b/.test(header(tok401, 'cache-control') ?? '')) missing.push('/token 401');
  assert.deepEqual(missing, []);
});

test('SE-09: no session token, cookie value, password or mailed secret in the server logs', () => {
  const secrets = [...seenSecrets];
  for (const t of [...seenSecrets]) if (/^[A-Za-z0-9]{32}$/.test(t)) secrets.push(signCookie(srv.secret, t), decodeURIComponent(signCookie(srv.secret, t)));
  assert.ok(secrets.length > 100);
  for (const s of [srv, short, insecure]) {
    assertLogClean(s.stderr(), [...secrets, ...PASSWORDS, ...mailedSecrets(mb.messages), s.secret], `log of ${s.baseUrl}`);
  }
});
