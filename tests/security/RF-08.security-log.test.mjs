// security.md RF-08: security events are logged (with user id and client address) and no secret ever is.
// One server (limits on, 127.0.0.1 a trusted proxy so each step names its client in X-Forwarded-For, a
// back-off after 3 failures) walks sign-up, sign-in, failures, throttling, password change, reset, a replayed
// reset token, a forged verification token and a wrong OTP; then its log is read.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, post, signUp, uniqueEmail, cookieValue, COOKIE, showServerOutputOnFailure } from '../e2e/harness.mjs';
import * as mailbox from '../e2e/mailbox.mjs';
import { mailEnv, linkIn, codeIn, assertLogClean, stopAll } from '../e2e/email.common.mjs';

let mb;
let srv;
before(async () => {
  mb = await mailbox.start();
  srv = await startServer({
    env: mailEnv(mb, { PGWARDEN_RATE_LIMIT: 'on', PGWARDEN_TRUSTED_PROXIES: '127.0.0.1', PGWARDEN_SIGN_IN_FAILURES: '3' }),
  });
});
after(() => stopAll([srv], [mb]));
showServerOutputOnFailure(() => srv);

let n = 0;
const client = () => `192.0.2.${++n}`;
const from = (ip) => ({ 'X-Forwarded-For': ip });

/** True once some logged `name` event satisfies `pred` (the server's stderr arrives asynchronously). */
async function logged(name, pred = () => true) {
  for (let i = 0; i < 40; i++) {
    if (events(name).some(pred)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/** The JSON log lines of one event. */
function events(name) {
  return srv.stderr().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).filter((e) => e.event === name);
}

test('RF-08: sign-in success, failure, throttling, password change, reset and token misuse are logged with user id and IP; no password, token, cookie or code appears', async () => {
  const secrets = [];
  const password = 'first secret passphrase 1';
  const me = await signUp(srv, { password });
  secrets.push(password, me.token, me.cookie);

  const okIp = client();
  const ok = await post(srv, '/sign-in/email', { email: me.email, password }, from(okIp));
  assert.equal(ok.status, 200, ok.text);
  secrets.push(ok.json.token, cookieValue(ok.setCookies, COOKIE));
  assert.ok(await logged('auth.sign_in', (e) => e.user_id === me.user.id && e.ip === okIp), 'auth.sign_in with user_id and ip');

  const badIp = client();
  const wrong = ['wrong guess number 1', 'wrong guess number 2', 'wrong guess number 3'];
  secrets.push(...wrong);
  for (const w of wrong) assert.equal((await post(srv, '/sign-in/email', { email: me.email, password: w }, from(client()))).status, 401);
  assert.equal((await post(srv, '/sign-in/email', { email: me.email, password: 'wrong guess number 4' }, from(badIp))).status, 429);
  secrets.push('wrong guess number 4');
  for (let i = 0; i < 40 && events('auth.sign_in_failed').filter((e) => e.user_id === me.user.id).length < 3; i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const failed = events('auth.sign_in_failed').filter((e) => e.user_id === me.user.id);
  assert.equal(failed.length, 3, 'one auth.sign_in_failed per wrong password');
  assert.ok(failed.every((e) => /^192\.0\.2\.\d+$/.test(e.ip)), 'with the client address');
  assert.ok(await logged('auth.sign_in_throttled', (e) => e.ip === badIp), 'the back-off is logged');

  // Password change (the session cookie of the sign-up is still fresh).
  const changed = 'second secret passphrase 2';
  secrets.push(changed);
  const ch = await post(srv, '/change-password', { currentPassword: password, newPassword: changed }, { Cookie: `${COOKIE}=${me.cookie}` });
  assert.equal(ch.status, 200, ch.text);
  assert.ok(await logged('auth.password_changed', (e) => e.user_id === me.user.id));

  // Reset, then the same token again (misuse).
  const mark = mb.mark();
  assert.equal((await post(srv, '/request-password-reset', { email: me.email, redirectTo: '/reset' }, from(client()))).status, 200);
  const link = linkIn(await mb.next(me.email, { after: mark }), `${srv.authUrl}/reset-password/`);
  const token = link.pathname.split('/').pop();
  const third = 'third secret passphrase 3';
  secrets.push(token, third);
  assert.equal((await post(srv, '/reset-password', { token, newPassword: third })).status, 200);
  const replayIp = client();
  assert.equal((await post(srv, '/reset-password', { token, newPassword: 'fourth secret passphrase' }, from(replayIp))).status, 400);
  secrets.push('fourth secret passphrase');
  assert.ok(await logged('auth.password_reset', (e) => e.user_id === me.user.id));
  assert.ok(await logged('auth.token_rejected', (e) => e.kind === 'reset-password' && e.ip === replayIp), 'replayed reset token');

  // A forged verification token.
  const forged = 'eyJhbGciOiJIUzI1NiJ9.eyJlbWFpbCI6InhAeS56In0.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
  secrets.push(forged);
  const fIp = client();
  const res = await fetch(`${srv.authUrl}/verify-email?token=${forged}`, { headers: from(fIp), redirect: 'manual' });
  assert.equal(res.status, 401, `${res.status} ${await res.text()}`);
  assert.ok(await logged('auth.token_rejected', (e) => e.kind === 'verify-email' && e.ip === fIp), 'forged verification token');

  // A wrong OTP (the code itself must not be logged).
  const otpEmail = uniqueEmail('rf08');
  const m2 = mb.mark();
  assert.equal((await post(srv, '/email-otp/send-verification-otp', { email: otpEmail, type: 'sign-in' }, from(client()))).status, 200);
  const code = codeIn(await mb.next(otpEmail, { after: m2 }));
  secrets.push(code);
  const wrongCode = code === '000000' ? '111111' : '000000';
  assert.equal((await post(srv, '/sign-in/email-otp', { email: otpEmail, otp: wrongCode }, from(client()))).status, 400);
  assert.ok(await logged('auth.sign_in_otp_failed'));

  assertLogClean(srv.stderr(), secrets);
});
