// security.md §F Email verification, password reset, OTP: TK-01 … TK-08.
//
// Servers (one SMTP sink):
//   srv    defaults (one-time code resend interval 60 s, TTLs 1 h / 5 min)
//   rot    PGWARDEN_EMAIL_OTP_RESEND_INTERVAL=0 (a new code replaces the old one at once)
//   short  PGWARDEN_RESET_PASSWORD_TTL=1, PGWARDEN_EMAIL_OTP_TTL=1, resend interval 0
// Mailed links are opened as top-level navigations (raw GET, no Origin).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {
  startServer, raw, post, get, signUp, signIn, cookieValue, uniqueEmail, COOKIE, PASSWORD,
  showServerOutputOnFailure,
} from '../e2e/harness.mjs';
import * as mailbox from '../e2e/mailbox.mjs';
import { mailEnv, linkIn, codeIn, assertLogClean, mailedSecrets, stopAll } from '../e2e/email.common.mjs';

let mb;
let srv;
let rot;
let short;

before(async () => {
  mb = await mailbox.start();
  [srv, rot, short] = await Promise.all([
    startServer({ env: mailEnv(mb) }),
    startServer({ env: mailEnv(mb, { PGWARDEN_EMAIL_OTP_RESEND_INTERVAL: '0' }) }),
    startServer({ env: mailEnv(mb, { PGWARDEN_RESET_PASSWORD_TTL: '1', PGWARDEN_EMAIL_OTP_TTL: '1', PGWARDEN_EMAIL_OTP_RESEND_INTERVAL: '0' }) }),
  ]);
});
after(() => stopAll([srv, rot, short], [mb]));
showServerOutputOnFailure(() => [srv, rot, short]);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const cookieHeader = (c) => ({ Cookie: `${COOKIE}=${c}` });
const b64u = (o) => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)).toString('base64url');
const PASSWORDS = new Set([PASSWORD]);

function hs(header, payload, secret, hash = 'sha256') {
  const input = `${b64u(header)}.${b64u(payload)}`;
  return `${input}.${crypto.createHmac(hash, Buffer.from(secret, 'utf8')).update(input).digest('base64url')}`;
}
function jwtPayload(t) { return JSON.parse(Buffer.from(t.split('.')[1], 'base64url').toString()); }

async function signInStatus(s, email, password) {
  return (await post(s, '/sign-in/email', { email, password })).status;
}
async function userRow(s, email) {
  const { rows } = await s.db.query('SELECT * FROM neon_auth."user" WHERE email = lower($1)', [email]);
  return rows[0];
}
async function sessionCount(s, userId) {
  const { rows } = await s.db.query('SELECT count(*)::int AS n FROM neon_auth.session WHERE "userId" = $1', [userId]);
  return rows[0].n;
}

/** request-password-reset → {token, link}. */
async function requestReset(s, email) {
  const mark = mb.mark();
  const r = await post(s, '/request-password-reset', { email, redirectTo: '/reset' });
  assert.equal(r.status, 200, r.text);
  const link = linkIn(await mb.next(email, { after: mark }), `${s.authUrl}/reset-password/`);
  return { link, token: decodeURIComponent(link.pathname.split('/').pop()) };
}

/** send-verification-otp → the mailed code. */
async function sendOtp(s, email, type) {
  const mark = mb.mark();
  const r = await post(s, '/email-otp/send-verification-otp', { email, type });
  assert.equal(r.status, 200, `${type}: ${r.status} ${r.text}`);
  return codeIn(await mb.next(email, { after: mark }));
}

/** The verify-email link mailed after send-verification-email. */
async function verificationLink(s, email, callbackURL) {
  const mark = mb.mark();
  const r = await post(s, '/send-verification-email', { email, ...(callbackURL ? { callbackURL } : {}) });
  assert.equal(r.status, 200, r.text);
  return linkIn(await mb.next(email, { after: mark }), `${s.authUrl}/verify-email?`);
}

/** Signs up and verifies the address through the mailed link; returns the signUp result. */
async function verifiedUser(s, tag) {
  const u = await signUp(s, { name: tag, email: uniqueEmail(tag) });
  const link = await verificationLink(s, u.email);
  const r = await raw(link.toString());
  assert.ok(r.status === 200 || r.status === 302, `verify: ${r.status} ${r.text}`);
  assert.equal((await userRow(s, u.email)).emailVerified, true);
  return u;
}

function wrong(code) { return String((Number(code) + 1) % 1_000_000).padStart(6, '0'); }

// ---------------------------------------------------------------- TK-01

