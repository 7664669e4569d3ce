// The Data API with the official SDK: @neondatabase/neon-js 0.7.0-beta signs in against pgwarden's auth and
// queries pgwarden's /rest/v1 with the JWT it gets from get-session; RLS with auth.uid() decides the rows.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import pg from 'pg';
import { createClient } from '@neondatabase/neon-js';
import {
  BIN, createDatabase, spawnServer, newSecret, assertCleanExit, CookieJar, jarFetch, installGlobalFetch, raw,
  uniqueEmail, PASSWORD,
} from './harness.mjs';

const HS_SECRET = 'e2e-hs256-secret-for-the-data-api-0123456789';
let database, server, base, client, restoreFetch, db;
const realFetch = globalThis.fetch;
const account = { email: uniqueEmail('rest'), password: PASSWORD, name: 'Rest' };

before(async () => {
  database = await createDatabase();
  // Migrations first (roles, auth.uid()), then the app's table, then the server (schema snapshot at start).
  execFileSync(BIN, ['migrate'], { env: { ...process.env, DATABASE_URL: database.databaseUrl }, stdio: 'pipe' });
  db = new pg.Pool({ ...database.pgConfig, max: 2 });
  await db.query(`
    CREATE TABLE public.posts (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      user_id uuid NOT NULL DEFAULT auth.uid(),
      title text NOT NULL,
      public boolean NOT NULL DEFAULT false);
    ALTER TABLE public.posts ENABLE ROW LEVEL SECURITY;
    CREATE POLICY own ON public.posts TO authenticated USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());
    CREATE POLICY pub ON public.posts FOR SELECT TO anonymous USING (public);
    GRANT USAGE ON SCHEMA public TO authenticated, anonymous;
    GRANT SELECT, INSERT, UPDATE, DELETE ON public.posts TO authenticated;
    GRANT SELECT ON public.posts TO anonymous;
    INSERT INTO public.posts (user_id, title, public) VALUES
      ('00000000-0000-0000-0000-000000000001', 'another user''s public post', true),
      ('00000000-0000-0000-0000-000000000001', 'another user''s private post', false);
    CREATE TABLE public.comments (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      post_id bigint NOT NULL REFERENCES public.posts (id),
      body text NOT NULL);
    ALTER TABLE public.comments ENABLE ROW LEVEL SECURITY;
    CREATE POLICY via_post ON public.comments TO authenticated, anonymous
      USING (EXISTS (SELECT 1 FROM public.posts p WHERE p.id = post_id));
    GRANT SELECT, INSERT ON public.comments TO authenticated;
    GRANT SELECT ON public.comments TO anonymous;
    INSERT INTO public.comments (post_id, body) SELECT id, 'first!' FROM public.posts WHERE public;
    CREATE FUNCTION public.my_post_count() RETURNS bigint LANGUAGE sql STABLE
      AS 'SELECT count(*) FROM public.posts WHERE user_id = auth.uid()';
    CREATE FUNCTION public.posts_titled(prefix text) RETURNS SETOF public.posts LANGUAGE sql STABLE
      AS $$ SELECT * FROM public.posts WHERE title LIKE prefix || '%' $$;
    GRANT EXECUTE ON FUNCTION public.my_post_count(), public.posts_titled(text) TO authenticated, anonymous;`);
  server = await spawnServer({ databaseUrl: database.databaseUrl, secret: newSecret(), env: { PGRST_JWT_SECRET: HS_SECRET } });
  base = `http://localhost:${server.port}`;
  restoreFetch = installGlobalFetch(jarFetch(new CookieJar(), { realFetch }));
  client = createClient({ auth: { url: `${base}/neondb/auth`, allowAnonymous: true }, dataApi: { url: `${base}/neondb/rest/v1` } });
});

after(async () => {
  restoreFetch?.();
  if (server) assertCleanExit(await server.terminate(), server.output());
  await db?.end();
  await database?.drop();
});

test('after signIn, insert(...).select() returns the new row, owned by the signed-in user', async () => {
  const up = await client.auth.signUp.email(account);
  assert.equal(up.error, null);
  const { data, error, status } = await client.from('posts').insert({ title: 'my first post' }).select();
  assert.equal(error, null);
  assert.equal(status, 201);
  assert.equal(data.length, 1);
  assert.equal(data[0].title, 'my first post');
  assert.equal(data[0].user_id, up.data.user.id);
});

test("select('*') returns only the user's rows under USING (user_id = auth.uid())", async () => {
  const { data, error } = await client.from('posts').select('*');
  assert.equal(error, null);
  assert.deepEqual(data.map((r) => r.title), ['my first post']);
});

test('filters, order and single() work through postgrest-js', async () => {
  await client.from('posts').insert({ title: 'my second post' });
  const { data } = await client.from('posts').select('title').order('id', { ascending: false });
  assert.deepEqual(data.map((r) => r.title), ['my second post', 'my first post']);
  const one = await client.from('posts').select('title').eq('title', 'my second post').single();
  assert.equal(one.error, null);
  assert.deepEqual(one.data, { title: 'my second post' });
  const none = await client.from('posts').select('title').eq('title', 'nope').single();
  assert.equal(none.error.code, 'PGRST116');
  assert.match(none.error.details, /0 rows/);
});

