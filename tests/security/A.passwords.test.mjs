// security.md §A Passwords: PW-01 (length policy, no hashing of over-long input), PW-02 (no composition rules,
// exact comparison, NFKC only), PW-03 (common-password list, opt-in: PGWARDEN_PASSWORD_DENYLIST), PW-06 (change-password).
// PW-04 / PW-05 (hash storage, re-hashing) live in their own file.
//
// Server: `srv` with an SMTP sink (reset links and codes for the reset-password length checks).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, raw, post, get, signUp, signIn, cookieValue, uniqueEmail, COOKIE,
  showServerOutputOnFailure,
} from '../e2e/harness.mjs';
import * as mailbox from '../e2e/mailbox.mjs';
import { mailEnv, linkIn, codeIn, stopAll } from '../e2e/email.common.mjs';

let mb;
let srv;

before(async () => {
  mb = await mailbox.start();
  srv = await startServer({ env: mailEnv(mb) });
});
after(() => stopAll([srv], [mb]));
showServerOutputOnFailure(() => srv);

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const cookieHeader = (c) => ({ Cookie: `${COOKIE}=${c}` });

async function userCount(email) {
  const { rows } = await srv.db.query('SELECT count(*)::int AS n FROM neon_auth."user" WHERE email = lower($1)', [email]);
  return rows[0].n;
}

function assertCode(r, status, code, what = '') {
  assert.equal(r.status, status, `${what}: expected ${status} ${code}, got ${r.status} ${r.text.slice(0, 200)}`);
  assert.equal(r.json?.code, code, `${what}: ${r.text.slice(0, 200)}`);
}

async function signInStatus(email, password) {
  return (await post(srv, '/sign-in/email', { email, password })).status;
}

/** A reset link token for `email` (requested now; older tokens of the user are voided by the server). */
async function resetToken(email) {
  const mark = mb.mark();
  const r = await post(srv, '/request-password-reset', { email, redirectTo: '/reset' });
  assert.equal(r.status, 200, r.text);
  const m = await mb.next(email, { after: mark });
  const link = linkIn(m, `${srv.authUrl}/reset-password/`);
  return decodeURIComponent(link.pathname.split('/').pop());
}

// ---------------------------------------------------------------- PW-01

test('PW-01: sign-up: 7 chars → 400 PASSWORD_TOO_SHORT; 8, 64, 128 → 200; 129 → 400 PASSWORD_TOO_LONG', async () => {
  for (const [len, status, code] of [[7, 400, 'PASSWORD_TOO_SHORT'], [129, 400, 'PASSWORD_TOO_LONG']]) {
    const email = uniqueEmail(`pw01-${len}`);
    const r = await post(srv, '/sign-up/email', { name: 'L', email, password: 'p'.repeat(len) });
    assertCode(r, status, code, `${len} chars`);
    assert.deepEqual(r.setCookies, [], `${len} chars: no cookie`);
    assert.equal(await userCount(email), 0, `${len} chars: no user row`);
  }
  for (const len of [8, 64, 128]) {
    const email = uniqueEmail(`pw01-${len}`);
    const password = 'q'.repeat(len - 1) + 'Z';
    const r = await post(srv, '/sign-up/email', { name: 'L', email, password });
    assert.equal(r.status, 200, `${len} chars: ${r.text}`);
    assert.equal(await signInStatus(email, password), 200, `${len} chars: sign-in with the same password`);
  }
});