test('TK-01: a reset token carries ≥128 bits, works once (200), then 400 INVALID_TOKEN', async () => {
  const u = await signUp(srv, { name: 'TK01' });
  const { token } = await requestReset(srv, u.email);
  const bitsPerChar = /^[0-9a-f]+$/.test(token) ? 4 : /^[A-Za-z0-9]+$/.test(token) ? Math.log2(62) : 6;
  assert.ok(token.length * bitsPerChar >= 128, `token ${token}: ${(token.length * bitsPerChar).toFixed(0)} bits`);
  const ok = await post(srv, '/reset-password', { token, newPassword: 'tk01-new-password' });
  PASSWORDS.add('tk01-new-password');
  assert.equal(ok.status, 200, ok.text);
  const again = await post(srv, '/reset-password', { token, newPassword: 'tk01-other-password' });
  PASSWORDS.add('tk01-other-password');
  assert.equal(again.status, 400, again.text);
  assert.equal(again.json?.code, 'INVALID_TOKEN');
  assert.equal(await signInStatus(srv, u.email, 'tk01-new-password'), 200);
});

test('TK-01: reset tokens are distinct and not stored in the clear (grey-box: neon_auth.verification)', async () => {
  const u = await signUp(srv, { name: 'TK01 store' });
  const tokens = [];
  for (let i = 0; i < 3; i++) tokens.push((await requestReset(srv, u.email)).token);
  assert.equal(new Set(tokens).size, tokens.length);
  const { rows } = await srv.db.query('SELECT identifier, value FROM neon_auth.verification');
  for (const t of tokens) {
    for (const r of rows) assert.ok(!r.identifier.includes(t) && !r.value.includes(t), `raw token stored: ${r.identifier} / ${r.value}`);
  }
});

test('TK-01: an expired reset token (TTL 1 s) → 400 INVALID_TOKEN, password unchanged', async () => {
  const u = await signUp(short, { name: 'TK01 ttl' });
  const { token } = await requestReset(short, u.email);
  await sleep(2200);
  const r = await post(short, '/reset-password', { token, newPassword: 'tk01-late-password' });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json?.code, 'INVALID_TOKEN');
  assert.equal(await signInStatus(short, u.email, PASSWORD), 200);
});

// ---------------------------------------------------------------- TK-02

test('TK-02: an email-verification token is no reset token', async () => {
  const u = await signUp(srv, { name: 'TK02 verify' });
  const link = await verificationLink(srv, u.email);
  const jwt = link.searchParams.get('token');
  const r = await post(srv, '/reset-password', { token: jwt, newPassword: 'tk02-hijack-password' });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json?.code, 'INVALID_TOKEN');
  assert.equal(await signInStatus(srv, u.email, PASSWORD), 200);
});

test('TK-02: a one-time code is bound to its purpose', async () => {
  const u = await signUp(rot, { name: 'TK02 otp' });
  const code = await sendOtp(rot, u.email, 'email-verification');
  const signInOtp = await post(rot, '/sign-in/email-otp', { email: u.email, otp: code });
  assert.equal(signInOtp.status, 400, `email-verification code on sign-in: ${signInOtp.text}`);
  assert.equal(cookieValue(signInOtp.setCookies), undefined);
  const resetOtp = await post(rot, '/email-otp/reset-password', { email: u.email, otp: code, password: 'tk02-otp-password' });
  assert.equal(resetOtp.status, 400, `email-verification code on reset: ${resetOtp.text}`);
  const fp = await sendOtp(rot, u.email, 'forget-password');
  const verifyOtp = await post(rot, '/email-otp/verify-email', { email: u.email, otp: fp });
  assert.equal(verifyOtp.status, 400, `forget-password code on verify-email: ${verifyOtp.text}`);
  const signInFp = await post(rot, '/sign-in/email-otp', { email: u.email, otp: fp });
  assert.equal(signInFp.status, 400, `forget-password code on sign-in: ${signInFp.text}`);
  assert.equal(await signInStatus(rot, u.email, PASSWORD), 200, 'password unchanged');
  assert.equal((await userRow(rot, u.email)).emailVerified, false, 'not verified by a foreign code');
});

