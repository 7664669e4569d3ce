// security.md section K (AZ-01..AZ-04): authorization of admin, organizations and anonymous users. pgwarden has
// no admin, organization or anonymous-user (BA `anonymous` plugin) endpoints; what applies is tested here:
//   AZ-01  no default accounts on a fresh install; the admin plugin's endpoints do not exist (404) for anyone,
//          including a user whose role column says "admin" (impersonation: not applicable, no such endpoint);
//   AZ-02  a userId (or another user's token) in a body or query never substitutes for the session, across every
//          auth endpoint that reads a body (CVE-2025-61928 class);
//   AZ-03  the organization plugin's endpoints do not exist (404), and the session's organization cannot be set by
//          the client (the rest of AZ-03 is not applicable);
//   AZ-04  the anonymous JWT of GET /token/anonymous runs as `anonymous` in the Data API and cannot change a
//          password or an address (conversion of anonymous users: not applicable, no anonymous users).
// Test names start with the row id.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, raw, post, get, signUp, signIn, cookieValue, uniqueEmail, COOKIE, APP_ORIGIN, PASSWORD, showServerOutputOnFailure,
} from '../e2e/harness.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let srv;

before(async () => {
  // A configured provider, so that link-social bodies are valid ones (the endpoint then needs only a session).
  srv = await startServer({ env: { PGWARDEN_OAUTH_GOOGLE_CLIENT_ID: 'az-google-client', PGWARDEN_OAUTH_GOOGLE_CLIENT_SECRET: 'az-google-secret-0123456789' } });
});
after(async () => { await srv?.stop(); });
showServerOutputOnFailure(() => srv);

/** POST with the app Origin and optionally a session cookie value / Authorization header. */
function postAs(p, body, { cookie, authorization } = {}) {
  const headers = {};
  if (cookie) headers.Cookie = `${COOKIE}=${cookie}`;
  if (authorization) headers.Authorization = authorization;
  return post(srv, p, body, headers);
}
function getAs(p, { cookie, authorization } = {}) {
  const headers = { Origin: APP_ORIGIN };
  if (cookie) headers.Cookie = `${COOKIE}=${cookie}`;
  if (authorization) headers.Authorization = authorization;
  return raw(`${srv.authUrl}${p}`, { headers });
}

/** What a user looks like from the outside and in its rows; compared before/after an attack. */
async function snapshot(u) {
  const { rows: [user] } = await srv.db.query(
    'SELECT name, email, "emailVerified", image, role, banned FROM neon_auth."user" WHERE id = $1', [u.user.id]);
  const { rows: accounts } = await srv.db.query(
    'SELECT "providerId", password FROM neon_auth.account WHERE "userId" = $1 ORDER BY "providerId"', [u.user.id]);
  const { rows: [{ n: sessions }] } = await srv.db.query('SELECT count(*)::int AS n FROM neon_auth.session WHERE "userId" = $1', [u.user.id]);
  return { user, accounts, sessions };
}
async function assertSessionValid(u, what) {
  const r = await get(srv, '/get-session', { cookie: u.cookie });
  assert.equal(r.status, 200, `${what}: ${r.text}`);
  assert.equal(r.json?.user?.id, u.user.id, `${what}: the victim's session still works`);
}
async function sessionUserOf(setCookies) {
  const v = cookieValue(setCookies);
  if (!v) return undefined;
  const token = decodeURIComponent(v).split('.')[0];
  const { rows } = await srv.db.query('SELECT "userId"::text AS id FROM neon_auth.session WHERE token = $1', [token]);
  return rows[0]?.id;
}

// ---------------------------------------------------------------- AZ-01

