// Normalisation and comparison of record.mjs transcripts (the oracle's golden one vs one recorded against
// pgwarden). Volatile values are replaced by placeholders so that what is left is the wire contract:
//   - the recorder's tag (in e-mails, slugs)                    -> <tag>
//   - uuids, 32-char session tokens (numbered per exchange)     -> <id1>, <id2>…, <tok1>, <tok2>…
//   - signed tokens (token.base64sig, raw or URL-encoded)       -> <signed>
//   - JWTs                                                      -> <jwt {header members} {claim names} + role/iss/aud, exp-iat>
//   - ISO timestamps                                            -> <date>; a session's expiresAt -> <updatedAt+Nh>
//   - random query values (state, code_challenge, reset token)  -> <rand>; anonymous e-mails temp@<rand>.com
//   - an OKP JWK's public key x                                 -> <x>
// Compared per exchange: status, body (shape, member order, normalised values), Set-Cookie (name, empty or not,
// attributes in order) and the headers location, set-auth-token (present or not), access-control-expose-headers.
import { Buffer } from 'node:buffer';

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const JWT = /eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g;
const SIGNED = /[A-Za-z0-9]{32}\.(?:[A-Za-z0-9+/]|%2B|%2F){43}(?:=|%3D)/g;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const TOKEN32 = /^[A-Za-z0-9]{32}$/;

function b64json(s) {
  try { return JSON.parse(Buffer.from(s, 'base64url').toString('utf8')); } catch { return null; }
}

function describeJwt(jwt, tag) {
  const [h, p] = jwt.split('.');
  const header = b64json(h) || {};
  const payload = b64json(p) || {};
  const keep = ['role', 'iss', 'aud', 'email'].filter((k) => k in payload).map((k) => `${k}=${String(payload[k]).split(tag).join('<tag>')}`);
  const ttl = typeof payload.exp === 'number' && typeof payload.iat === 'number' ? ` ttl=${payload.exp - payload.iat}` : '';
  return `<jwt {${Object.keys(header).join(',')}} {${Object.keys(payload).join(',')}} ${keep.join(' ')}${ttl}>`;
}

/** A normaliser with per-exchange numbering of ids and tokens. */
export function normaliser(tag) {
  const ids = new Map();
  const toks = new Map();
  const num = (map, prefix, v) => {
    if (!map.has(v)) map.set(v, `<${prefix}${map.size + 1}>`);
    return map.get(v);
  };
  const str = (s) => {
    if (typeof s !== 'string') return s;
    if (tag) s = s.split(tag).join('<tag>');
    s = s.replace(JWT, (m) => describeJwt(m, tag));
    s = s.replace(SIGNED, '<signed>');
    s = s.replace(UUID, (m) => num(ids, 'id', m.toLowerCase()));
    if (TOKEN32.test(s)) return num(toks, 'tok', s);
    if (ISO.test(s)) return '<date>';
    s = s.replace(/temp@[a-z0-9]{16,}\.com/g, 'temp@<rand>.com');
    // random query-string values: OAuth state, PKCE challenge, reset tokens
    s = s.replace(/([?&][A-Za-z_]+=)([A-Za-z0-9_\-~.]{16,})(?=&|$)/g, (m, k, v) => (/^https?%3A/i.test(v) || v.includes('.') ? m : `${k}<rand>`));
    s = s.replace(/(\/reset-password\/)[A-Za-z0-9]{16,}/g, '$1<rand>');
    return s;
  };
  const value = (v) => {
    if (Array.isArray(v)) return v.map(value);
    if (v && typeof v === 'object') {
      const out = {};
      for (const [k, x] of Object.entries(v)) {
        if (k === 'x' && typeof x === 'string' && /^[A-Za-z0-9_-]{43}$/.test(x) && v.kty === 'OKP') {
          out[k] = '<x>'; // a public key: differs per database
        } else if (k === 'expiresAt' && typeof x === 'string' && ISO.test(x) && typeof v.updatedAt === 'string' && ISO.test(v.updatedAt)) {
          const h = Math.round((Date.parse(x) - Date.parse(v.updatedAt)) / 3_600_000);
          out[k] = `<updatedAt${h >= 0 ? '+' : ''}${h}h>`;
        } else {
          out[k] = value(x);
        }
      }
      return out;
    }
    return str(v);
  };
  return { str, value };
}

const header = (rec, name) => rec.response.headers.find(([k]) => k.toLowerCase() === name)?.[1];

/** The comparable view of one recorded exchange. */
export function normalise(rec, tag) {
  const n = normaliser(tag);
  const cookies = rec.response.setCookies.map((c) => {
    const [pair, ...attrs] = c.split(';');
    const i = pair.indexOf('=');
    const name = pair.slice(0, i).trim();
    const val = pair.slice(i + 1).trim();
    return [`${name}=${val === '' ? '' : '<v>'}`, ...attrs.map((a) => n.str(a.trim()))].join('; ');
  });
  const loc = header(rec, 'location');
  const expose = header(rec, 'access-control-expose-headers');
  return {
    status: rec.response.status,
    body: n.value(rec.response.body),
    cookies,
    location: loc === undefined ? undefined : n.str(loc),
    setAuthToken: header(rec, 'set-auth-token') !== undefined,
    expose: expose === undefined ? undefined : expose.toLowerCase().split(',').map((s) => s.trim()).join(', '),
  };
}