test("TK-02: user A's code cannot act on user B", async () => {
  const A = await signUp(rot, { name: 'TK02 A' });
  const B = await signUp(rot, { name: 'TK02 B' });
  const codeA = await sendOtp(rot, A.email, 'forget-password');
  const r = await post(rot, '/email-otp/reset-password', { email: B.email, otp: codeA, password: 'tk02-cross-password' });
  assert.equal(r.status, 400, r.text);
  const s = await post(rot, '/sign-in/email-otp', { email: B.email, otp: await sendOtp(rot, A.email, 'sign-in') });
  assert.equal(s.status, 400, s.text);
  assert.equal(await signInStatus(rot, B.email, PASSWORD), 200, "B's password unchanged");
});

test('TK-02: a new reset request voids the older token', async () => {
  const u = await signUp(srv, { name: 'TK02 twice' });
  const first = await requestReset(srv, u.email);
  const second = await requestReset(srv, u.email);
  const r1 = await post(srv, '/reset-password', { token: first.token, newPassword: 'tk02-first-password' });
  assert.equal(r1.status, 400, `first token: ${r1.text}`);
  const r2 = await post(srv, '/reset-password', { token: second.token, newPassword: 'tk02-second-password' });
  assert.equal(r2.status, 200, `second token: ${r2.text}`);
  PASSWORDS.add('tk02-first-password').add('tk02-second-password');
  assert.equal(await signInStatus(srv, u.email, 'tk02-second-password'), 200);
});

// ---------------------------------------------------------------- TK-03

test('TK-03: 20 parallel reset-password calls with one token: one 200, and the password is that request\'s', async () => {
  const u = await signUp(srv, { name: 'TK03 reset' });
  const { token } = await requestReset(srv, u.email);
  const pws = Array.from({ length: 20 }, (_, i) => `tk03-parallel-${i}-password`);
  pws.forEach((p) => PASSWORDS.add(p));
  const rs = await Promise.all(pws.map((p) => post(srv, '/reset-password', { token, newPassword: p })));
  const wins = rs.map((r, i) => [r.status, i]).filter(([s]) => s === 200);
  assert.equal(wins.length, 1, `statuses ${rs.map((r) => r.status).join(',')}`);
  for (const r of rs) if (r.status !== 200) assert.equal(r.status, 400, r.text);
  const w = wins[0][1];
  assert.equal(await signInStatus(srv, u.email, pws[w]), 200, 'the winner\'s password');
  assert.equal(await signInStatus(srv, u.email, pws[(w + 1) % 20]), 401, 'not a loser\'s');
});

test('TK-03: 10 parallel OTP sign-ins and 10 parallel OTP resets with the right code: exactly one succeeds', async () => {
  const email = uniqueEmail('tk03-otp');
  const code = await sendOtp(rot, email, 'sign-in');
  const rs = await Promise.all(Array.from({ length: 10 }, () => post(rot, '/sign-in/email-otp', { email, otp: code })));
  const ok = rs.filter((r) => r.status === 200);
  assert.equal(ok.length, 1, `sign-in statuses ${rs.map((r) => r.status).join(',')}`);
  for (const r of rs) if (r.status !== 200) assert.ok(r.status === 400 || r.status === 403, r.text);
  const { rows } = await rot.db.query('SELECT count(*)::int AS n FROM neon_auth."user" WHERE email = $1', [email]);
  assert.equal(rows[0].n, 1);

  const u = await signUp(rot, { name: 'TK03 otp reset' });
  const fp = await sendOtp(rot, u.email, 'forget-password');
  const pws = Array.from({ length: 10 }, (_, i) => `tk03-otp-reset-${i}`);
  pws.forEach((p) => PASSWORDS.add(p));
  const rr = await Promise.all(pws.map((p) => post(rot, '/email-otp/reset-password', { email: u.email, otp: fp, password: p })));
  const wins = rr.map((r, i) => [r.status, i]).filter(([s]) => s === 200);
  assert.equal(wins.length, 1, `reset statuses ${rr.map((r) => r.status).join(',')}`);
  assert.equal(await signInStatus(rot, u.email, pws[wins[0][1]]), 200);
});

