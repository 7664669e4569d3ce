// security.md IV-04: the parsers, fuzzed black-box against the running server (the libFuzzer targets of
// tests/fuzz run the same parsers in-process under ASan/UBSan: scripts/fuzz.sh). Seeded mutations of valid
// inputs — JSON bodies, cookies, JWTs, Data API query strings, e-mail addresses, redirect targets — must never
// get a 5xx or take the server down, and what the server accepts must keep its invariants: an accepted e-mail
// address has no control characters, an accepted callbackURL is relative or a trusted origin.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, raw, post, signUp, uniqueEmail, COOKIE, APP_ORIGIN, showServerOutputOnFailure } from '../e2e/harness.mjs';

const ROUNDS = Number(process.env.SECURITY_IV04_ROUNDS || 150);
let srv;
let user;
before(async () => {
  srv = await startServer();
  user = await signUp(srv);
  await srv.db.query('CREATE TABLE public.fuzz_notes (id serial PRIMARY KEY, title text, body jsonb, n int)');
  await srv.db.query("INSERT INTO public.fuzz_notes (title, body, n) VALUES ('a', '{\"k\":[1,2]}', 1), ('b', null, 2)");
  await srv.db.query('GRANT SELECT ON public.fuzz_notes TO anonymous, authenticated');
  await srv.db.query("NOTIFY pgrst, 'reload schema'");
  await new Promise((r) => setTimeout(r, 500));
});
after(() => srv?.stop());
showServerOutputOnFailure(() => srv);

// A small deterministic PRNG (mulberry32): a failure names its seed and round.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const SPICE = ['\u0000', '\r\n', '"', '\\', '{', '}', '[', ']', ',', ':', '%', '%00', '%ZZ', '\u00ff', '\ud83d\ude00', '１', '＠',
  '1e400', '-0', 'null', 'true', '..', '//', '/\\', '\t', ' ', '=', '&', ';', '(', ')', '*', '!', '.', 'eq.', 'in.(', '->>', '::'];
function mutate(r, s) {
  let out = s;
  const edits = 1 + Math.floor(r() * 4);
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(r() * (out.length + 1));
    const op = r();
    if (op < 0.35) out = out.slice(0, at) + SPICE[Math.floor(r() * SPICE.length)] + out.slice(at);
    else if (op < 0.6) out = out.slice(0, at) + out.slice(at + 1 + Math.floor(r() * 4));
    else if (op < 0.8) out = out.slice(0, at) + String.fromCharCode(Math.floor(r() * 256)) + out.slice(at + 1);
    else out = out.slice(0, at) + out.slice(Math.max(0, at - 8), at) + out.slice(at);  // duplicate a run
  }
  return out;
}
async function alive() {
  const h = await raw(`${srv.baseUrl}/health/live`);
  assert.equal(h.status, 200, 'the server is alive');
}
function no5xx(res, what) {
  assert.ok(res.status < 500, `${what} -> ${res.status} ${res.text?.slice(0, 200)}`);
}

test('IV-04: mutated JSON bodies on sign-up, sign-in, update-user and change-password: never 5xx', async () => {
  const r = rng(4401);
  const seeds = [
    ['/sign-up/email', JSON.stringify({ email: 'fuzz@example.com', password: 'fuzz password 1', name: 'F', image: null, callbackURL: '/x' })],
    ['/sign-in/email', JSON.stringify({ email: user.email, password: 'nope nope nope', rememberMe: false })],
    ['/update-user', JSON.stringify({ name: 'N', image: 'https://x.test/a.png' })],
    ['/change-password', JSON.stringify({ currentPassword: 'a', newPassword: 'b', revokeOtherSessions: true })],
  ];
  for (let i = 0; i < ROUNDS; i++) {
    const [p, seed] = seeds[i % seeds.length];
    const body = mutate(r, seed);
    const res = await raw(`${srv.authUrl}${p}`, {
      method: 'POST',
      headers: { Origin: APP_ORIGIN, 'Content-Type': 'application/json', Cookie: `${COOKIE}=${user.cookie}` },
      body,
    });
    no5xx(res, `round ${i} ${p} ${JSON.stringify(body)}`);
  }
  await alive();
});

