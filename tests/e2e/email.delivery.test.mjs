// SMTP delivery (issue 4) against real smtp-server sinks: STARTTLS (required) with AUTH PLAIN, implicit TLS
// (smtps://) with AUTH LOGIN, a relay that refuses the first attempt with 451 (the outbox retries after ~1 s),
// and a relay whose certificate is not trusted (nothing is sent). The self-signed certificate is generated
// at test time with the openssl CLI and trusted through PGWARDEN_SMTP_CA_FILE. Logs must never show the
// SMTP password, a reset token or an OTP code.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, post, uniqueEmail, PASSWORD, showServerOutputOnFailure } from './harness.mjs';
import * as mailbox from './mailbox.mjs';
import { mailEnv, browser, linkIn, codeIn, assertLogClean, mailedSecrets, FROM_ADDRESS, stopAll } from './email.common.mjs';

const SMTP_USER = 'mailer@acme.test';
const SMTP_PASS = 'S3cr3t:p@ss/w0rd%x';  // needs percent-encoding in the URL
let tls;
const sinks = {};
const servers = {};

before(async () => {
  tls = mailbox.makeTlsFiles();
  [sinks.starttls, sinks.smtps, sinks.retry, sinks.untrusted] = await Promise.all([
    mailbox.start({ starttls: true, auth: { user: SMTP_USER, pass: SMTP_PASS }, authMethods: ['PLAIN'], tls }),
    mailbox.start({ secure: true, auth: { user: SMTP_USER, pass: SMTP_PASS }, authMethods: ['LOGIN'], tls }),
    mailbox.start({ rejectFirst: true }),
    mailbox.start({ starttls: true, tls }),
  ]);
  const cred = `${encodeURIComponent(SMTP_USER)}:${encodeURIComponent(SMTP_PASS)}`;
  [servers.starttls, servers.smtps, servers.retry, servers.untrusted] = await Promise.all([
    startServer({ env: mailEnv(sinks.starttls, {
      PGWARDEN_SMTP_URL: `smtp://${cred}@127.0.0.1:${sinks.starttls.port}?starttls=required`,
      PGWARDEN_SMTP_CA_FILE: tls.certFile,
    }) }),
    startServer({ env: mailEnv(sinks.smtps, {
      PGWARDEN_SMTP_URL: `smtps://${cred}@127.0.0.1:${sinks.smtps.port}`,
      PGWARDEN_SMTP_CA_FILE: tls.certFile,
    }) }),
    startServer({ env: mailEnv(sinks.retry) }),
    startServer({ env: mailEnv(sinks.untrusted, {
      PGWARDEN_SMTP_URL: `smtp://127.0.0.1:${sinks.untrusted.port}?starttls=required`,
    }) }),
  ]);
});
after(async () => {
  try {
    await stopAll(Object.values(servers), Object.values(sinks));
  } finally {
    tls?.remove();
  }
});
showServerOutputOnFailure(() => Object.values(servers));

async function sdkSignUp(s, tag) {
  const b = browser(s);
  const email = uniqueEmail(tag);
  const res = await b.client.signUp.email({ email, password: PASSWORD, name: `User ${tag}` });
  assert.equal(res.error, null, `sign-up: ${JSON.stringify(res.error)}`);
  return { email, data: res.data, ...b };
}

test('STARTTLS (required) + AUTH PLAIN: the reset mail arrives over TLS, authenticated with the configured credentials', async () => {
  const srv = servers.starttls;
  const mb = sinks.starttls;
  const u = await sdkSignUp(srv, 'starttls');
  const res = await browser(srv).client.requestPasswordReset({ email: u.email, redirectTo: '/reset' });
  assert.equal(res.error, null, JSON.stringify(res.error));
  const m = await mb.next(u.email);
  assert.equal(m.secure, true, 'delivered inside TLS');
  assert.equal(m.user, SMTP_USER);
  assert.equal(m.from, FROM_ADDRESS);
  linkIn(m, `${srv.authUrl}/reset-password/`);
  assert.ok(mb.auths.length >= 1);
  for (const a of mb.auths) {
    assert.equal(a.method, 'PLAIN');
    assert.equal(a.secure, true, 'AUTH only after STARTTLS');
    assert.equal(a.username, SMTP_USER);
    assert.equal(a.password, SMTP_PASS, 'the URL password is percent-decoded');
    assert.equal(a.ok, true);
  }
});

test('smtps:// (implicit TLS) + AUTH LOGIN: the OTP mail arrives over TLS', async () => {
  const srv = servers.smtps;
  const mb = sinks.smtps;
  const email = uniqueEmail('smtps');
  const res = await browser(srv).client.emailOtp.sendVerificationOtp({ email, type: 'sign-in' });
  assert.equal(res.error, null, JSON.stringify(res.error));
  const m = await mb.next(email);
  assert.equal(m.secure, true);
  assert.equal(m.user, SMTP_USER);
  assert.match(codeIn(m), /^\d{6}$/);
  assert.ok(mb.auths.length >= 1);
  for (const a of mb.auths) {
    assert.equal(a.method, 'LOGIN');
    assert.equal(a.password, SMTP_PASS);
    assert.equal(a.ok, true);
  }
});