test('TK-03: 20 parallel uses of a change-email verification link change the address once', async () => {
  const u = await verifiedUser(srv, 'tk03-change');
  const s = await signIn(srv, u.email);
  const newEmail = uniqueEmail('tk03-moved');
  let mark = mb.mark();
  const ch = await post(srv, '/change-email', { newEmail, callbackURL: '/settings' }, cookieHeader(s.cookie));
  assert.equal(ch.status, 200, ch.text);
  const confirm = linkIn(await mb.next(u.email, { after: mark }), `${srv.authUrl}/verify-email?`);
  mark = mb.mark();
  const c = await raw(confirm.toString());
  assert.equal(c.status, 302, c.text);
  const verify = linkIn(await mb.next(newEmail, { after: mark }), `${srv.authUrl}/verify-email?`);
  const before = await sessionCount(srv, u.user.id);
  const rs = await Promise.all(Array.from({ length: 20 }, () => raw(verify.toString())));
  assert.ok(rs.every((r) => r.status < 500), rs.map((r) => r.status).join(','));
  const acting = rs.filter((r) => (r.status === 302 && !new URL(r.headers.location, srv.baseUrl).searchParams.get('error'))
    || (r.status === 200 && r.json?.user));
  assert.equal(acting.length, 1, `successful answers: ${rs.map((r) => `${r.status} ${r.headers.location ?? r.text.slice(0, 60)}`).join(' | ')}`);
  assert.ok(rs.filter((r) => cookieValue(r.setCookies)).length <= 1, 'at most one session cookie');
  assert.ok(await sessionCount(srv, u.user.id) <= before + 1, 'at most one new session');
  const row = await userRow(srv, newEmail);
  assert.equal(row?.id, u.user.id);
  assert.equal(await userRow(srv, u.email), undefined);
});

// ---------------------------------------------------------------- TK-04

test('TK-04: a completed reset revokes every session, sets no cookie and mails a notice without secrets', async () => {
  const u = await signUp(srv, { name: 'TK04' });
  const s2 = await signIn(srv, u.email);
  const { token } = await requestReset(srv, u.email);
  const NEW = 'tk04-brand-new-password';
  PASSWORDS.add(NEW);
  const mark = mb.mark();
  const r = await post(srv, '/reset-password', { token, newPassword: NEW });
  assert.equal(r.status, 200, r.text);
  assert.equal(cookieValue(r.setCookies), undefined, 'no session cookie');
  assert.ok(!r.text.includes(NEW), 'the answer does not echo the password');
  for (const c of [u.cookie, s2.cookie]) {
    assert.equal((await get(srv, '/get-session', { cookie: c })).text, 'null');
    assert.equal((await raw(`${srv.authUrl}/token`, { headers: cookieHeader(c) })).status, 401);
  }
  assert.equal(await sessionCount(srv, u.user.id), 0);
  const notice = await mb.next(u.email, { after: mark });
  for (const secret of [NEW, token, u.token, s2.token]) assert.ok(!notice.raw.includes(secret), `notice contains ${secret}`);
  assert.equal(notice.links.filter((l) => l.includes('/reset-password/')).length, 0, 'no reset link in the notice');
});

test('TK-04: an email-OTP password reset revokes every session too', async () => {
  const u = await signUp(rot, { name: 'TK04 otp' });
  const s2 = await signIn(rot, u.email);
  const code = await sendOtp(rot, u.email, 'forget-password');
  const r = await post(rot, '/email-otp/reset-password', { email: u.email, otp: code, password: 'tk04-otp-new-password' });
  PASSWORDS.add('tk04-otp-new-password');
  assert.equal(r.status, 200, r.text);
  assert.equal(cookieValue(r.setCookies), undefined);
  for (const c of [u.cookie, s2.cookie]) assert.equal((await get(rot, '/get-session', { cookie: c })).text, 'null');
  assert.equal(await sessionCount(rot, u.user.id), 0);
});

// ---------------------------------------------------------------- TK-05

/** A refused verification: 400/401 with an error code (INVALID_TOKEN, TOKEN_EXPIRED, …), or (links with a callbackURL) a redirect with ?error=. */
function refused(r) {
  if (r.status === 302) return !!new URL(r.headers.location, 'http://x').searchParams.get('error');
  return (r.status === 400 || r.status === 401) && typeof r.json?.code === 'string';
}

