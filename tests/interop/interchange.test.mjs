// Interchangeable with Better Auth in both directions, with the same secret: pgwarden and the real Better Auth
// 1.6.23 oracle run side by side on ONE database (the oracle's) with the same secret and the same baseURL
// (http://localhost:4191: JWT iss/aud), and every credential minted by one must work on the other. The
// "same answers as the oracle" tests then run small scenarios the golden transcript lacks (verify-password,
// change-password without revocation, body validation per endpoint, …) on both and compare the normalised
// answers (transcripts.mjs).
//
// Skipped (with the reason) when the shared oracle folder (PGWARDEN_SHARED/oracle/better-auth) or the binary
// (PGWARDEN_BIN, default build/release/pgwarden) is missing. Needs node, npm (first start) and Postgres binaries.
//
//   cd tests/e2e && node --test --test-concurrency=1 --test-reporter=tap ../interop/interchange.test.mjs
//
// The oracle is started by scripts/oracle.sh (idempotent) and left running; stop it with `scripts/oracle.sh stop`.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  COOKIE, Jar, client, jose, oracleUnavailable, parseConninfo, pg, pgConfig, signToken, startOracle, startPgwarden,
  uniqueEmail,
} from './oracle.mjs';
import { diffValue, normalise } from './transcripts.mjs';

let ORACLE_BASE_URL = 'http://localhost:4191'; // the oracle's baseURL (its port: scripts/oracle.sh ORACLE_HTTP_PORT)
const CLAIMS = ['iat', 'email', 'role', 'sub', 'exp', 'iss', 'aud'];
const skip = oracleUnavailable();