test('AZ-01: a fresh install has no accounts; admin/admin, root/root and similar never sign in', async () => {
  const { rows: [{ n }] } = await srv.db.query('SELECT count(*)::int AS n FROM neon_auth."user"');
  assert.equal(n, 0, 'no user rows on a fresh install');
  const host = new URL(srv.baseUrl).hostname;
  const tries = [];
  for (const id of ['admin', 'root']) {
    for (const pw of ['admin', 'root', 'password']) {
      tries.push([id, pw], [`${id}@${host}`, pw], [`${id}@example.com`, pw]);
    }
  }
  const failures = [];
  for (const [email, password] of tries) {
    const r = await post(srv, '/sign-in/email', { email, password });
    // A well-formed address gets 401; a bare name or a dotless domain is not an address at all (400 INVALID_EMAIL).
    const ok = /@[^@]+\.[a-z]+$/.test(email) ? r.status === 401 : [400, 401].includes(r.status);
    if (!ok || cookieValue(r.setCookies)) failures.push(`${email}/${password}: ${r.status} ${r.text.slice(0, 100)}`);
  }
  for (const [username, password] of [['admin', 'admin'], ['root', 'root']]) {
    const r = await post(srv, '/sign-in/username', { username, password });
    if (![401, 404].includes(r.status) || cookieValue(r.setCookies)) failures.push(`username ${username}: ${r.status}`);
  }
  assert.deepEqual(failures, []);
});

const ADMIN_ENDPOINTS = [
  ['GET', '/admin/list-users'],
  ['POST', '/admin/ban-user', (v) => ({ userId: v, banReason: 'x' })],
  ['POST', '/admin/unban-user', (v) => ({ userId: v })],
  ['POST', '/admin/set-role', (v) => ({ userId: v, role: 'admin' })],
  ['POST', '/admin/impersonate-user', (v) => ({ userId: v })],
  ['POST', '/admin/stop-impersonating', () => ({})],
  ['POST', '/admin/create-user', () => ({ email: uniqueEmail('az01'), password: PASSWORD, name: 'x', role: 'admin' })],
  ['POST', '/admin/update-user', (v) => ({ userId: v, data: { name: 'pwned' } })],
  ['POST', '/admin/remove-user', (v) => ({ userId: v })],
  ['POST', '/admin/set-user-password', (v) => ({ userId: v, newPassword: 'pwned-password-1' })],
  ['POST', '/admin/list-user-sessions', (v) => ({ userId: v })],
  ['POST', '/admin/revoke-user-session', () => ({ sessionToken: 'x' })],
  ['POST', '/admin/revoke-user-sessions', (v) => ({ userId: v })],
  ['POST', '/admin/has-permission', () => ({ permissions: { user: ['list'] } })],
];

test('AZ-01: the admin endpoints do not exist (404) for anonymous callers, a normal user or a user whose role column is "admin"; nothing changes', async () => {
  const victim = await signUp(srv);
  const normal = await signUp(srv);
  const admin = await signUp(srv);
  await srv.db.query('UPDATE neon_auth."user" SET role = \'admin\' WHERE id = $1', [admin.user.id]);
  const adminSession = await signIn(srv, admin.email);
  const before = await snapshot(victim);
  const failures = [];
  for (const [method, p, body] of ADMIN_ENDPOINTS) {
    for (const [who, cookie] of [['anonymous', undefined], ['normal user', normal.cookie], ['role=admin user', adminSession.cookie]]) {
      const r = method === 'GET' ? await getAs(p, { cookie }) : await postAs(p, body(victim.user.id), { cookie });
      if (r.status !== 404) failures.push(`${method} ${p} as ${who}: ${r.status} ${r.text.slice(0, 100)}`);
    }
  }
  assert.deepEqual(failures, []);
  assert.deepEqual(await snapshot(victim), before);
  await assertSessionValid(victim, 'after the admin calls');
  const { rows: [{ n }] } = await srv.db.query('SELECT count(*)::int AS n FROM neon_auth."user" WHERE role = \'admin\'');
  assert.equal(n, 1, 'no user was made admin');
});

// ---------------------------------------------------------------- AZ-02