test('TK-05: verify-email refuses alg none, altered signature, other algorithms, crit, expired and foreign-secret tokens', async () => {
  const u = await signUp(srv, { name: 'TK05' });
  const email = u.email.toLowerCase();
  const now = Math.floor(Date.now() / 1000);
  const claims = { email, iat: now, exp: now + 3600 };
  const good = hs({ alg: 'HS256' }, claims, srv.secret);
  const [h, p, sig] = good.split('.');
  const flipped = sig.slice(0, 5) + (sig[5] === 'A' ? 'B' : 'A') + sig.slice(6);
  const forged = {
    'alg none': `${b64u({ alg: 'none' })}.${p}.`,
    'alg none, signature kept': `${b64u({ alg: 'none' })}.${p}.${sig}`,
    'alg NONE': `${b64u({ alg: 'NONE' })}.${p}.`,
    'signature altered': `${h}.${p}.${flipped}`,
    'signature removed': `${h}.${p}.`,
    'HS512 with the secret': hs({ alg: 'HS512' }, claims, srv.secret, 'sha512'),
    'HS384 with the secret': hs({ alg: 'HS384' }, claims, srv.secret, 'sha384'),
    'crit header': hs({ alg: 'HS256', crit: ['exp'] }, claims, srv.secret),
    'exp in the past': hs({ alg: 'HS256' }, { email, iat: now - 7200, exp: now - 3600 }, srv.secret),
    'no exp': hs({ alg: 'HS256' }, { email, iat: now }, srv.secret),
    'another secret': hs({ alg: 'HS256' }, claims, `${srv.secret}-other`),
    'payload swapped under a valid signature': `${h}.${b64u({ ...claims, email: 'someone-else@example.com' })}.${sig}`,
  };
  const bad = [];
  for (const [what, token] of Object.entries(forged)) {
    const r = await raw(`${srv.authUrl}/verify-email?token=${encodeURIComponent(token)}`);
    if (!refused(r) || cookieValue(r.setCookies)) bad.push(`${what}: ${r.status} ${r.text.slice(0, 100)}`);
  }
  assert.deepEqual(bad, []);
  assert.equal((await userRow(srv, email)).emailVerified, false, 'nothing verified the address');
  const ok = await raw(`${srv.authUrl}/verify-email?token=${good}`);
  assert.equal(ok.status, 200, `the genuine token works: ${ok.text}`);
  assert.equal((await userRow(srv, email)).emailVerified, true);
});

test('TK-05: a replayed verification changes nothing and creates no session', async () => {
  const u = await signUp(srv, { name: 'TK05 replay' });
  const link = await verificationLink(srv, u.email);
  for (const l of [link, `${srv.authUrl}/verify-email?token=${link.searchParams.get('token')}`]) {  // with and without callbackURL
    if (l === link) {
      const first = await raw(l.toString());
      assert.ok(first.status === 200 || first.status === 302, `${first.status} ${first.text}`);
    }
    const before = await sessionCount(srv, u.user.id);
    for (let i = 0; i < 3; i++) {
      const r = await raw(l.toString());
      assert.ok([200, 302, 400, 401].includes(r.status), `${r.status} ${r.text}`);
      assert.equal(cookieValue(r.setCookies), undefined, 'no session from a replay');
      if (r.status === 200) assert.equal(r.json?.user ?? null, null, `replay: ${r.text}`);
      if (r.status === 302) assert.equal(new URL(r.headers.location, srv.baseUrl).searchParams.get('neon_auth_session_verifier'), null, `replay hands over a session: ${r.headers.location}`);
    }
    assert.equal(await sessionCount(srv, u.user.id), before);
  }
});

test('TK-05: a verification token for an address the user no longer has is refused', async () => {
  const u = await signUp(srv, { name: 'TK05 moved' });
  const oldLink = await verificationLink(srv, u.email);
  // an unverified user changes the address: the link goes to the new address, which becomes verified on use
  const newEmail = uniqueEmail('tk05-new');
  const mark = mb.mark();
  const ch = await post(srv, '/change-email', { newEmail }, cookieHeader(u.cookie));
  assert.equal(ch.status, 200, ch.text);
  const link = linkIn(await mb.next(newEmail, { after: mark }), `${srv.authUrl}/verify-email?`);
  const done = await raw(link.toString());
  assert.ok(done.status === 200 || done.status === 302, done.text);
  assert.equal((await userRow(srv, newEmail))?.id, u.user.id);
  for (const l of [oldLink.toString(), `${srv.authUrl}/verify-email?token=${oldLink.searchParams.get('token')}`]) {
    const r = await raw(l);
    assert.ok(refused(r), `old-address token after the change: ${r.status} ${r.headers.location ?? ''} ${r.text}`);
    assert.equal(cookieValue(r.setCookies), undefined);
  }
  assert.equal((await userRow(srv, newEmail)).email, newEmail.toLowerCase(), 'address unchanged');
});

test('TK-05: the verification JWT is no bearer credential (auth API and Data API)', async () => {
  const u = await signUp(srv, { name: 'TK05 bearer' });
  const jwt = (await verificationLink(srv, u.email)).searchParams.get('token');
  const gs = await raw(`${srv.authUrl}/get-session`, { headers: { Authorization: `Bearer ${jwt}` } });
  assert.equal(gs.text, 'null');
  const tk = await raw(`${srv.authUrl}/token`, { headers: { Authorization: `Bearer ${jwt}` } });
  assert.equal(tk.status, 401);
  const api = await raw(`${srv.baseUrl}/neondb/rest/v1/`, { headers: { Authorization: `Bearer ${jwt}` } });
  assert.equal(api.status, 401, `Data API: ${api.status} ${api.text}`);
});