const short = (v) => {
  const s = v === undefined ? 'undefined' : JSON.stringify(v);
  return s.length > 140 ? `${s.slice(0, 137)}...` : s;
};

/** Differences between two normalised JSON values, as "path: golden → ours" lines (at most `max`). */
export function diffValue(a, b, path = 'body', out = [], max = 4) {
  if (out.length >= max) return out;
  const kind = (v) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
  if (kind(a) !== kind(b)) { out.push(`${path}: ${short(a)} → ${short(b)}`); return out; }
  if (kind(a) === 'array') {
    if (a.length !== b.length) out.push(`${path}: ${a.length} elements → ${b.length}`);
    for (let i = 0; i < Math.min(a.length, b.length); i++) diffValue(a[i], b[i], `${path}[${i}]`, out, max);
    return out;
  }
  if (kind(a) === 'object') {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    const missing = ka.filter((k) => !kb.includes(k));
    const extra = kb.filter((k) => !ka.includes(k));
    if (missing.length) out.push(`${path}: missing member(s) ${missing.join(', ')}`);
    if (extra.length) out.push(`${path}: extra member(s) ${extra.join(', ')}`);
    if (!missing.length && !extra.length && ka.join() !== kb.join()) out.push(`${path}: member order {${ka.join(',')}} → {${kb.join(',')}}`);
    for (const k of ka) if (kb.includes(k)) diffValue(a[k], b[k], `${path}.${k}`, out, max);
    return out;
  }
  if (a !== b) out.push(`${path}: ${short(a)} → ${short(b)}`);
  return out;
}

/** Compares golden vs ours (normalised views): [] when they match, else "aspect: golden → ours" lines. */
export function compare(g, o) {
  const d = [];
  if (g.status !== o.status) d.push(`status: ${g.status} → ${o.status}`);
  if (JSON.stringify(g.body) !== JSON.stringify(o.body)) d.push(...diffValue(g.body, o.body));
  if (g.cookies.join('\n') !== o.cookies.join('\n'))
    d.push(`set-cookie: ${g.cookies.length ? g.cookies.join(' | ') : '(none)'} → ${o.cookies.length ? o.cookies.join(' | ') : '(none)'}`);
  if (g.location !== o.location) d.push(`location: ${short(g.location)} → ${short(o.location)}`);
  if (g.setAuthToken !== o.setAuthToken) d.push(`set-auth-token: ${g.setAuthToken ? 'present' : 'absent'} → ${o.setAuthToken ? 'present' : 'absent'}`);
  if (g.expose !== o.expose) d.push(`access-control-expose-headers: ${short(g.expose)} → ${short(o.expose)}`);
  return d;
}

/** Pairs the records of two transcripts by (section, title, occurrence). */
export function pair(golden, ours) {
  const key = (r, seen) => {
    const k = `${r.section}\u0000${r.title}`;
    const i = (seen.get(k) || 0) + 1;
    seen.set(k, i);
    return `${k}\u0000${i}`;
  };
  const seenO = new Map();
  const byKey = new Map(ours.map((r) => [key(r, seenO), r]));
  const seenG = new Map();
  const pairs = golden.map((g) => {
    const k = key(g, seenG);
    const o = byKey.get(k);
    byKey.delete(k);
    return { g, o };
  });
  return { pairs, unmatched: [...byKey.values()] };
}

/** One-line request summary (method, path, body) with the tag normalised. */
export function requestLine(rec, tag) {
  const n = normaliser(tag);
  const b = rec.request.body;
  const body = b === undefined ? '' : ` ${typeof b === 'string' ? b : JSON.stringify(b)}`;
  const extra = Object.entries(rec.request.headers)
    .filter(([k]) => /^(origin|referer|authorization|sec-fetch-|content-type)/.test(k) && !(k === 'origin' && rec.request.headers[k] === 'http://localhost:3000') && !(k === 'content-type' && rec.request.headers[k] === 'application/json'))
    .map(([k, v]) => ` [${k}: ${v}]`).join('');
  const s = n.str(`${rec.request.method} ${rec.request.path}${body}${extra}`);
  return s.length > 200 ? `${s.slice(0, 197)}...` : s;
}

/** Compact golden-vs-ours summary of a response (status + body). */
export function responseLine(view) {
  const b = view.body === '' ? '' : ` ${JSON.stringify(view.body)}`;
  const s = `${view.status}${b}`;
  return s.length > 160 ? `${s.slice(0, 157)}...` : s;
}