describe('interchange with the Better Auth oracle (same database, same secret)', { skip: skip ?? false }, () => {
  let oracle, pw, O, P, secret;

  before(async () => {
    const o = await startOracle();
    ORACLE_BASE_URL = `http://localhost:${new URL(o.url).port}`;
    secret = o.secret;
    O = client(`${o.url}/auth`);
    // Make sure the oracle has its signing key before pgwarden loads the key table (either order works:
    // pgwarden creates the key when the table is empty, and Better Auth then reads it from the table).
    const jwks = await O.get('/jwks');
    assert.equal(jwks.status, 200, `oracle /auth/jwks: ${jwks.status} ${jwks.text}`);
    pw = await startPgwarden({ databaseUrl: o.pg, secret: o.secret, baseUrl: ORACLE_BASE_URL });
    P = client(pw.authUrl);
    oracle = o;
  });

  after(async () => {
    if (pw) await pw.stop();
  });

  const fail = (what, r) => `${what}: ${r.status} ${r.text}${pw ? `\n--- pgwarden log (tail) ---\n${pw.log().slice(-2000)}` : ''}`;
  const signUp = async (srv, tag, password = 'correct-horse-1') => {
    const email = uniqueEmail(tag);
    const jar = new Jar();
    const r = await srv.post('/sign-up/email', { email, password, name: `Interop ${tag}` }, { jar });
    assert.equal(r.status, 200, fail(`sign-up on ${srv.base}`, r));
    return { email, password, jar, user: r.json.user, res: r };
  };
  const signIn = async (srv, email, password, expect = 200) => {
    const jar = new Jar();
    const r = await srv.post('/sign-in/email', { email, password }, { jar });
    assert.equal(r.status, expect, fail(`sign-in on ${srv.base}`, r));
    return { jar, res: r };
  };

  test('a user signed up on the oracle signs in on pgwarden with the same password (same user object)', async () => {
    const u = await signUp(O, 'o2p');
    const { res } = await signIn(P, u.email, u.password);
    assert.equal(JSON.stringify(res.json.user), JSON.stringify(u.user), 'user object (values and member order)');
    await signIn(P, u.email, 'wrong-password-1', 401);
  });

  test('a user signed up on pgwarden signs in on the oracle with the same password (same user object)', async () => {
    const u = await signUp(P, 'p2o');
    const { res } = await signIn(O, u.email, u.password);
    assert.equal(JSON.stringify(res.json.user), JSON.stringify(u.user), 'user object (values and member order)');
    await signIn(O, u.email, 'wrong-password-1', 401);
  });

  test("an oracle session cookie works on pgwarden's get-session, and pgwarden's on the oracle's", async () => {
    const u = await signUp(O, 'cookie');
    for (const [from, to] of [[O, P], [P, O]]) {
      const { jar, res } = await signIn(from, u.email, u.password);
      const mine = await from.get('/get-session', { jar });
      const theirs = await to.get('/get-session', { jar });
      assert.equal(theirs.status, 200, fail('get-session', theirs));
      assert.ok(theirs.json, `get-session on ${to.base} with a cookie from ${from.base} returned ${theirs.text}`);
      assert.equal(theirs.json.session.token, res.json.token);
      // The same row read by both: the same JSON, member order included.
      assert.equal(JSON.stringify(theirs.json), JSON.stringify(mine.json), 'get-session body');
      assert.ok(theirs.headers['set-auth-jwt'], 'set-auth-jwt on get-session');
      // The Bearer form (set-auth-token) works across too.
      const bearer = res.headers['set-auth-token'];
      assert.equal(bearer, signToken(secret, res.json.token));
      const viaBearer = await to.get('/get-session', { headers: { authorization: `Bearer ${bearer}` } });
      assert.equal(viaBearer.json?.session?.token, res.json.token, fail('get-session with Bearer', viaBearer));
      // list-sessions / list-accounts read the same rows the same way. Better Auth lists sessions without ORDER BY
      // (heap order: a row updated or written into a reused slot moves), pgwarden by createdAt: compare as sets.
      const byId = (l) => [...l].sort((x, y) => (x.id < y.id ? -1 : 1));
      for (const p of ['/list-sessions', '/list-accounts']) {
        const a = await from.get(p, { jar });
        const b = await to.get(p, { jar });
        assert.equal(b.status, 200, fail(p, b));
        assert.equal(JSON.stringify(byId(b.json)), JSON.stringify(byId(a.json)), `${p} body (order aside)`);
      }
    }
  });

  test('both publish the same JWKS (same kid and x)', async () => {
    const o = await O.get('/jwks');
    const p = await P.get('/jwks');
    const wk = await P.get('/.well-known/jwks.json');
    for (const r of [o, p, wk]) assert.equal(r.status, 200, fail('jwks', r));
    const keys = (r) => r.json.keys.map((k) => `${k.kid} ${k.x}`).sort();
    assert.ok(o.json.keys.length >= 1);
    assert.deepEqual(keys(p), keys(o), 'pgwarden /jwks keys vs the oracle /auth/jwks keys');
    assert.deepEqual(keys(wk), keys(o), 'pgwarden /.well-known/jwks.json keys vs the oracle /auth/jwks keys');
    assert.equal(p.text, o.text, 'JWKS document (member order included)');
  });

  test("a JWT minted by pgwarden verifies against the oracle's /auth/jwks, and the reverse", async () => {
    const u = await signUp(O, 'jwt');
    const { jar } = await signIn(O, u.email, u.password);
    const oracleJwks = jose.createRemoteJWKSet(new URL(`${O.base}/jwks`));
    const pgwardenJwks = jose.createRemoteJWKSet(new URL(`${P.base}/.well-known/jwks.json`));
    const opts = { issuer: ORACLE_BASE_URL, audience: ORACLE_BASE_URL, algorithms: ['EdDSA'] };

    const pt = await P.get('/token', { jar });
    assert.equal(pt.status, 200, fail('pgwarden /token', pt));
    const v1 = await jose.jwtVerify(pt.json.token, oracleJwks, opts);
    assert.equal(v1.payload.sub, u.user.id);
    const pHeaderJwt = (await P.get('/get-session', { jar })).headers['set-auth-jwt'];
    assert.equal((await jose.jwtVerify(pHeaderJwt, oracleJwks, opts)).payload.sub, u.user.id, 'pgwarden set-auth-jwt');

    const ot = await O.get('/token', { jar });
    assert.equal(ot.status, 200, fail('oracle /token', ot));
    const v2 = await jose.jwtVerify(ot.json.token, pgwardenJwks, opts);
    assert.equal(v2.payload.sub, u.user.id);
    const oHeaderJwt = (await O.get('/get-session', { jar })).headers['set-auth-jwt'];
    assert.equal((await jose.jwtVerify(oHeaderJwt, pgwardenJwks, opts)).payload.sub, u.user.id, 'oracle set-auth-jwt');
  });

  test("pgwarden's /token claims equal the oracle's claim set (same order, same values but iat/exp)", async () => {
    const u = await signUp(P, 'claims');
    const { jar } = await signIn(P, u.email, u.password);
    const pt = (await P.get('/token', { jar })).json.token;
    const ot = (await O.get('/token', { jar })).json.token;
    const [pp, op] = [jose.decodeJwt(pt), jose.decodeJwt(ot)];
    assert.deepEqual(Object.keys(op), CLAIMS, 'the oracle claim order (sanity)');
    assert.deepEqual(Object.keys(pp), Object.keys(op), 'claim names and order');
    for (const k of ['email', 'role', 'sub', 'iss', 'aud']) assert.equal(pp[k], op[k], `claim ${k}`);
    assert.equal(pp.exp - pp.iat, op.exp - op.iat, 'lifetime (exp - iat)');
    assert.ok(Math.abs(pp.iat - op.iat) <= 5, `iat ${pp.iat} vs ${op.iat}`);
    const [ph, oh] = [jose.decodeProtectedHeader(pt), jose.decodeProtectedHeader(ot)];
    assert.equal(JSON.stringify(ph), JSON.stringify(oh), 'JWS header');
    assert.deepEqual(Object.keys(jose.decodeJwt(pt)), CLAIMS);
  });

  test('sessions revoked on one are gone on the other', async () => {
    const u = await signUp(O, 'revoke');
    const s1 = (await signIn(O, u.email, u.password)).jar; // oracle sessions
    const s2 = (await signIn(O, u.email, u.password)).jar;
    const s3 = (await signIn(P, u.email, u.password)).jar; // pgwarden sessions
    const s4 = (await signIn(P, u.email, u.password)).jar;

    // pgwarden revokes an oracle-made session
    let r = await P.post('/revoke-session', { token: s2.token() }, { jar: s1 });
    assert.equal(r.status, 200, fail('pgwarden revoke-session', r));
    r = await O.get('/get-session', { jar: new Jar().update([`${COOKIE}=${s2.get()}`]) });
    assert.equal(r.text, 'null', 'the oracle still sees a session revoked on pgwarden');

    // the oracle signs out a pgwarden-made session
    const s3copy = new Jar().update([`${COOKIE}=${s3.get()}`]);
    r = await O.post('/sign-out', undefined, { jar: s3 });
    assert.equal(r.status, 200, fail('oracle sign-out', r));
    r = await P.get('/get-session', { jar: s3copy });
    assert.equal(r.text, 'null', 'pgwarden still sees a session signed out on the oracle');

    // pgwarden revoke-other-sessions: the oracle lists only the caller's session
    r = await P.post('/revoke-other-sessions', undefined, { jar: s1 });
    assert.equal(r.status, 200, fail('pgwarden revoke-other-sessions', r));
    r = await O.get('/list-sessions', { jar: s1 });
    assert.equal(r.status, 200, fail('oracle list-sessions', r));
    assert.deepEqual(r.json.map((s) => s.token), [s1.token()]);
    r = await O.get('/get-session', { jar: s4 });
    assert.equal(r.text, 'null', 'the oracle still sees a session revoked by pgwarden revoke-other-sessions');

    // the oracle's revoke-sessions ends the pgwarden-made one too
    const s5 = (await signIn(P, u.email, u.password)).jar;
    const kept = [s1.get(), s5.get()];
    r = await O.post('/revoke-sessions', undefined, { jar: s1 });
    assert.equal(r.status, 200, fail('oracle revoke-sessions', r));
    for (const v of kept) {
      r = await P.get('/get-session', { jar: new Jar().update([`${COOKIE}=${v}`]) });
      assert.equal(r.text, 'null', 'pgwarden still sees a session revoked by the oracle revoke-sessions');
    }
  });

  test('a password changed on pgwarden works on the oracle (and the reverse)', async () => {
    const u = await signUp(O, 'chpw');
    const other = (await signIn(O, u.email, u.password)).jar;
    const { jar } = await signIn(P, u.email, u.password);
    let r = await P.post('/change-password', { currentPassword: u.password, newPassword: 'correct-horse-2', revokeOtherSessions: true }, { jar });
    assert.equal(r.status, 200, fail('pgwarden change-password', r));
    await signIn(O, u.email, u.password, 401);
    await signIn(O, u.email, 'correct-horse-2', 200);
    r = await O.get('/get-session', { jar: other });
    assert.equal(r.text, 'null', 'oracle session not revoked by pgwarden change-password revokeOtherSessions');
    r = await O.get('/get-session', { jar });
    assert.equal(r.json?.session?.token, jar.token(), 'the new session cookie from pgwarden change-password works on the oracle');

    // reverse
    r = await O.post('/change-password', { currentPassword: 'correct-horse-2', newPassword: 'correct-horse-3' }, { jar });
    assert.equal(r.status, 200, fail('oracle change-password', r));
    await signIn(P, u.email, 'correct-horse-2', 401);
    await signIn(P, u.email, 'correct-horse-3', 200);
  });

  test('a session refreshed by pgwarden (updateAge passed) carries the new expiry to the oracle, and the reverse', async () => {
    const db = new pg.Client(pgConfig(parseConninfo(oracle.pg), { searchPath: 'neon_auth' }));
    await db.connect();
    try {
      const u = await signUp(O, 'refresh');
      for (const [by, other] of [[P, O], [O, P]]) {
        const { jar } = await signIn(other, u.email, u.password);
        // 2 days old: expiresAt = now + 5 d (expiresIn 7 d, updateAge 1 d) -> the next get-session extends it
        await db.query(`update session set "expiresAt" = now() + interval '5 days' where token = $1`, [jar.token()]);
        const r = await by.get('/get-session', { jar });
        assert.equal(r.status, 200, fail('get-session', r));
        assert.ok(r.setCookies.some((c) => c.startsWith(`${COOKIE}=`)), `no refreshed cookie from ${by.base}`);
        const [{ expiresAt }] = (await db.query('select "expiresAt" from session where token = $1', [jar.token()])).rows;
        assert.ok(expiresAt.getTime() > Date.now() + 6.9 * 864e5, `expiresAt not extended to ~7 d: ${expiresAt.toISOString()}`);
        const seen = await other.get('/get-session', { jar });
        assert.equal(seen.json?.session?.expiresAt, expiresAt.toISOString(), 'the other server reads the extended expiry');
        assert.equal(seen.json?.session?.expiresAt, r.json.session.expiresAt);
        // an expired session: whichever server sees it first deletes it; the other one then sees nothing either
        await db.query(`update session set "expiresAt" = now() - interval '1 minute' where token = $1`, [jar.token()]);
        assert.equal((await by.get('/get-session', { jar: new Jar().update([`${COOKIE}=${jar.get()}`]) })).text, 'null');
        assert.equal((await db.query('select count(*)::int n from session where token = $1', [jar.token()])).rows[0].n, 0,
          `expired session row not deleted by ${by.base}`);
        assert.equal((await other.get('/get-session', { jar })).text, 'null');
      }
    } finally {
      await db.end();
    }
  });

  test('a rememberMe:false session is never extended by get-session (same answer as the oracle)', async () => {
    // Better Auth (api/routes/session.mjs): with a valid dont_remember cookie get-session returns the session
    // without the updateAge refresh, so the 1-day session keeps its expiry and no cookie is re-sent.
    const db = new pg.Client(pgConfig(parseConninfo(oracle.pg), { searchPath: 'neon_auth' }));
    await db.connect();
    try {
      const u = await signUp(O, 'dontremember');
      const seen = {};
      for (const creator of [O, P]) {
        for (const reader of [O, P]) {
          const jar = new Jar();
          const r0 = await creator.post('/sign-in/email', { email: u.email, password: u.password, rememberMe: false }, { jar });
          assert.equal(r0.status, 200, fail('sign-in rememberMe:false', r0));
          assert.ok(jar.get('__Secure-neon-auth.dont_remember'), 'dont_remember cookie');
          const r = await reader.get('/get-session', { jar });
          assert.equal(r.json?.session?.token, jar.token(), fail('get-session', r));
          const [{ expiresAt, createdAt }] = (await db.query('select "expiresAt", "createdAt" from session where token = $1', [jar.token()])).rows;
          const key = `${creator === O ? 'oracle' : 'pgwarden'} session read by ${reader === O ? 'the oracle' : 'pgwarden'}`;
          seen[key] = {
            setCookie: r.setCookies.map((c) => c.replace(/=[^;]*/, '=<v>')),
            setAuthToken: r.headers['set-auth-token'] !== undefined,
            lifetimeHours: Math.round((expiresAt - createdAt) / 3_600_000),
          };
        }
      }
      const expected = { setCookie: [], setAuthToken: false, lifetimeHours: 24 };
      assert.deepEqual(seen, Object.fromEntries(Object.keys(seen).map((k) => [k, expected])));
    } finally {
      await db.end();
    }
  });

  test('profile updates and account deletion on pgwarden are seen by the oracle', async () => {
    const u = await signUp(O, 'profile');
    const { jar } = await signIn(P, u.email, u.password);
    let r = await P.post('/update-user', { name: 'Renamed On Pgwarden', image: 'https://example.com/i.png' }, { jar });
    assert.equal(r.status, 200, fail('pgwarden update-user', r));
    r = await O.get('/get-session', { jar });
    assert.equal(r.json?.user?.name, 'Renamed On Pgwarden');
    assert.equal(r.json?.user?.image, 'https://example.com/i.png');
    r = await P.post('/delete-user', { password: u.password }, { jar: (await signIn(P, u.email, u.password)).jar });
    assert.equal(r.status, 200, fail('pgwarden delete-user', r));
    r = await O.get('/get-session', { jar });
    assert.equal(r.text, 'null', 'the oracle still sees a session of a user deleted on pgwarden');
    await signIn(O, u.email, u.password, 401);
  });

  // Requests the golden transcript does not exercise, on endpoints pgwarden implements: the same scenario runs
  // on the oracle and on pgwarden (each with its own fresh user) and every answer must be the same after
  // normalisation (status, body, Set-Cookie, set-auth-token, location, expose headers; see transcripts.mjs).
  const view = (r, tag) => normalise({ response: { status: r.status, headers: r.rawHeaders, setCookies: r.setCookies, body: r.json !== undefined ? r.json : r.text } }, tag);
  const differential = (name, scenario) => test(`same answers as the oracle: ${name}`, async () => {
    const runs = [];
    // The same client IP sequence on both servers (sessions store it), fresh per scenario (the oracle rate-limits
    // sign-in to 3 per 10 s per IP).
    const net = `10.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
    for (const server of [O, P]) {
      const tag = `t${Math.random().toString(36).slice(2, 10)}`;
      let k = 0;
      const ip = () => ({ 'x-forwarded-for': `${net}.${++k}` });
      const srv = {
        get: (p, opts = {}) => server.get(p, { ...opts, headers: { ...ip(), ...opts.headers } }),
        post: (p, body, opts = {}) => server.post(p, body, { ...opts, headers: { ...ip(), ...opts.headers } }),
      };
      const steps = [];
      const step = async (label, promise) => { const r = await promise; steps.push({ label, v: view(r, tag), raw: r }); return r; };
      await scenario(srv, tag, step);
      runs.push(steps);
    }
    const [o, p] = runs;
    const bad = [];
    for (let i = 0; i < o.length; i++) {
      const a = { ...o[i].v };
      const b = { ...p[i].v };
      // CORS headers are pgwarden's addition (reported by the differential test), not compared here
      delete a.expose; delete b.expose;
      const d = JSON.stringify(a) === JSON.stringify(b) ? [] : [
        ...(a.status !== b.status ? [`status ${a.status} → ${b.status}`] : []),
        ...diffValue(a.body, b.body),
        ...(a.cookies.join() !== b.cookies.join() ? [`set-cookie ${JSON.stringify(a.cookies)} → ${JSON.stringify(b.cookies)}`] : []),
        ...(a.setAuthToken !== b.setAuthToken ? [`set-auth-token ${a.setAuthToken} → ${b.setAuthToken}`] : []),
        ...(a.location !== b.location ? [`location ${a.location} → ${b.location}`] : []),
      ];
      if (d.length) bad.push(`${o[i].label}:\n      oracle:   ${o[i].raw.status} ${o[i].raw.text.slice(0, 200)}\n      pgwarden: ${p[i].raw.status} ${p[i].raw.text.slice(0, 200)}\n      ${d.join('\n      ')}`);
    }
    assert.equal(bad.length, 0, `oracle → pgwarden:\n  ${bad.join('\n  ')}`);
  });
  const fresh = async (srv, tag, step, name = 'u') => {
    const jar = new Jar();
    await step('sign-up', srv.post('/sign-up/email', { email: `${name}.${tag}@example.com`, password: 'correct-horse-1', name: 'Diff' }, { jar }));
    return jar;
  };

  differential('verify-password (right, wrong, without session, missing field)', async (srv, tag, step) => {
    const jar = await fresh(srv, tag, step);
    await step('verify-password right', srv.post('/verify-password', { password: 'correct-horse-1' }, { jar }));
    await step('verify-password wrong', srv.post('/verify-password', { password: 'wrong-horse-1' }, { jar }));
    await step('verify-password without session', srv.post('/verify-password', { password: 'correct-horse-1' }));
    await step('verify-password {}', srv.post('/verify-password', {}, { jar }));
  });

  differential('change-password without revokeOtherSessions (token null, no cookie), then sign-in', async (srv, tag, step) => {
    const jar = await fresh(srv, tag, step);
    await step('change-password', srv.post('/change-password', { currentPassword: 'correct-horse-1', newPassword: 'correct-horse-2' }, { jar }));
    await step('get-session with the old cookie', srv.get('/get-session', { jar }));
    await step('change-password without session', srv.post('/change-password', { currentPassword: 'a-b-c-d-e-f', newPassword: 'correct-horse-3' }));
    await step('change-password missing currentPassword', srv.post('/change-password', { newPassword: 'correct-horse-3' }, { jar }));
    await step('change-password too long', srv.post('/change-password', { currentPassword: 'correct-horse-2', newPassword: 'x'.repeat(129) }, { jar }));
  });

  differential('delete-user without password on a fresh session, then the session', async (srv, tag, step) => {
    const jar = await fresh(srv, tag, step);
    const keep = new Jar().update([`${COOKIE}=${jar.get()}`]);
    await step('delete-user {}', srv.post('/delete-user', {}, { jar }));
    await step('get-session after', srv.get('/get-session', { jar: keep }));
  });

  differential('update-user edge cases (image null, wrong types, server-only fields)', async (srv, tag, step) => {
    const jar = await fresh(srv, tag, step);
    await step('update-user {image: null} then get-session', srv.post('/update-user', { image: null }, { jar }).then(() => srv.get('/get-session', { jar })));
    await step('update-user {emailVerified: true}', srv.post('/update-user', { emailVerified: true }, { jar }));
    await step('update-user {banned: true}', srv.post('/update-user', { banned: true }, { jar }));
  });

  test('update-user with a wrongly typed name is refused by pgwarden (decision D16; Better Auth stores "123")', async () => {
    const tag = `t${Math.random().toString(36).slice(2, 10)}`;
    const jar = await fresh({ get: (p, o) => P.get(p, o), post: (p, b, o) => P.post(p, b, o) }, tag, async (_l, pr) => pr);
    const r = await P.post('/update-user', { name: 123 }, { jar });
    assert.equal(r.status, 400);
    assert.equal(r.json.code, 'VALIDATION_ERROR');
  });

  differential('sign-up / sign-in validation edge cases', async (srv, tag, step) => {
    await step('sign-up password of exactly 128', srv.post('/sign-up/email', { email: `max.${tag}@example.com`, password: 'y'.repeat(128), name: 'Max' }));
    await step('sign-in with the 128-char password', srv.post('/sign-in/email', { email: `max.${tag}@example.com`, password: 'y'.repeat(128) }));
    await step('sign-in with a 129-char password', srv.post('/sign-in/email', { email: `max.${tag}@example.com`, password: 'y'.repeat(129) }));
    await step('sign-up with role', srv.post('/sign-up/email', { email: `role.${tag}@example.com`, password: 'correct-horse-1', name: 'R', role: 'admin' }));
    await step('sign-in {}', srv.post('/sign-in/email', {}));
    await step('sign-in rememberMe "yes"', srv.post('/sign-in/email', { email: `max.${tag}@example.com`, password: 'y'.repeat(128), rememberMe: 'yes' }));
    await step('sign-up name ""', srv.post('/sign-up/email', { email: `empty.${tag}@example.com`, password: 'correct-horse-1', name: '' }));
    await step('sign-up body null', srv.post('/sign-up/email', 'null', { headers: { 'content-type': 'application/json' } }));
    await step('sign-in untrusted relative-looking callbackURL //evil', srv.post('/sign-in/email', { email: `max.${tag}@example.com`, password: 'y'.repeat(128), callbackURL: '//evil.example/x' }));
  });

  differential('body validation on every implemented POST endpoint (no body, [], {}; no session)', async (srv, tag, step) => {
    const eps = ['/sign-in/email', '/sign-up/email', '/sign-out', '/change-password', '/update-user', '/update-session',
      '/revoke-session', '/revoke-sessions', '/revoke-other-sessions', '/verify-password', '/delete-user'];
    for (const ep of eps) {
      await step(`${ep} without body`, srv.post(ep));
      await step(`${ep} []`, srv.post(ep, '[]', { headers: { 'content-type': 'application/json' } }));
      await step(`${ep} {}`, srv.post(ep, {}));
    }
  });

  differential('revoke-session edge cases (another user\'s token, missing token)', async (srv, tag, step) => {
    const a = await fresh(srv, tag, step, 'a');
    const b = await fresh(srv, tag, step, 'b');
    await step('revoke-session with b\'s token, as a', srv.post('/revoke-session', { token: b.token() }, { jar: a }));
    await step('b still signed in?', srv.get('/get-session', { jar: b }));
    await step('revoke-session {}', srv.post('/revoke-session', {}, { jar: a }));
    await step('revoke-session without session', srv.post('/revoke-session', { token: a.token() }));
    await step('revoke-sessions without session', srv.post('/revoke-sessions'));
    await step('list-accounts without session', srv.get('/list-accounts'));
  });
});
