// An SMTP sink for the differential test: the mails pgwarden sends, in the shape of the Better Auth oracle's
// outbox (auth.mjs sendMail: {kind, at, email, url?, token?, otp?, type?, newEmail?}), served over HTTP so that
// the oracle's recorder can read them like it reads GET /__oracle/outbox?email=.
//
//   const sink = await startMailSink();   // SMTP and HTTP on 127.0.0.1, random ports
//   sink.smtpUrl                          // PGWARDEN_SMTP_URL for pgwarden (no TLS, no AUTH)
//   sink.outboxUrl                        // GET <outboxUrl>?email=<address>[&kind=<kind>] -> JSON array
//   sink.mails                            // every entry so far (arrival order), plus `subject` and `text`
//   await sink.stop()
//
// Classification by the text part (pgwarden's built-in templates put the link or the code on a line of its own):
//   /verify-email?token=<JWT>  -> "verify-email", or "change-email-confirmation" when the JWT's requestType says so
//                                 (newEmail = the JWT's updateTo)
//   /reset-password/<token>    -> "reset-password"          /magic-link/verify?token=  -> "magic-link"
//   /delete-user/callback?token= -> "delete-account"         a line of exactly 6 digits  -> "otp" (+ type)
//   "… password … was changed" -> "password-changed"         anything else               -> "other"
// The recorder only ever asks for the oracle's kinds, so "password-changed", "delete-account" and "other" are
// ignored by it.
//
// pgwarden mails asynchronously (some flows answer before they even look the address up, D28), so a request to
// the outbox waits: at least `settleMs` after it arrived, then until no mail has arrived and no SMTP transaction
// has been open for `quietMs`; when `kind` is given and no such mail is there yet, until one arrives. All of it is
// bounded by `maxWaitMs`.
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';
import { Buffer } from 'node:buffer';
import { ROOT } from './oracle.mjs';

const e2eRequire = createRequire(path.join(ROOT, 'tests', 'e2e', 'package.json'));
const { SMTPServer } = e2eRequire('smtp-server');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- minimal MIME reading
/** Splits a message (or a part) into lower-cased unfolded headers and the body. */
function splitMessage(raw) {
  const s = raw.replace(/\r\n/g, '\n');
  const i = s.indexOf('\n\n');
  const head = i < 0 ? s : s.slice(0, i);
  const body = i < 0 ? '' : s.slice(i + 2);
  const headers = {};
  for (const line of head.replace(/\n[ \t]+/g, ' ').split('\n')) {
    const c = line.indexOf(':');
    if (c > 0) headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
  }
  return { headers, body };
}