// ---------------------------------------------------------------- TK-06

test('TK-06: change-email of a verified user: the old address confirms first; the new one is no identifier until verified', async () => {
  const u = await verifiedUser(srv, 'tk06');
  const s = await signIn(srv, u.email);
  const X = uniqueEmail('tk06-typo');
  let mark = mb.mark();
  const ch = await post(srv, '/change-email', { newEmail: X, callbackURL: '/settings' }, cookieHeader(s.cookie));
  assert.equal(ch.status, 200, ch.text);
  const confirm = linkIn(await mb.next(u.email, { after: mark }), `${srv.authUrl}/verify-email?`);
  await mb.none((m) => m.index >= mark && m.to === X.toLowerCase(), 800);

  const notYet = async (stage) => {
    assert.equal(await signInStatus(srv, X, PASSWORD), 401, `${stage}: sign-in as X`);
    const m0 = mb.mark();
    const rr = await post(srv, '/request-password-reset', { email: X, redirectTo: '/reset' });
    assert.equal(rr.status, 200, rr.text);
    await mb.none((m) => m.index >= m0 && m.to === X.toLowerCase() && m.links.some((l) => l.includes('/reset-password/')), 800);
    assert.equal((await userRow(srv, u.email))?.id, u.user.id, `${stage}: the account keeps the old address`);
  };
  await notYet('before confirmation');

  mark = mb.mark();
  const c = await raw(confirm.toString());
  assert.equal(c.status, 302, c.text);
  const verify = linkIn(await mb.next(X, { after: mark }), `${srv.authUrl}/verify-email?`);
  await notYet('confirmed by the old address, new one not verified');

  const v = await raw(verify.toString());
  assert.equal(v.status, 302, v.text);
  assert.equal(await signInStatus(srv, X, PASSWORD), 200, 'after both confirmations');
  assert.equal(await signInStatus(srv, u.email, PASSWORD), 401, 'the old address is no identifier any more');
});

test('TK-06: change-email of an unverified user mails only the new address, which is no identifier before it is verified', async () => {
  const u = await signUp(srv, { name: 'TK06 unverified' });
  const X = uniqueEmail('tk06-unv');
  const mark = mb.mark();
  const ch = await post(srv, '/change-email', { newEmail: X }, cookieHeader(u.cookie));
  assert.equal(ch.status, 200, ch.text);
  const link = linkIn(await mb.next(X, { after: mark }), `${srv.authUrl}/verify-email?`);
  await mb.none((m) => m.index >= mark && m.to === u.email.toLowerCase(), 800);
  assert.equal(await signInStatus(srv, X, PASSWORD), 401);
  const v = await raw(link.toString());
  assert.ok(v.status === 200 || v.status === 302, v.text);
  assert.equal(await signInStatus(srv, X, PASSWORD), 200);
});

// ---------------------------------------------------------------- TK-07

test('TK-07: a one-time code works once; a second use is 400', async () => {
  const email = uniqueEmail('tk07-once');
  const code = await sendOtp(srv, email, 'sign-in');
  assert.match(code, /^\d{6}$/);
  const r1 = await post(srv, '/sign-in/email-otp', { email, otp: code });
  assert.equal(r1.status, 200, r1.text);
  const r2 = await post(srv, '/sign-in/email-otp', { email, otp: code });
  assert.equal(r2.status, 400, r2.text);
  assert.equal(cookieValue(r2.setCookies), undefined);
});

test('TK-07: an expired code (TTL 1 s) → 400 OTP_EXPIRED', async () => {
  const email = uniqueEmail('tk07-ttl');
  const code = await sendOtp(short, email, 'sign-in');
  await sleep(2200);
  const r = await post(short, '/sign-in/email-otp', { email, otp: code });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json?.code, 'OTP_EXPIRED');
});

test('TK-07: a second code request within 60 s is refused (429) and the first code stays valid', async () => {
  const u = await signUp(srv, { name: 'TK07 cooldown' });
  const code = await sendOtp(srv, u.email, 'email-verification');
  const again = await post(srv, '/email-otp/send-verification-otp', { email: u.email, type: 'email-verification' });
  assert.equal(again.status, 429, again.text);
  const ok = await post(srv, '/email-otp/verify-email', { email: u.email, otp: code });
  assert.equal(ok.status, 200, ok.text);
});