test('embedding and RPC through the SDK run as the signed-in user', async () => {
  const { data: mine } = await client.from('posts').select('id');
  await client.from('comments').insert({ post_id: mine[0].id, body: 'my own comment' });
  // One-to-many embed, filtered by RLS on both tables.
  const { data, error } = await client.from('posts').select('title, comments(body)').order('id');
  assert.equal(error, null);
  assert.deepEqual(data.map((p) => [p.title, p.comments.map((c) => c.body)]),
    [['my first post', ['my own comment']], ['my second post', []]]);
  // Many-to-one embed with !inner.
  const back = await client.from('comments').select('body, posts!inner(title)').eq('posts.title', 'my first post');
  assert.equal(back.error, null);
  assert.deepEqual(back.data, [{ body: 'my own comment', posts: { title: 'my first post' } }]);
  // RPC: a scalar function sees auth.uid(); a set-returning one takes filters and a select.
  const count = await client.rpc('my_post_count');
  assert.equal(count.error, null);
  assert.equal(count.data, 2);
  const titled = await client.rpc('posts_titled', { prefix: 'my' }).select('title').order('title', { ascending: false });
  assert.equal(titled.error, null);
  assert.deepEqual(titled.data, [{ title: 'my second post' }, { title: 'my first post' }]);
  const missing = await client.rpc('no_such_function');
  assert.equal(missing.error.code, 'PGRST202');
});

test('signed out with allowAnonymous, the anonymous role reads only the public rows', async () => {
  await client.auth.signOut();
  const { data, error } = await client.from('posts').select('title');
  assert.equal(error, null);
  assert.deepEqual(data.map((r) => r.title), ["another user's public post"]);
});

function hs256(payload, header = { alg: 'HS256', typ: 'JWT' }) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${crypto.createHmac('sha256', HS_SECRET).update(input).digest('base64url')}`;
}

test('forged, expired and alg:none tokens get 401 with a PostgREST error and no data', async () => {
  const now = Math.floor(Date.now() / 1000);
  const good = hs256({ role: 'authenticated', sub: '00000000-0000-0000-0000-000000000001', exp: now + 60 });
  const ok = await raw(`${base}/neondb/rest/v1/posts?select=title`, { headers: { authorization: `Bearer ${good}` } });
  assert.equal(ok.status, 200, 'a valid HS256 token (PGRST_JWT_SECRET) is accepted');
  assert.deepEqual(ok.json.map((r) => r.title).sort(), ["another user's private post", "another user's public post"]);
  const cases = {
    forged: good.slice(0, -2) + (good.endsWith('AA') ? 'BB' : 'AA'),
    expired: hs256({ role: 'authenticated', sub: '00000000-0000-0000-0000-000000000001', exp: now - 3600 }),
    none: `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ role: 'authenticated', exp: now + 60 })).toString('base64url')}.`,
    superuser: hs256({ role: 'postgres', exp: now + 60 }),
  };
  for (const [name, token] of Object.entries(cases)) {
    const r = await raw(`${base}/neondb/rest/v1/posts?select=title`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.status, 401, name);
    assert.match(r.json.code, /^PGRST30[123]$/, name);
    assert.ok(!Array.isArray(r.json), `${name}: no rows`);
    assert.match(r.headers['www-authenticate'] ?? '', /^Bearer/, name);
  }
});

test('injection attempts through select, filters and order get a 4xx and run nothing', async () => {
  const attempts = [
    'select=title,(select%20pg_sleep(1))',
    'select=title&title=eq.x%27;drop%20table%20posts;--',
    'select=title&order=title;drop%20table%20posts',
    'select=title::text;drop%20table%20posts',
    'select=%22title%22%22;drop',
  ];
  for (const q of attempts) {
    const r = await raw(`${base}/neondb/rest/v1/posts?${q}`);
    assert.ok(r.status === 200 || (r.status >= 400 && r.status < 500), `${q}: ${r.status}`);
  }
  const { rows } = await db.query("SELECT to_regclass('public.posts') IS NOT NULL AS exists");
  assert.equal(rows[0].exists, true);
});

test("NOTIFY pgrst, 'reload schema' makes a new table reachable without a restart", async () => {
  const url = `${base}/neondb/rest/v1/late_table`;
  assert.equal((await raw(url)).json.code, 'PGRST205');
  await db.query(`CREATE TABLE public.late_table (id int PRIMARY KEY, name text);
    GRANT SELECT ON public.late_table TO anonymous; INSERT INTO public.late_table VALUES (1, 'late');`);
  await db.query("NOTIFY pgrst, 'reload schema'");
  let r;
  for (let i = 0; i < 50; i++) {
    r = await raw(url);
    if (r.status === 200) break;
    await new Promise((ok) => setTimeout(ok, 100));
  }
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, [{ id: 1, name: 'late' }]);
});