test('IV-04: mutated cookies and Authorization headers on get-session: never 5xx', async () => {
  const r = rng(4402);
  for (let i = 0; i < ROUNDS; i++) {
    const cookie = mutate(r, `${COOKIE}=${user.cookie}; other=1`);
    const res = await raw(`${srv.authUrl}/get-session`, { headers: { Cookie: cookie.replace(/[^\x20-\x7e\t]/g, '') } });
    no5xx(res, `round ${i} cookie ${JSON.stringify(cookie)}`);
    const auth = mutate(r, `Bearer ${decodeURIComponent(user.cookie)}`).replace(/[^\x20-\x7e\t]/g, '');
    const res2 = await raw(`${srv.authUrl}/get-session`, { headers: { Authorization: auth } });
    no5xx(res2, `round ${i} authorization ${JSON.stringify(auth)}`);
  }
  await alive();
});

test('IV-04: mutated JWTs on the Data API are 401 (never 5xx, never data as authenticated)', async () => {
  const r = rng(4403);
  const tok = await raw(`${srv.authUrl}/token`, { headers: { Cookie: `${COOKIE}=${user.cookie}` } });
  assert.equal(tok.status, 200, tok.text);
  const jwt = tok.json.token;
  for (let i = 0; i < ROUNDS; i++) {
    const bad = mutate(r, jwt).replace(/[^\x20-\x7e\t]/g, '');
    if (bad === jwt) continue;
    const res = await raw(`${srv.baseUrl}/neondb/rest/v1/fuzz_notes`, { headers: { Authorization: `Bearer ${bad}` } });
    no5xx(res, `round ${i} ${bad}`);
    assert.notEqual(res.status, 200, `a mutated token was accepted: ${bad}`);
  }
  await alive();
});

test('IV-04: mutated Data API query strings: never 5xx', async () => {
  const r = rng(4404);
  const seeds = [
    'select=id,title,body->k->>0&title=eq.a&order=n.desc.nullslast&limit=5&offset=0',
    'select=*&or=(n.gt.1,title.in.("a","b"))&body=cs.{"k":[1]}',
    'select=id,t:title::text&n=not.is.null&title=like.*a*',
    'select=count()&n=gte.1',
  ];
  for (let i = 0; i < ROUNDS; i++) {
    const q = mutate(r, seeds[i % seeds.length]).replace(/[\r\n\u0000 #]/g, (c) => encodeURIComponent(c));
    let res;
    try {
      res = await raw(`${srv.baseUrl}/neondb/rest/v1/fuzz_notes?${q}`);
    } catch (e) {
      continue;  // a URL node itself refuses to send
    }
    no5xx(res, `round ${i} ?${q}`);
  }
  const { rows } = await srv.db.query('SELECT count(*)::int AS n FROM public.fuzz_notes');
  assert.equal(rows[0].n, 2, 'the table is intact');
  await alive();
});

test('IV-04: mutated e-mail addresses at sign-up: never 5xx, and no accepted address holds a control character or a second @', async () => {
  const r = rng(4405);
  for (let i = 0; i < ROUNDS; i++) {
    const email = mutate(r, uniqueEmail('fz'));
    const res = await post(srv, '/sign-up/email', { email, password: 'fuzz password 2', name: 'F' });
    no5xx(res, `round ${i} ${JSON.stringify(email)}`);
  }
  const { rows } = await srv.db.query('SELECT email FROM neon_auth."user"');
  for (const { email } of rows) {
    assert.doesNotMatch(email, /[\u0000-\u001f\u007f]/, `stored address with a control character: ${JSON.stringify(email)}`);
    assert.equal(email.split('@').length, 2, `stored address: ${JSON.stringify(email)}`);
    assert.equal(email, email.toLowerCase());
  }
  await alive();
});

test('IV-04: mutated callbackURLs at sign-in: never 5xx, and an accepted one is relative or a trusted origin', async () => {
  const r = rng(4406);
  const seeds = ['/dashboard?tab=1', 'http://localhost:3000/cb', '//evil.example/x', 'https://evil.example/'];
  for (let i = 0; i < ROUNDS; i++) {
    const cb = mutate(r, seeds[i % seeds.length]);
    const res = await post(srv, '/sign-in/email', { email: user.email, password: user.password, callbackURL: cb });
    no5xx(res, `round ${i} ${JSON.stringify(cb)}`);
    if (res.status === 200 && res.json?.url) {
      const u = res.json.url;
      const relative = u.startsWith('/') && !u.startsWith('//') && !u.startsWith('/\\');
      let trusted = false;
      try {
        const o = new URL(u).origin;
        trusted = /^https?:\/\/(localhost|127\.0\.0\.1)(:\d+)?$/.test(o);
      } catch { /* not absolute */ }
      assert.ok(relative || trusted, `accepted callbackURL ${JSON.stringify(u)}`);
    }
  }
  await alive();
});