test('PW-01: a 1 MiB password is refused (400/413), and an over-long password is refused without being hashed', async () => {
  const email = uniqueEmail('pw01-huge');
  const huge = await post(srv, '/sign-up/email', { name: 'H', email, password: 'x'.repeat(1024 * 1024) });
  assert.ok(huge.status === 400 || huge.status === 413, `1 MiB password: ${huge.status} ${huge.text.slice(0, 120)}`);
  assert.equal(await userCount(email), 0);

  // Timing: ~1 MB passwords (below the body limit, so they reach the password check) against wrong-password
  // sign-ins, which always hash. A server that hashed before checking the length would take as long as the
  // sign-ins; the check must be far cheaper (security.md: "no hash computed").
  const victim = await signUp(srv, { name: 'Timing' });
  const long = 'y'.repeat(1_000_000);
  const tLong = [];
  const tHash = [];
  for (let i = 0; i < 5; i++) {
    let t = performance.now();
    const r = await post(srv, '/sign-up/email', { name: 'H', email: uniqueEmail('pw01-long'), password: long });
    tLong.push(performance.now() - t);
    assertCode(r, 400, 'PASSWORD_TOO_LONG', '1e6-char sign-up');
    t = performance.now();
    const w = await post(srv, '/sign-in/email', { email: victim.email, password: `wrong-${i}-password` });
    tHash.push(performance.now() - t);
    assert.equal(w.status, 401);
  }
  const mLong = median(tLong);
  const mHash = median(tHash);
  assert.ok(mLong < 0.5 * mHash,
    `an over-long password must be refused before hashing: median ${mLong.toFixed(1)} ms vs ${mHash.toFixed(1)} ms for a hashed sign-in`);
});

test('PW-01: change-password applies the same bounds (7 / 129 / 1e6 refused, 128 accepted)', async () => {
  const me = await signUp(srv, { name: 'Change bounds' });
  const h = cookieHeader(me.cookie);
  const cases = [[7, 'PASSWORD_TOO_SHORT'], [129, 'PASSWORD_TOO_LONG'], [1_000_000, 'PASSWORD_TOO_LONG']];
  for (const [len, code] of cases) {
    const r = await post(srv, '/change-password', { currentPassword: me.password, newPassword: 'n'.repeat(len) }, h);
    assertCode(r, 400, code, `newPassword of ${len} chars`);
  }
  assert.equal(await signInStatus(me.email, me.password), 200, 'the password is unchanged after the refusals');
  const max = `${'m'.repeat(127)}!`;
  const ok = await post(srv, '/change-password', { currentPassword: me.password, newPassword: max }, h);
  assert.equal(ok.status, 200, ok.text);
  assert.equal(await signInStatus(me.email, max), 200, '128-char password works');
});

test('PW-01: reset-password (mailed link and email OTP) applies the same bounds', async () => {
  const me = await signUp(srv, { name: 'Reset bounds' });
  let r = await post(srv, '/reset-password', { token: await resetToken(me.email), newPassword: '1234567' });
  assertCode(r, 400, 'PASSWORD_TOO_SHORT', 'reset link, 7 chars');
  r = await post(srv, '/reset-password', { token: await resetToken(me.email), newPassword: 'z'.repeat(129) });
  assertCode(r, 400, 'PASSWORD_TOO_LONG', 'reset link, 129 chars');
  assert.equal(await signInStatus(me.email, me.password), 200, 'the password is unchanged after the refusals');
  const max = 'r'.repeat(128);
  r = await post(srv, '/reset-password', { token: await resetToken(me.email), newPassword: max });
  assert.equal(r.status, 200, `reset link, 128 chars: ${r.text}`);
  assert.equal(await signInStatus(me.email, max), 200);

  const mark = mb.mark();
  const req = await post(srv, '/email-otp/request-password-reset', { email: me.email });
  assert.equal(req.status, 200, req.text);
  const otp = codeIn(await mb.next(me.email, { after: mark }));
  r = await post(srv, '/email-otp/reset-password', { email: me.email, otp, password: 'short' });
  assertCode(r, 400, 'PASSWORD_TOO_SHORT', 'OTP reset, 5 chars');
  r = await post(srv, '/email-otp/reset-password', { email: me.email, otp, password: 'o'.repeat(129) });
  assertCode(r, 400, 'PASSWORD_TOO_LONG', 'OTP reset, 129 chars');
  assert.equal(await signInStatus(me.email, max), 200, 'the password is unchanged after the refusals');
});

// ---------------------------------------------------------------- PW-02

test('PW-02: passphrases with spaces, Cyrillic and emoji sign up and sign in', async () => {
  for (const password of ['correct horse battery staple', 'пароль-очень-длинный', '🔐🔑🙂 ключ 密码 ✓✓']) {
    const email = uniqueEmail('pw02-unicode');
    const r = await post(srv, '/sign-up/email', { name: 'U', email, password });
    assert.equal(r.status, 200, `sign-up with ${JSON.stringify(password)}: ${r.text}`);
    assert.equal(await signInStatus(email, password), 200, `sign-in with ${JSON.stringify(password)}`);
  }
});