test('TK-07: where resending is allowed (interval 0), a new code voids the previous one', async () => {
  const email = uniqueEmail('tk07-rotate');
  const first = await sendOtp(rot, email, 'sign-in');
  let second = await sendOtp(rot, email, 'sign-in');
  for (let i = 0; second === first && i < 3; i++) second = await sendOtp(rot, email, 'sign-in');  // 1e-6 chance
  const old = await post(rot, '/sign-in/email-otp', { email, otp: first });
  assert.equal(old.status, 400, `previous code: ${old.text}`);
  const cur = await post(rot, '/sign-in/email-otp', { email, otp: second });
  assert.equal(cur.status, 200, cur.text);
});

test('TK-07: 1000 codes (grey-box: issued for unknown addresses, read back from their hashes) show no excess repeats and uniform digits', async () => {
  // The code rows of unknown addresses (D29: issued without a mail) hold base64url(SHA-256(code)); a known
  // address's mailed code checks the hashing before the 10^6 codes are enumerated to read the others back.
  const tag = `tk07stat${process.pid}${Date.now().toString(36)}`;
  const u = await signUp(rot, { name: 'TK07 stat', email: `${tag}-known@example.com` });
  const known = await sendOtp(rot, u.email, 'email-verification');
  const hashOf = (c) => crypto.createHash('sha256').update(c).digest('base64url');
  // identifiers are "<type>-otp-<email>", stored plain or hashed like the codes
  const ids = (email) => [`email-verification-otp-${email.toLowerCase()}`, hashOf(`email-verification-otp-${email.toLowerCase()}`)];
  const valuesOf = async (emails) => (await rot.db.query('SELECT value FROM neon_auth.verification WHERE identifier = ANY($1)',
    [emails.flatMap(ids)])).rows.map((r) => r.value);
  const [knownValue] = await valuesOf([u.email]);
  assert.ok(knownValue, 'the code row of the known address');
  const stored = (v) => v.slice(0, v.lastIndexOf(':'));
  const plain = /^\d{6}$/.test(stored(knownValue));
  assert.ok(plain ? stored(knownValue) === known : stored(knownValue) === hashOf(known), `stored form of a code: ${knownValue}`);

  const N = 1000;
  const emails = Array.from({ length: N }, (_, i) => `${tag}-${i}@example.com`);
  for (let i = 0; i < N; i += 20) {
    const rs = await Promise.all(emails.slice(i, i + 20).map((email) => post(rot, '/email-otp/send-verification-otp', { email, type: 'email-verification' })));
    for (const r of rs) assert.equal(r.status, 200, r.text);
  }
  const values = (await valuesOf(emails)).map(stored);
  assert.equal(values.length, N, 'one code row per request');
  let codes;
  if (plain) {
    codes = values;
  } else {
    const want = new Map(values.map((h) => [h, null]));
    for (let c = 0; c < 1_000_000; c++) {
      const s = String(c).padStart(6, '0');
      const h = hashOf(s);
      if (want.has(h)) want.set(h, s);
    }
    codes = values.map((h) => want.get(h));
    assert.ok(codes.every((c) => c !== null), 'every stored hash is the hash of a 6-digit code');
  }
  for (const c of codes) assert.match(c, /^\d{6}$/);
  // Repeats: expected C(N,2)/10^6 ≈ 0.5 colliding pairs; more than 6 has probability < 1e-5.
  const seen = new Map();
  for (const c of codes) seen.set(c, (seen.get(c) ?? 0) + 1);
  let pairs = 0;
  for (const n of seen.values()) pairs += (n * (n - 1)) / 2;
  assert.ok(pairs <= 6, `${pairs} colliding pairs among ${N} codes`);
  // Digits: per position and pooled χ² (9 df); critical value at p ≈ 1e-7.
  const CRIT = 50;
  const pooled = new Array(10).fill(0);
  for (let p = 0; p < 6; p++) {
    const counts = new Array(10).fill(0);
    for (const c of codes) counts[Number(c[p])]++;
    counts.forEach((n, d) => { pooled[d] += n; });
    const x = counts.reduce((a, n) => a + (n - N / 10) ** 2 / (N / 10), 0);
    assert.ok(x < CRIT, `position ${p}: χ²=${x.toFixed(1)}, counts ${counts.join(',')}`);
  }
  const px = pooled.reduce((a, n) => a + (n - (6 * N) / 10) ** 2 / ((6 * N) / 10), 0);
  assert.ok(px < CRIT, `pooled χ²=${px.toFixed(1)}, counts ${pooled.join(',')}`);
});