// Every auth endpoint that reads a JSON body (src/auth/routes.cpp), with the fields it needs, plus userId.
const SESSION_ENDPOINTS = [
  ['/update-user', (v) => ({ userId: v, name: 'pwned' })],
  ['/change-password', (v) => ({ userId: v, currentPassword: PASSWORD, newPassword: 'pwned-password-1', revokeOtherSessions: true })],
  ['/verify-password', (v) => ({ userId: v, password: PASSWORD })],
  ['/delete-user', (v) => ({ userId: v, password: PASSWORD })],
  ['/revoke-session', (v, t) => ({ userId: v, token: t })],
  ['/revoke-sessions', (v) => ({ userId: v })],
  ['/revoke-other-sessions', (v) => ({ userId: v })],
  ['/revoke-all-sessions', (v) => ({ userId: v })],
  ['/update-session', (v) => ({ userId: v, activeOrganizationId: 'x' })],
  ['/change-email', (v) => ({ userId: v, newEmail: uniqueEmail('pwned') })],
  ['/link-social', (v) => ({ userId: v, provider: 'google', callbackURL: '/x' })],
  ['/unlink-account', (v) => ({ userId: v, providerId: 'credential' })],
  ['/get-access-token', (v) => ({ userId: v, providerId: 'credential' })],
  ['/refresh-token', (v) => ({ userId: v, providerId: 'credential' })],
  ['/email-otp/request-email-change', (v) => ({ userId: v, newEmail: uniqueEmail('pwned') })],
  ['/email-otp/change-email', (v) => ({ userId: v, newEmail: uniqueEmail('pwned'), otp: '000000' })],
];
const SESSION_GETS = ['/list-sessions', '/token', '/list-accounts', '/account-info', '/get-access-token'];
// Endpoints that work without a session: the userId must be ignored (never a session for the victim).
const OPEN_ENDPOINTS = [
  ['/sign-in/email', (v) => ({ userId: v, email: uniqueEmail('nobody'), password: PASSWORD })],
  ['/sign-up/email', (v) => ({ userId: v, id: v, email: uniqueEmail('az02'), password: PASSWORD, name: 'x' })],
  ['/sign-out', (v) => ({ userId: v })],
  ['/get-session', (v) => ({ userId: v })],
  ['/send-verification-email', (v) => ({ userId: v, email: uniqueEmail('nobody') })],
  ['/verify-email', (v) => ({ userId: v, token: 'x' })],
  ['/request-password-reset', (v) => ({ userId: v, email: uniqueEmail('nobody') })],
  ['/reset-password', (v) => ({ userId: v, newPassword: 'pwned-password-1', token: 'x' })],
  ['/email-otp/send-verification-otp', (v) => ({ userId: v, email: uniqueEmail('nobody'), type: 'sign-in' })],
  ['/email-otp/check-verification-otp', (v) => ({ userId: v, email: uniqueEmail('nobody'), type: 'sign-in', otp: '000000' })],
  ['/email-otp/verify-email', (v) => ({ userId: v, email: uniqueEmail('nobody'), otp: '000000' })],
  ['/sign-in/email-otp', (v) => ({ userId: v, email: uniqueEmail('nobody'), otp: '000000' })],
  ['/forget-password/email-otp', (v) => ({ userId: v, email: uniqueEmail('nobody') })],
  ['/email-otp/request-password-reset', (v) => ({ userId: v, email: uniqueEmail('nobody') })],
  ['/email-otp/reset-password', (v) => ({ userId: v, email: uniqueEmail('nobody'), otp: '000000', password: 'pwned-password-1' })],
  ['/email-otp/passcode', (v) => ({ userId: v, email: uniqueEmail('nobody'), otp: '000000', password: 'pwned-password-1' })],
  ['/sign-in/magic-link', (v) => ({ userId: v, email: uniqueEmail('nobody') })],
  ['/sign-in/social', (v) => ({ userId: v, provider: 'google', callbackURL: '/x' })],
];

test('AZ-02: without a session, userId:<victim> in a body or query never acts for the victim (401 on every session endpoint)', async () => {
  const victim = await signUp(srv);
  const before = await snapshot(victim);
  const failures = [];
  for (const [p, body] of SESSION_ENDPOINTS) {
    const r = await postAs(p, body(victim.user.id, victim.token));
    if (r.status !== 401) failures.push(`POST ${p}: ${r.status} ${r.text.slice(0, 100)}`);
  }
  for (const p of SESSION_GETS) {
    const r = await getAs(`${p}?userId=${victim.user.id}&providerId=credential&accountId=${victim.user.id}`);
    if (r.status !== 401) failures.push(`GET ${p}: ${r.status} ${r.text.slice(0, 100)}`);
  }
  for (const [p, body] of OPEN_ENDPOINTS) {
    const r = await postAs(p, body(victim.user.id));
    if (r.status >= 500) failures.push(`POST ${p}: ${r.status}`);
    if ((await sessionUserOf(r.setCookies)) === victim.user.id) failures.push(`POST ${p}: a session of the victim`);
    if (r.text.includes(victim.email)) failures.push(`POST ${p}: the victim's data in ${r.text.slice(0, 100)}`);
  }
  const gs = await getAs(`/get-session?userId=${victim.user.id}`);
  assert.equal(gs.status, 200);
  assert.equal(gs.json, null, 'get-session without a session is null whatever the query');
  assert.deepEqual(failures, []);
  await sleep(200);
  assert.deepEqual(await snapshot(victim), before, 'the victim is unchanged');
  await assertSessionValid(victim, 'after the calls without a session');
  assert.equal((await post(srv, '/sign-in/email', { email: victim.email, password: PASSWORD })).status, 200, 'the victim\'s password is unchanged');
});