test('PW-02: a 100-char password is compared exactly: case, truncation to 72, an extra char or whitespace → 401', async () => {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  let P = '';
  for (let i = 0; i < 100; i++) P += alphabet[(i * 7 + 3) % alphabet.length];
  assert.equal(P.length, 100);
  const me = await signUp(srv, { name: 'Exact', password: P });
  assert.equal(await signInStatus(me.email, P), 200);
  const variants = {
    'P.upper()': P.toUpperCase(),
    'P.lower()': P.toLowerCase(),
    'P[:72]': P.slice(0, 72),
    'P[:99]': P.slice(0, 99),
    'P+"x"': `${P}x`,
    'P+" "': `${P} `,
    '" "+P': ` ${P}`,
  };
  for (const [what, pw] of Object.entries(variants)) {
    const r = await post(srv, '/sign-in/email', { email: me.email, password: pw });
    assertCode(r, 401, 'INVALID_EMAIL_OR_PASSWORD', what);
  }
});

test('PW-02: NFKC is the only transformation: "ﬁﬁﬁﬁﬁﬁﬁﬁ" and "fifififififififi" are one password, "FIFI…" is not', async () => {
  const lig = '\uFB01'.repeat(8);
  const me = await signUp(srv, { name: 'NFKC', password: lig });
  assert.equal(await signInStatus(me.email, 'fi'.repeat(8)), 200, 'the NFKC form signs in');
  assert.equal(await signInStatus(me.email, lig), 200, 'the ligature form signs in');
  assert.equal(await signInStatus(me.email, 'FI'.repeat(8)), 401, 'no case folding');
  // Composed and decomposed é are NFKC-equal.
  const composed = 'caf\u00e9-caf\u00e9-pass';
  const other = await signUp(srv, { name: 'NFKC2', password: composed });
  assert.equal(await signInStatus(other.email, composed.normalize('NFD')), 200, 'decomposed é signs in');
});

// ---------------------------------------------------------------- PW-03

test('PW-03: without a deny list (the default, as Better Auth) a strong password is accepted', async () => {
  const me = await signUp(srv, { name: 'Strong', password: 'v3ry-uncommon horse 2187 staple' });
  assert.equal(await signInStatus(me.email, 'v3ry-uncommon horse 2187 staple'), 200);
});

test('PW-03: with PGWARDEN_PASSWORD_DENYLIST=common, common passwords are refused on sign-up, change-password and reset (400 PASSWORD_COMPROMISED); a strong one passes', async () => {
  const weak = await startServer({ env: mailEnv(mb, { PGWARDEN_PASSWORD_DENYLIST: 'common' }) });
  try {
    for (const password of ['password123', '12345678', 'qwertyuiop', 'Password123!', 'QWERTYUIOP']) {
      const email = uniqueEmail('pw03');
      const r = await post(weak, '/sign-up/email', { name: 'W', email, password });
      assert.equal(r.status, 400, `sign-up with ${password}: ${r.status} ${r.text}`);
      assert.equal(r.json.code, 'PASSWORD_COMPROMISED');
      const { rows } = await weak.db.query('SELECT count(*)::int AS n FROM neon_auth."user" WHERE email = lower($1)', [email]);
      assert.equal(rows[0].n, 0);
    }
    const me = await signUp(weak, { name: 'Weak change', password: 'v3ry-uncommon horse 2187 staple' });
    const r = await post(weak, '/change-password', { currentPassword: me.password, newPassword: 'password123' }, cookieHeader(me.cookie));
    assert.equal(r.status, 400, `change-password to password123: ${r.status} ${r.text}`);
    assert.equal(r.json.code, 'PASSWORD_COMPROMISED');
    const mark = mb.mark();
    assert.equal((await post(weak, '/request-password-reset', { email: me.email, redirectTo: '/reset' })).status, 200);
    const link = linkIn(await mb.next(me.email, { after: mark }), weak.authUrl + '/reset-password/');
    const token = link.pathname.split('/').pop();
    const reset = await post(weak, '/reset-password', { token, newPassword: 'qwertyuiop' });
    assert.equal(reset.status, 400, reset.text);
    assert.equal(reset.json.code, 'PASSWORD_COMPROMISED');
    assert.equal((await post(weak, '/reset-password', { token, newPassword: 'an uncommon 9 word phrase' })).status, 200, 'the token survives a refused password');
  } finally {
    await weak.stop();
  }
});