test('a 451 on the first attempt is retried: the mail still arrives within ~5 s with the same Message-ID', async () => {
  const srv = servers.retry;
  const mb = sinks.retry;
  const email = uniqueEmail('retry');
  const t0 = Date.now();
  const res = await browser(srv).client.signIn.magicLink({ email, callbackURL: '/dash' });
  assert.equal(res.error, null, JSON.stringify(res.error));
  const answered = Date.now() - t0;
  const m = await mb.next(email, { timeoutMs: 6000 });
  const arrived = Date.now() - t0;
  assert.ok(answered < 900, `the HTTP answer does not wait for SMTP (took ${answered} ms)`);
  assert.ok(arrived < 5500, `arrived after ${arrived} ms`);
  linkIn(m, `${srv.authUrl}/magic-link/verify?`);
  const tries = mb.attempts.filter((a) => a.to === email);
  assert.equal(tries.length, 2, JSON.stringify(tries));
  assert.equal(tries[0].accepted, false);
  assert.equal(tries[1].accepted, true);
  assert.ok(tries[1].at - tries[0].at >= 800, `retry waited ${tries[1].at - tries[0].at} ms (first backoff 1 s)`);
  assert.ok(tries[0].messageId && tries[0].messageId === tries[1].messageId, 'the retry carries the same Message-ID');
  assert.equal(mb.messages.filter((x) => x.to === email).length, 1, 'delivered once');
});

test('addresses with CR/LF, a second @ or a full-width ＠ are refused and reach no relay (TK-08)', async () => {
  const srv = servers.retry;
  const mb = sinks.retry;
  const bad = [
    'victim@example.com\r\nBcc: injected@evil.test',
    'victim@example.com\nRCPT TO:<injected@evil.test>',
    'victim@example.com%0d%0abcc:injected@evil.test',
    'victim@example.com\u0000injected@evil.test',
    'victim＠evil.test',
    'victim@example.com@evil.test',
  ];
  const strictEndpoints = [
    ['/sign-in/magic-link', (email) => ({ email, callbackURL: '/dash' })],
    ['/email-otp/send-verification-otp', (email) => ({ email, type: 'sign-in' })],
    ['/request-password-reset', (email) => ({ email, redirectTo: '/reset' })],
    ['/send-verification-email', (email) => ({ email })],
    ['/sign-up/email', (email) => ({ email, password: PASSWORD, name: 'Injected' })],
  ];
  const lenientEndpoints = [  // Better Auth validates these only as strings: 200 without mail is fine too
    ['/forget-password/email-otp', (email) => ({ email })],
    ['/email-otp/request-password-reset', (email) => ({ email })],
  ];
  for (const email of bad) {
    for (const [path, body] of strictEndpoints) {
      const r = await post(srv, path, body(email));
      assert.equal(r.status, 400, `${path} ${JSON.stringify(email)}: ${r.status} ${r.text}`);
    }
    for (const [path, body] of lenientEndpoints) {
      const r = await post(srv, path, body(email));
      assert.ok(r.status === 400 || r.status === 200, `${path} ${JSON.stringify(email)}: ${r.status} ${r.text}`);
    }
  }
  const canary = uniqueEmail('canary');  // one good mail after all the bad ones: the queue has been worked through
  assert.equal((await post(srv, '/sign-in/magic-link', { email: canary, callbackURL: '/dash' })).status, 200);
  await mb.next(canary, { timeoutMs: 6000 });
  const leaked = mb.attempts.filter((a) => !a.to.endsWith('@example.com') || a.to.startsWith('victim'));
  assert.deepEqual(leaked, [], 'no message for an injected or malformed address reached the relay');
});

test('a relay whose certificate is not trusted gets nothing (TLS peers are always verified)', async () => {
  const srv = servers.untrusted;
  const mb = sinks.untrusted;
  const email = uniqueEmail('untrusted');
  const res = await browser(srv).client.emailOtp.sendVerificationOtp({ email, type: 'sign-in' });
  assert.equal(res.error, null, 'the HTTP answer does not depend on delivery');
  await new Promise((r) => setTimeout(r, 2000));
  assert.equal(mb.attempts.length, 0, 'no DATA reached the untrusted relay');
  assert.equal(mb.messages.length, 0);
});

test('SIGTERM while an undeliverable mail is being retried: exit 0 once the 10 s drain is over (decisions D30)', async () => {
  const srv = servers.untrusted;
  const exited = new Promise((resolve) => srv.proc.once('exit', (code, signal) => resolve({ code, signal })));
  const t0 = Date.now();
  srv.proc.kill('SIGTERM');
  let timer;
  const res = await Promise.race([exited, new Promise((r) => { timer = setTimeout(() => r('timeout'), 11_500); })]);
  clearTimeout(timer);
  assert.notEqual(res, 'timeout', 'still running 11.5 s after SIGTERM');
  assert.deepEqual(res, { code: 0, signal: null }, `exit after ${Date.now() - t0} ms`);
  assert.equal(sinks.untrusted.attempts.length, 0, 'nothing was sent to the untrusted relay while draining');
  await srv.stop();  // already exited: drops the database
});

test('no server log contains the SMTP password, a reset token or an OTP code', () => {
  const secrets = [SMTP_PASS, encodeURIComponent(SMTP_PASS)];
  for (const mb of Object.values(sinks)) secrets.push(...mailedSecrets(mb.messages));
  assert.ok(secrets.length >= 5);
  for (const [name, srv] of Object.entries(servers)) assertLogClean(srv.stderr(), secrets, `${name} server log`);
});