// ---------------------------------------------------------------- TK-08

const BAD_EMAILS = [
  'a@b.com\r\nBcc: c@d.com',
  'a@b.com\nBcc: c@d.com',
  'a@b.com%0d%0abcc:c@d',
  'a@b.com\u0000c@d.com',
  'alice\uFF20example.com',
  'alice\uFE6Bexample.com',
  'a@b@c.com',
  'Alice <alice@example.com>',
  'alice@example.com, c@d.com',
  'alice@example.com;c@d.com',
  '"a\r\nb"@example.com',
];

test('TK-08: addresses with CR/LF, NUL, homoglyph @, two @ or header syntax are refused on sign-up', async () => {
  const bad = [];
  for (const email of BAD_EMAILS) {
    const r = await post(srv, '/sign-up/email', { name: 'Inject', email, password: PASSWORD });
    if (r.status !== 400) bad.push(`${JSON.stringify(email)} → ${r.status} ${r.text.slice(0, 100)}`);
  }
  assert.deepEqual(bad, []);
});

test('TK-08: the same addresses are refused by the mail-sending endpoints and reach no mailbox', async () => {
  const u = await signUp(srv, { name: 'Change inject' });
  const mark = mb.mark();
  const bad = [];
  for (const email of BAD_EMAILS) {
    for (const [p, body, h] of [
      ['/request-password-reset', { email, redirectTo: '/reset' }, {}],
      ['/send-verification-email', { email }, {}],
      ['/email-otp/send-verification-otp', { email, type: 'sign-in' }, {}],
      ['/sign-in/magic-link', { email, callbackURL: '/dash' }, {}],
      ['/change-email', { newEmail: email }, cookieHeader(u.cookie)],
    ]) {
      const r = await post(srv, p, body, h);
      if (r.status !== 400) bad.push(`${p} ${JSON.stringify(email)} → ${r.status} ${r.text.slice(0, 100)}`);
    }
  }
  await sleep(1000);
  const delivered = mb.messages.filter((m) => m.index >= mark).map((m) => `${m.to}: ${m.subject}`);
  assert.deepEqual({ bad, delivered }, { bad: [], delivered: [] });
});

test('TK-08: addresses are stored lower-cased and unique case-insensitively; a full-width look-alike is no second account', async () => {
  const local = `tk08-${process.pid}-${Date.now().toString(36)}`;
  const lower = `${local}@example.com`;
  const up = await post(srv, '/sign-up/email', { name: 'Lower', email: lower, password: PASSWORD });
  assert.equal(up.status, 200, up.text);
  const mixed = await post(srv, '/sign-up/email', { name: 'Mixed', email: `${local.toUpperCase()}@Example.COM`, password: PASSWORD });
  assert.equal(mixed.status, 422, `case variant: ${mixed.status} ${mixed.text}`);
  const { rows } = await srv.db.query('SELECT email FROM neon_auth."user" WHERE lower(email) = $1', [lower]);
  assert.deepEqual(rows.map((r) => r.email), [lower]);
  const mixedCase = `Tk08Mixed-${process.pid}-${Date.now().toString(36)}@Example.COM`;
  const mc = await post(srv, '/sign-up/email', { name: 'MC', email: mixedCase, password: PASSWORD });
  assert.equal(mc.status, 200, mc.text);
  assert.equal(mc.json.user.email, mixedCase.toLowerCase());
  const stored = await srv.db.query('SELECT email FROM neon_auth."user" WHERE id = $1', [mc.json.user.id]);
  assert.equal(stored.rows[0].email, mixedCase.toLowerCase());
  // full-width letters / dot that NFKC-normalise to the existing address
  for (const lookalike of [`${local}@example\uFF0Ecom`, `\uFF54${local.slice(1)}@example.com`]) {
    assert.equal(lookalike.normalize('NFKC'), lower);
    const r = await post(srv, '/sign-up/email', { name: 'Lookalike', email: lookalike, password: PASSWORD });
    assert.ok(r.status === 400 || r.status === 422, `${JSON.stringify(lookalike)}: ${r.status} ${r.text.slice(0, 120)}`);
  }
});

test('TK-04: no mailed token or code and no new password appears in the server logs', () => {
  const secrets = mailedSecrets(mb.messages);
  assert.ok(secrets.length > 10);
  for (const s of [srv, rot, short]) assertLogClean(s.stderr(), [...secrets, ...PASSWORDS], `log of ${s.baseUrl}`);
});