// ---------------------------------------------------------------- PW-06

test('PW-06: change-password with a wrong currentPassword is refused; the old password and both sessions keep working', async () => {
  const me = await signUp(srv, { name: 'Wrong current' });
  const s2 = await signIn(srv, me.email);
  const r = await post(srv, '/change-password', { currentPassword: 'not-the-password-1', newPassword: 'new-password-value-1' }, cookieHeader(me.cookie));
  assert.ok(r.status === 400 || r.status === 401, `wrong currentPassword: ${r.status} ${r.text}`);
  assert.deepEqual(r.setCookies, []);
  assert.equal(await signInStatus(me.email, me.password), 200, 'old password still works');
  assert.equal(await signInStatus(me.email, 'new-password-value-1'), 401, 'new password not set');
  for (const c of [me.cookie, s2.cookie]) assert.ok((await get(srv, '/get-session', { cookie: c })).json?.session, 'sessions intact');
});

test('PW-06: without currentPassword, without a session, or with a revoked session change-password is refused', async () => {
  const me = await signUp(srv, { name: 'Needs auth' });
  const missing = await post(srv, '/change-password', { newPassword: 'new-password-value-2' }, cookieHeader(me.cookie));
  assert.equal(missing.status, 400, `no currentPassword: ${missing.status} ${missing.text}`);
  const none = await post(srv, '/change-password', { currentPassword: me.password, newPassword: 'new-password-value-2' });
  assert.equal(none.status, 401, `no session: ${none.status} ${none.text}`);
  // The session row is deleted behind the cookie's back: the cookie is still well-signed, the DB says no.
  const other = await signIn(srv, me.email);
  await srv.db.query('DELETE FROM neon_auth.session WHERE token = $1', [other.token]);
  const revoked = await post(srv, '/change-password', { currentPassword: me.password, newPassword: 'new-password-value-2' }, cookieHeader(other.cookie));
  assert.equal(revoked.status, 401, `revoked session: ${revoked.status} ${revoked.text}`);
  assert.equal(await signInStatus(me.email, me.password), 200, 'password unchanged');
});

test('PW-06: revokeOtherSessions: S2 is revoked, S1 is rotated (new cookie, new token) and valid', async () => {
  const me = await signUp(srv, { name: 'Rotate' });
  const s1 = me;
  const s2 = await signIn(srv, me.email);
  const NEW = 'rotated-password-value-1';
  const r = await post(srv, '/change-password', { currentPassword: me.password, newPassword: NEW, revokeOtherSessions: true }, cookieHeader(s1.cookie));
  assert.equal(r.status, 200, r.text);
  const rotated = cookieValue(r.setCookies);
  assert.ok(rotated, `a new session cookie: ${JSON.stringify(r.setCookies)}`);
  assert.notEqual(rotated, s1.cookie, 'S1 rotated');
  const s2State = await get(srv, '/get-session', { cookie: s2.cookie });
  assert.equal(s2State.text, 'null', 'S2 revoked');
  assert.equal((await raw(`${srv.authUrl}/token`, { headers: cookieHeader(s2.cookie) })).status, 401);
  const newState = await get(srv, '/get-session', { cookie: rotated });
  assert.equal(newState.json?.user?.id, me.user.id, 'the rotated S1 is valid');
  assert.equal((await get(srv, '/get-session', { cookie: s1.cookie })).text, 'null', 'the pre-rotation S1 token is gone');
  assert.equal(await signInStatus(me.email, NEW), 200);
  assert.equal(await signInStatus(me.email, me.password), 401);
});
