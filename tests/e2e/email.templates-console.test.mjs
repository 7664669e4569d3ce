// Where mail goes besides SMTP, and what it looks like (issue 4):
//  - PGWARDEN_MAIL_CONSOLE=true (what `pgwarden dev` sets without SMTP) prints each message on stdout, and the
//    printed link works;
//  - no transport at all: the flow answers as usual, the message is dropped with a warning that names only the
//    template (no link, no token in the log);
//  - PGWARDEN_EMAIL_TEMPLATES overrides parts of a template (subject, HTML) and keeps the built-in others;
//  - a template folder with a mistake stops start-up with the file named.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  startServer, spawnServer, createDatabase, newSecret, post, uniqueEmail, PASSWORD, APP_ORIGIN,
  showServerOutputOnFailure,
} from './harness.mjs';
import * as mailbox from './mailbox.mjs';
import { mailEnv, navigate, linkIn, stopAll, APP_NAME } from './email.common.mjs';

let mb;
let consoleSrv;
let silentSrv;
let templSrv;
let dir;

before(async () => {
  mb = await mailbox.start();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwarden-templates-'));
  fs.writeFileSync(path.join(dir, 'reset-password.subject'), 'Reset for {{ email }} at {{app_name}}\n');
  fs.writeFileSync(path.join(dir, 'reset-password.html'),
    '<!doctype html><p class="custom-reset">Go: <a href="{{url}}">reset</a> ({{expires_minutes}} min)</p>');
  fs.writeFileSync(path.join(dir, 'README.md'), 'operator notes: not a template');
  [consoleSrv, silentSrv, templSrv] = await Promise.all([
    startServer({ env: { PGWARDEN_MAIL_CONSOLE: 'true' } }),
    startServer({ env: {} }),
    startServer({ env: mailEnv(mb, { PGWARDEN_EMAIL_TEMPLATES: dir }) }),
  ]);
});
after(async () => {
  await stopAll([consoleSrv, silentSrv, templSrv], [mb]);
  fs.rmSync(dir, { recursive: true, force: true });
});
showServerOutputOnFailure(() => [consoleSrv, silentSrv, templSrv]);

const origin = { Origin: APP_ORIGIN };

test('console transport: the magic link is printed on stdout and signs the user in', async () => {
  const email = uniqueEmail('console');
  const r = await post(consoleSrv, '/sign-in/magic-link', { email, callbackURL: '/dash' }, origin);
  assert.equal(r.status, 200, r.text);
  const prefix = `${consoleSrv.authUrl}/magic-link/verify?`;
  let link;
  for (let i = 0; i < 100 && !link; i++) {
    link = consoleSrv.stderr().split(/\s+/).find((w) => w.startsWith(prefix));
    if (!link) await new Promise((res) => setTimeout(res, 20));
  }
  assert.ok(link, `no printed magic link in the output:\n${consoleSrv.stderr().slice(-2000)}`);
  assert.match(consoleSrv.stderr(), new RegExp(`To:\\s+${email.replace(/[.+]/g, '\\$&')}`));
  const nav = await navigate(link);
  assert.equal(nav.status, 302, nav.text);
  assert.ok(nav.session, 'the printed link signs in');
});

test('no transport: the flow answers as usual and the log names the template, never the link or token', async () => {
  const email = uniqueEmail('silent');
  const up = await post(silentSrv, '/sign-up/email', { name: 'Silent', email, password: PASSWORD }, origin);
  assert.equal(up.status, 200, up.text);
  const r = await post(silentSrv, '/request-password-reset', { email, redirectTo: '/reset' }, origin);
  assert.equal(r.status, 200, r.text);
  let log = '';
  for (let i = 0; i < 100 && !/mail\.not_configured/.test(log); i++) {
    await new Promise((res) => setTimeout(res, 20));
    log = silentSrv.stderr();
  }
  assert.match(log, /"event":"mail\.not_configured","template":"reset-password"/);
  const { rows } = await silentSrv.db.query(`SELECT count(*)::int AS n FROM neon_auth.verification`);
  assert.ok(rows[0].n >= 1, 'the reset token was still issued');
  assert.doesNotMatch(log, /reset-password\/[A-Za-z0-9]{24}/, 'no reset link in the log');
  assert.match(log, /"event":"mail\.transport","kind":"none"/, 'start-up warns that no mail will be sent');
});

test('PGWARDEN_EMAIL_TEMPLATES: the subject and HTML overrides are used, the built-in text part is kept', async () => {
  const email = uniqueEmail('templ');
  const up = await post(templSrv, '/sign-up/email', { name: 'Templ', email, password: PASSWORD }, origin);
  assert.equal(up.status, 200, up.text);
  const mark = mb.mark();
  const r = await post(templSrv, '/request-password-reset', { email, redirectTo: '/reset' }, origin);
  assert.equal(r.status, 200, r.text);
  const m = await mb.next(email, { after: mark });
  assert.equal(m.subject, `Reset for ${email} at ${APP_NAME}`);
  assert.match(m.html, /class="custom-reset"/);
  assert.match(m.html, /\(60 min\)/);
  const link = linkIn(m, `${templSrv.authUrl}/reset-password/`);
  assert.ok(m.html.includes(`href="${link.href.replace(/&/g, '&amp;')}"`), `the HTML carries the link:\n${m.html}`);
  assert.doesNotMatch(m.text, /custom-reset/, 'the text part is the built-in one');
});

test('a template folder with a mistake stops start-up and names the file', async () => {
  const bad = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwarden-bad-templates-'));
  fs.writeFileSync(path.join(bad, 'magic-link.txt'), 'Sign in: {{ulr}}\n');
  const database = await createDatabase();
  try {
    await assert.rejects(
      spawnServer({ databaseUrl: database.databaseUrl, secret: newSecret(), env: { PGWARDEN_EMAIL_TEMPLATES: bad } }),
      (e) => /magic-link\.txt/.test(e.message) && /\{\{ulr\}\}/.test(e.message),
    );
  } finally {
    await database.drop();
    fs.rmSync(bad, { recursive: true, force: true });
  }
});