function decodeQuotedPrintable(s) {
  const soft = s.replace(/=\n/g, '');
  const bytes = [];
  for (let i = 0; i < soft.length; i++) {
    const m = soft[i] === '=' ? /^[0-9A-Fa-f]{2}$/.exec(soft.slice(i + 1, i + 3)) : null;
    if (m) { bytes.push(parseInt(m[0], 16)); i += 2; } else bytes.push(...Buffer.from(soft[i], 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

function decodeBody(headers, body) {
  const cte = (headers['content-transfer-encoding'] || '7bit').toLowerCase();
  if (cte === 'quoted-printable') return decodeQuotedPrintable(body);
  if (cte === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  return body;
}

/** The decoded text/plain part of a message (single part or multipart/*). */
export function textPart(raw) {
  const walk = ({ headers, body }) => {
    const ct = headers['content-type'] || 'text/plain';
    if (/^multipart\//i.test(ct)) {
      const b = /boundary="?([^";]+)"?/i.exec(ct)?.[1];
      if (!b) return null;
      const parts = body.split(`--${b}`).slice(1);
      for (const p of parts) {
        if (p.startsWith('--')) break;
        const t = walk(splitMessage(p.replace(/^\n/, '')));
        if (t !== null) return t;
      }
      return null;
    }
    return /^text\/plain/i.test(ct) ? decodeBody(headers, body) : null;
  };
  return walk(splitMessage(raw)) ?? '';
}

const jwtPayload = (t) => { try { return JSON.parse(Buffer.from(t.split('.')[1], 'base64url').toString('utf8')); } catch { return null; } };

/** The oracle-outbox entry for one received mail. */
export function classify(to, text, subject = '') {
  const links = (text.match(/https?:\/\/[^\s<>"')]+/g) || []).map((u) => u.replace(/[.,;:!?]+$/, ''));
  const entry = { kind: 'other', at: new Date().toISOString(), email: to };
  for (const l of links) {
    let u;
    try { u = new URL(l); } catch { continue; }
    if (/\/verify-email$/.test(u.pathname) && u.searchParams.get('token')) {
      const token = u.searchParams.get('token');
      const p = jwtPayload(token) || {};
      const change = p.requestType === 'change-email-confirmation';
      return { ...entry, kind: change ? 'change-email-confirmation' : 'verify-email', ...(change ? { newEmail: p.updateTo } : {}), url: l, token };
    }
    const rp = /\/reset-password\/([^/?#]+)$/.exec(u.pathname);
    if (rp) return { ...entry, kind: 'reset-password', url: l, token: decodeURIComponent(rp[1]) };
    if (/\/magic-link\/verify$/.test(u.pathname) && u.searchParams.get('token'))
      return { ...entry, kind: 'magic-link', url: l, token: u.searchParams.get('token') };
    if (/\/delete-user\/callback$/.test(u.pathname) && u.searchParams.get('token'))
      return { ...entry, kind: 'delete-account', url: l, token: u.searchParams.get('token') };
  }
  const codes = [...new Set((text.match(/^[ \t]*\d{6}[ \t]*$/gm) || []).map((c) => c.trim()))];
  if (codes.length === 1) {
    const t = text.toLowerCase();
    const type = /sign in/.test(t) ? 'sign-in' : /reset the password/.test(t) ? 'forget-password'
      : /new email address/.test(t) ? 'change-email' : /verify your email address/.test(t) ? 'email-verification' : undefined;
    return { ...entry, kind: 'otp', otp: codes[0], ...(type ? { type } : {}) };
  }
  if (/password[^\n]*was (just )?changed/i.test(text) || /password was changed/i.test(subject)) return { ...entry, kind: 'password-changed' };
  return entry;
}

// ---------------------------------------------------------------- SMTP + HTTP
export async function startMailSink({ settleMs = 250, quietMs = 150, maxWaitMs = 2000 } = {}) {
  const mails = [];
  const errors = [];
  let open = 0;          // SMTP transactions between MAIL FROM and the end of DATA
  let lastActivity = 0;  // when a mail arrived or a transaction ended

  const smtp = new SMTPServer({
    disabledCommands: ['STARTTLS', 'AUTH'],
    hideSTARTTLS: true,
    authOptional: true,
    disableReverseLookup: true,
    logger: false,
    size: 10 * 1024 * 1024,
    onMailFrom(address, session, cb) { open++; lastActivity = Date.now(); cb(); },
    onData(stream, session, cb) {
      const chunks = [];
      stream.on('data', (c) => chunks.push(c));
      stream.on('end', () => {
        try {
          const raw = Buffer.concat(chunks).toString('utf8');
          const { headers } = splitMessage(raw);
          const text = textPart(raw);
          for (const r of session.envelope.rcptTo) {
            mails.push({ ...classify(r.address.toLowerCase(), text, headers.subject || ''), subject: headers.subject || '', text });
          }
          cb();
        } catch (e) {
          errors.push(e);
          cb(e);
        } finally {
          open = Math.max(0, open - 1);
          lastActivity = Date.now();
        }
      });
    },
    onClose() { lastActivity = Date.now(); },
  });
  smtp.on('error', (e) => errors.push(e));
  await new Promise((resolve, reject) => {
    smtp.once('error', reject);
    smtp.listen(0, '127.0.0.1', () => { smtp.off('error', reject); resolve(); });
  });
  const smtpPort = smtp.server.address().port;

  // Like the oracle's /__oracle/outbox: mails to the address, or announcing a change to it.
  const forAddress = (email) => mails.filter((m) => m.email === email || m.newEmail === email);

  async function settle(email, kind) {
    const start = Date.now();
    const deadline = start + maxWaitMs;
    for (;;) {
      const now = Date.now();
      if (now >= deadline) return;
      const quiet = open === 0 && now - lastActivity >= quietMs && now - start >= settleMs;
      const want = kind && !forAddress(email).some((m) => m.kind === kind);
      if (quiet && !want) return;
      await sleep(20);
    }
  }

  const web = http.createServer(async (req, res) => {
    const u = new URL(req.url, 'http://x');
    const email = (u.searchParams.get('email') || '').toLowerCase();
    await settle(email, u.searchParams.get('kind'));
    const list = email ? forAddress(email) : mails;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(list.map(({ subject, text, ...m }) => m)));
  });
  await new Promise((resolve) => web.listen(0, '127.0.0.1', resolve));
  const webPort = web.address().port;

  return {
    smtpUrl: `smtp://127.0.0.1:${smtpPort}`,
    outboxUrl: `http://127.0.0.1:${webPort}/outbox`,
    mails,
    errors,
    async stop() {
      await new Promise((resolve) => web.close(() => resolve()));
      await new Promise((resolve) => smtp.close(() => resolve()));
    },
  };
}