test('AZ-02: with A\'s session, userId:B (or B\'s session token) in a body or query acts on A only or is refused; B is unchanged', async () => {
  const B = await signUp(srv);
  const bBefore = await snapshot(B);
  const failures = [];
  // One A for the calls that leave A's own session alive; a fresh A for each that may end or change it.
  const fresh = new Set(['/revoke-sessions', '/revoke-all-sessions', '/change-password', '/delete-user']);
  const [A, ...spares] = await Promise.all(Array.from({ length: 1 + fresh.size }, () => signUp(srv)));
  for (const [p, body] of SESSION_ENDPOINTS) {
    const caller = fresh.has(p) ? spares.pop() : A;
    const r = await postAs(p, body(B.user.id, B.token), { cookie: caller.cookie });
    if (r.status >= 500) failures.push(`POST ${p}: ${r.status}`);
    if (r.text.includes(B.email) || r.text.includes(B.token)) failures.push(`POST ${p}: B's data in ${r.text.slice(0, 100)}`);
  }
  await assertSessionValid(A, 'A\'s own session (the shared caller) is still valid, so its calls were not refused for lack of a session');
  for (const p of SESSION_GETS) {
    const r = await getAs(`${p}?userId=${B.user.id}&accountId=${B.user.id}&providerId=credential`, { cookie: A.cookie });
    if (r.status >= 500) failures.push(`GET ${p}: ${r.status}`);
    if (r.text.includes(B.user.id) || r.text.includes(B.email)) failures.push(`GET ${p}: B's data in ${r.text.slice(0, 120)}`);
  }
  const tok = await getAs(`/token?userId=${B.user.id}`, { cookie: A.cookie });
  assert.equal(JSON.parse(Buffer.from(tok.json.token.split('.')[1], 'base64url')).sub, A.user.id, '/token is A\'s whatever the query');
  assert.deepEqual(failures, []);
  await sleep(200);
  assert.deepEqual(await snapshot(B), bBefore, 'B is unchanged');
  await assertSessionValid(B, 'B after A\'s calls');
  assert.equal((await post(srv, '/sign-in/email', { email: B.email, password: PASSWORD })).status, 200, 'B\'s password is unchanged');
});

// ---------------------------------------------------------------- AZ-03

test('AZ-03: the organization endpoints do not exist (404); a session\'s organization cannot be set by the client', async () => {
  const u = await signUp(srv);
  const failures = [];
  const posts = ['/organization/create', '/organization/accept-invitation', '/organization/reject-invitation',
    '/organization/cancel-invitation', '/organization/invite-member', '/organization/update-member-role',
    '/organization/remove-member', '/organization/set-active', '/organization/update', '/organization/delete',
    '/organization/leave', '/organization/add-member'];
  for (const p of posts) {
    for (const cookie of [u.cookie, undefined]) {
      const r = await postAs(p, { organizationId: 'x', invitationId: 'x', memberId: 'x', role: 'owner', name: 'x', slug: 'x', email: u.email }, { cookie });
      if (r.status !== 404) failures.push(`POST ${p}: ${r.status} ${r.text.slice(0, 100)}`);
    }
  }
  for (const p of ['/organization/list', '/organization/get-full-organization', '/organization/list-invitations', '/organization/list-members']) {
    const r = await getAs(p, { cookie: u.cookie });
    if (r.status !== 404) failures.push(`GET ${p}: ${r.status} ${r.text.slice(0, 100)}`);
  }
  const upd = await postAs('/update-session', { activeOrganizationId: '00000000-0000-0000-0000-000000000001' }, { cookie: u.cookie });
  if (upd.status < 400) failures.push(`update-session activeOrganizationId: ${upd.status} ${upd.text}`);
  assert.deepEqual(failures, []);
  const { rows } = await srv.db.query('SELECT "activeOrganizationId" FROM neon_auth.session WHERE "userId" = $1', [u.user.id]);
  assert.ok(rows.every((r) => r.activeOrganizationId === null), 'no active organization set');
  const t = await get(srv, '/token', { cookie: u.cookie });
  const claims = JSON.parse(Buffer.from(t.json.token.split('.')[1], 'base64url'));
  assert.equal(claims.o, undefined, 'no organization claim');
});

