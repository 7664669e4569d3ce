// A real SMTP sink for the e-mail tests: `smtp-server` on 127.0.0.1 (random port), every accepted message
// parsed with `mailparser` (an independent MIME decoder: multipart/alternative, quoted-printable, RFC 2047).
//
//   start({secure, starttls, auth, rejectFirst, tls}) -> {port, url, messages, attempts, auths, waitFor, next,
//                                                         none, mark, stop}
//     secure       implicit TLS from the first byte (smtps://); needs `tls` ({key, cert} PEM)
//     starttls     offer STARTTLS (needs `tls`); without it STARTTLS is not offered at all (a plain sink)
//     auth         {user, pass}: AUTH PLAIN/LOGIN required, only over TLS (smtp-server refuses AUTH in clear);
//                  wrong credentials get 535
//     rejectFirst  the first message's DATA is answered 451 (transient) and not stored
//     authMethods  SASL mechanisms offered (default PLAIN and LOGIN)
//   attempts: every DATA seen, accepted or not: [{to, secure, user, messageId, at, accepted}]
//   auths: every AUTH: [{method, username, password, secure, ok}]
//   messages: [{index, to (envelope rcpt, lower-case), from (envelope), secure, user, raw, subject, text, html,
//               headers (Map), fromHeader ({address, name}), toHeader, links, codes}]
//   waitFor(predicate, timeoutMs=5000) -> the first message (in arrival order) matching, polling; throws on timeout
//   next(to, {after, timeoutMs, match}) -> the first message to `to` with index >= after (and match(m) if given)
//   none(predicate, graceMs) -> asserts no message matches after waiting graceMs
//   mark() -> the number of messages so far (pass as `after` to next())
//
// makeTlsFiles() -> {dir, keyFile, certFile, key, cert}: a throwaway self-signed certificate for 127.0.0.1 and
// localhost, generated with the openssl CLI.
import { SMTPServer } from 'smtp-server';
import { simpleParser } from 'mailparser';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function makeTlsFiles() {
  const dir = mkdtempSync(path.join(tmpdir(), 'pgw-smtp-tls-'));
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  return {
    dir,
    keyFile,
    certFile,
    key: readFileSync(keyFile),
    cert: readFileSync(certFile),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** URLs in a text (trailing punctuation that cannot end a link is dropped). */
export function linksIn(text) {
  return (text.match(/https?:\/\/[^\s<>"')]+/g) || []).map((u) => u.replace(/[.,;:!?]+$/, ''));
}

/** Lines of the text that are exactly a 6-digit code. */
export function codesIn(text) {
  return (text.match(/^[ \t]*\d{6}[ \t]*$/gm) || []).map((l) => l.trim());
}

export async function start({ secure = false, starttls = false, auth = null, rejectFirst = false, tls, authMethods = ['PLAIN', 'LOGIN'] } = {}) {
  if ((secure || starttls) && !tls) throw new Error('mailbox: TLS needs tls {key, cert}');
  const messages = [];
  const attempts = [];   // every DATA seen (accepted or rejected): {to, secure, user, accepted}
  const auths = [];      // every AUTH attempt: {method, username, password, secure, ok}
  const errors = [];
  let rejectNext = rejectFirst;

  const disabled = [];
  if (!secure && !starttls) disabled.push('STARTTLS');
  if (!auth) disabled.push('AUTH');

  const server = new SMTPServer({
    secure,
    ...(tls ? { key: tls.key, cert: tls.cert } : {}),
    hideSTARTTLS: !secure && !starttls,
    disabledCommands: disabled,
    authOptional: !auth,
    authMethods,
    allowInsecureAuth: false,
    disableReverseLookup: true,
    logger: false,
    size: 10 * 1024 * 1024,
    onAuth(a, session, cb) {
      const ok = !!auth && a.username === auth.user && a.password === auth.pass;
      auths.push({ method: a.method, username: a.username, password: a.password, secure: !!session.secure, ok });
      if (!ok) {
        const err = new Error('Invalid username or password');
        err.responseCode = 535;
        return cb(err);
      }
      return cb(null, { user: a.username });
    },
    onData(stream, session, cb) {
      const chunks = [];
      stream.on('data', (c) => chunks.push(c));
      stream.on('error', (e) => { errors.push(e); cb(e); });
      stream.on('end', async () => {
        const raw = Buffer.concat(chunks);
        const rcpts = session.envelope.rcptTo.map((r) => r.address.toLowerCase());
        const mid = raw.toString('utf8').match(/^Message-ID:[ \t]*(<[^>\r\n]*>)/im);
        const record = { to: rcpts[0], secure: !!session.secure, user: session.user ?? null, messageId: mid ? mid[1] : null, at: Date.now() };
        if (rejectNext) {
          rejectNext = false;
          attempts.push({ ...record, accepted: false });
          const err = new Error('Temporary local problem, try again later');
          err.responseCode = 451;
          return cb(err);
        }
        attempts.push({ ...record, accepted: true });
        try {
          const parsed = await simpleParser(raw, { skipHtmlToText: true, skipTextToHtml: true, skipTextLinks: true });
          const text = parsed.text ?? '';
          for (const to of rcpts) {
            messages.push({
              index: messages.length,
              to,
              rcpts,
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : null,
              secure: !!session.secure,
              user: session.user ?? null,
              raw: raw.toString('utf8'),
              subject: parsed.subject ?? '',
              text,
              html: typeof parsed.html === 'string' ? parsed.html : '',
              headers: parsed.headers,
              contentType: parsed.headers.get('content-type'),
              fromHeader: parsed.from?.value?.[0] ?? null,
              toHeader: parsed.to?.value?.[0] ?? null,
              messageId: parsed.messageId,
              links: linksIn(text),
              codes: codesIn(text),
            });
          }
          cb();
        } catch (e) {
          errors.push(e);
          cb(e);
        }
      });
    },
  });
  server.on('error', (e) => errors.push(e));
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  const { port } = server.server.address();

  async function waitFor(predicate, timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = messages.find(predicate);
      if (hit) return hit;
      if (Date.now() > deadline) {
        const seen = messages.map((m) => `  #${m.index} to=${m.to} subject=${JSON.stringify(m.subject)}`).join('\n');
        throw new Error(`mailbox: no matching message within ${timeoutMs} ms; ${messages.length} received:\n${seen}`);
      }
      await sleep(25);
    }
  }

  return {
    port,
    messages,
    attempts,
    auths,
    errors,
    mark: () => messages.length,
    waitFor,
    next(to, { after = 0, timeoutMs = 5000, match } = {}) {
      const addr = to.toLowerCase();
      return waitFor((m) => m.index >= after && m.to === addr && (!match || match(m)), timeoutMs);
    },
    async none(predicate, graceMs = 400) {
      await sleep(graceMs);
      const hits = messages.filter(predicate);
      assert.equal(hits.length, 0, `unexpected mail: ${hits.map((m) => `#${m.index} to=${m.to} ${JSON.stringify(m.subject)}`).join(', ')}`);
    },
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