// ---------------------------------------------------------------- AZ-04

test('AZ-04: an anonymous JWT cannot change a password or an address, nor act as a user', async () => {
  const anon = await get(srv, '/token/anonymous');
  assert.equal(anon.status, 200, anon.text);
  const claims = JSON.parse(Buffer.from(anon.json.token.split('.')[1], 'base64url'));
  assert.equal(claims.role, 'anonymous');
  assert.equal(claims.sub, undefined, 'no subject');
  const authorization = `Bearer ${anon.json.token}`;
  const failures = [];
  const cases = [
    ['/change-password', { currentPassword: PASSWORD, newPassword: 'pwned-password-1' }],
    ['/change-email', { newEmail: uniqueEmail('anon') }],
    ['/email-otp/request-email-change', { newEmail: uniqueEmail('anon') }],
    ['/update-user', { name: 'anon' }],
    ['/delete-user', {}],
    ['/revoke-sessions', {}],
    ['/link-social', { provider: 'google', callbackURL: '/x' }],
  ];
  for (const [p, body] of cases) {
    const r = await postAs(p, body, { authorization });
    if (![400, 401].includes(r.status)) failures.push(`POST ${p}: ${r.status} ${r.text.slice(0, 100)}`);
  }
  for (const p of ['/token', '/list-sessions']) {
    const r = await getAs(p, { authorization });
    if (r.status !== 401) failures.push(`GET ${p}: ${r.status} ${r.text.slice(0, 100)}`);
  }
  const gs = await getAs('/get-session', { authorization });
  if (!(gs.status === 200 && gs.json === null)) failures.push(`get-session: ${gs.status} ${gs.text.slice(0, 100)}`);
  for (const p of ['/admin/list-users']) {
    const r = await getAs(p, { authorization });
    if (r.status !== 404 && r.status !== 401 && r.status !== 403) failures.push(`GET ${p}: ${r.status}`);
  }
  // Anonymous users (Better Auth's anonymous plugin) do not exist: nothing to convert.
  const signInAnon = await postAs('/sign-in/anonymous', {});
  if (signInAnon.status !== 404) failures.push(`/sign-in/anonymous: ${signInAnon.status}`);
  assert.deepEqual(failures, []);
});

test('AZ-04: in the Data API the anonymous JWT runs as role anonymous, never authenticated', async () => {
  await srv.db.query(`
    GRANT USAGE ON SCHEMA public TO authenticated, anonymous;
    CREATE FUNCTION public.az04_whoami() RETURNS json LANGUAGE sql STABLE AS
      $$ SELECT json_build_object('role', current_user::text, 'uid', auth.user_id()) $$;
    CREATE TABLE public.az04_private (id int);
    INSERT INTO public.az04_private VALUES (1);
    GRANT SELECT ON public.az04_private TO authenticated;
    NOTIFY pgrst, 'reload schema';`);
  const token = (await get(srv, '/token/anonymous')).json.token;
  let r;
  for (let i = 0; i < 200; i++) {
    r = await raw(`${srv.baseUrl}/neondb/rest/v1/rpc/az04_whoami`, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: {} });
    if (r.status !== 404) break;
    await sleep(25);
  }
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { role: 'anonymous', uid: null });
  const priv = await raw(`${srv.baseUrl}/neondb/rest/v1/az04_private`, { headers: { Authorization: `Bearer ${token}` } });
  assert.ok([401, 403].includes(priv.status), `a table granted to authenticated only: ${priv.status} ${priv.text}`);
});
