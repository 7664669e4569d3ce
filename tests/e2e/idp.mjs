// A real OpenID Provider for the OAuth tests: npm `oidc-provider` (pinned in package.json) on 127.0.0.1, plain
// http, issuer http://127.0.0.1:<port>. Clients live in an in-memory adapter, so they can be registered after the
// pgwarden under test has started (its redirect_uri contains its port). Koa middleware in front of the provider
// records every authorize / token / userinfo request and lets a test tamper with what goes back.
//
//   const idp = await startOidc({ clients: [{ client_id, client_secret, redirect_uris }] });
//   idp.addClient({ client_id, client_secret, redirect_uris, token_endpoint_auth_method? })  (again: adds redirect_uris)
//   const cb = await automatedLogin(null, authorizeUrl, { sub, email, email_verified, name })  // = idp.login(...)
//       walks oidc-provider's devInteractions (authorize -> login -> consent -> 303 to redirect_uri) with its own
//       cookie jar and returns the final redirect (callback URL with code, state, iss) without following it;
//       { abort: true } answers the interaction with error=access_denied instead.
//   idp.hooks.authorizeResponse = (url: URL) => URL          rewrite the final redirect (e.g. a foreign `iss`)
//   idp.hooks.tokenRequest = ({ params, headers }) => undefined | { status, headers, body } | 'hang'
//   idp.hooks.tokenResponse = ({ body, params }) => body       rewrite the token endpoint's JSON answer
//   idp.hooks.userinfo = (body) => body
//   idp.tamperIdToken(claimOverrides, { key })                 one-shot tokenResponse hook that re-signs the id_token
//   idp.signIdToken(claims, { key, header })                   mint an id_token (sign-in with idToken)
//       key: 'idp' (the real key) | 'foreign' (other key, same kid) | 'unknown-kid' | 'none' | 'hs256' (client secret)
//            | 'embedded-jwk' (attacker key carried in the header)
//   idp.reset()   clears hooks and logs; idp.stop()
//
// The id_token carries the scope claims (email, email_verified, name) like Google's does (conformIdTokenClaims off);
// the userinfo endpoint answers them too. Refresh tokens are issued to clients with the refresh_token grant.
import http from 'node:http';
import crypto from 'node:crypto';
import { SignJWT, decodeJwt, decodeProtectedHeader, importJWK, exportJWK } from 'jose';
import { CookieJar, raw } from './harness.mjs';

// oidc-provider prints three warnings that are expected here: "Unsupported runtime" (9.x on Node < 22 LTS; it runs
// fine on Node 20, as oauth.mocks.test.mjs checks), devInteractions being on (the point of this IdP) and the token
// body being pre-read (the recording middleware). Those lines are kept out of the test output; others pass.
const EXPECTED_WARNINGS = /oidc-provider WARNING: (Unsupported runtime|a quick start development-only feature devInteractions|already parsed request body)/;
let ProviderClass;
async function loadProvider() {
  if (ProviderClass) return ProviderClass;
  const saved = console.warn;
  console.warn = (...a) => { if (!EXPECTED_WARNINGS.test(String(a[0]))) saved(...a); };
  ProviderClass = (await import('oidc-provider')).default;
  return ProviderClass;
}

// Running IdPs, so automatedLogin(jar, url, ...) finds the one to set the account on by the URL's origin.
const running = new Set();

const b64u = (x) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');

/** oidc-provider storage adapter: one Map per model, private to this IdP. */
function memoryAdapter() {
  const stores = new Map();
  const store = (name) => {
    if (!stores.has(name)) stores.set(name, new Map());
    return stores.get(name);
  };
  class Adapter {
    constructor(name) { this.s = store(name); }
    async upsert(id, payload, expiresIn) {
      this.s.set(id, { payload: structuredClone(payload), exp: expiresIn ? Date.now() + expiresIn * 1000 : Infinity });
    }
    async find(id) {
      const e = this.s.get(id);
      if (!e) return undefined;
      if (e.exp < Date.now()) { this.s.delete(id); return undefined; }
      return structuredClone(e.payload);
    }
    async findByUid(uid) {
      for (const [id, e] of this.s) if (e.payload.uid === uid) return this.find(id);
      return undefined;
    }
    async findByUserCode(code) {
      for (const [id, e] of this.s) if (e.payload.userCode === code) return this.find(id);
      return undefined;
    }
    async consume(id) {
      const e = this.s.get(id);
      if (e) e.payload.consumed = Math.floor(Date.now() / 1000);
    }
    async destroy(id) { this.s.delete(id); }
    async revokeByGrantId(grantId) {
      for (const s of stores.values()) for (const [id, e] of s) if (e.payload.grantId === grantId) s.delete(id);
    }
  }
  return { Adapter, store };
}

function rsaJwk(kid) {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
}
const publicOf = ({ kty, n, e, kid, alg, use }) => ({ kty, n, e, kid, alg, use });

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * Starts an OpenID Provider on 127.0.0.1. Options:
 *   clients    [{client_id, client_secret, redirect_uris, token_endpoint_auth_method?, grant_types?}]
 *   accounts   {sub: {email, email_verified, name, ...claims}}
 *   ttl        overrides of oidc-provider's ttl (seconds), e.g. {AccessToken: 3600}
 *   discovery  (doc) => doc, applied to /.well-known/openid-configuration (mix-up / SSRF tests)
 *   lenientClientAuth (default true): client_secret_basic and client_secret_post are both accepted whatever the
 *              client registered (oidc-provider is strict; the method used is recorded in tokenRequests[].authMethod)
 */
export async function startOidc({ clients = [], accounts = {}, ttl = {}, discovery, lenientClientAuth = true } = {}) {
  const Provider = await loadProvider();
  const server = http.createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const signingKey = rsaJwk(`idp-${crypto.randomBytes(4).toString('hex')}`);
  const foreignKey = rsaJwk(signingKey.kid);  // same kid, other key: a bad signature
  const attackerKey = rsaJwk(`unknown-${crypto.randomBytes(4).toString('hex')}`);
  const { Adapter, store } = memoryAdapter();
  const accountClaims = new Map(Object.entries(accounts));
  const registered = new Map();

  const idp = {
    issuer,
    port,
    url: issuer,
    signingKey,
    publicJwks: { keys: [publicOf(signingKey)] },
    hooks: {},
    authorizeRequests: [],  // URLSearchParams-like plain objects of GET /auth
    tokenRequests: [],      // {params, authMethod, clientId, headers}
    tokenResponses: [],     // the (possibly tampered) JSON bodies sent back
    allTokenResponses: [],  // the same, never cleared by reset() (log checks at the end of a file)
    userinfoRequests: [],
    discoveryRequests: 0,
    jwksRequests: 0,
    hanging: new Set(),
  };

  const provider = new Provider(issuer, {
    adapter: Adapter,
    jwks: { keys: [signingKey] },
    findAccount: async (_ctx, sub) => ({
      accountId: sub,
      claims: async () => ({ sub, ...(accountClaims.get(sub) || {}) }),
    }),
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name', 'picture', 'preferred_username', 'locale'],
    },
    scopes: ['openid', 'offline_access', 'email', 'profile'],
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: true } },
    pkce: { required: () => false },
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    expiresWithSession: async () => false,
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
    cookies: { keys: [crypto.randomBytes(16).toString('hex')] },
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 120,
      IdToken: 3600,
      RefreshToken: 86400,
      Interaction: 600,
      Session: 600,
      Grant: 86400,
      ...ttl,
    },
  });

  provider.use(async (ctx, next) => {
    const path = ctx.path;
    if (ctx.method === 'GET' && path === '/auth') {
      idp.authorizeRequests.push(Object.fromEntries(new URLSearchParams(ctx.querystring)));
    }
    if (path === '/.well-known/openid-configuration') idp.discoveryRequests++;
    if (path === '/jwks') idp.jwksRequests++;
    if (ctx.method === 'POST' && path === '/token') {
      const text = await readBody(ctx.req);
      const params = Object.fromEntries(new URLSearchParams(text));
      let authMethod = 'none';
      let clientId = params.client_id;
      let clientSecret = params.client_secret;
      const authz = ctx.get('authorization');
      if (/^basic /i.test(authz)) {
        authMethod = 'client_secret_basic';
        const decoded = Buffer.from(authz.slice(6).trim(), 'base64').toString('utf8');
        const i = decoded.indexOf(':');
        clientId = decodeURIComponent(decoded.slice(0, i));
        clientSecret = decodeURIComponent(decoded.slice(i + 1));
      } else if (params.client_secret !== undefined) {
        authMethod = 'client_secret_post';
      }
      idp.tokenRequests.push({ params, authMethod, clientId, headers: { ...ctx.headers }, contentType: ctx.get('content-type') });
      const hooked = await idp.hooks.tokenRequest?.({ params, headers: ctx.headers, authMethod, clientId });
      if (hooked === 'hang') {
        await new Promise((resolve) => idp.hanging.add(resolve));
        ctx.status = 504;
        ctx.body = '';
        return;
      }
      if (hooked) {
        ctx.status = hooked.status ?? 200;
        for (const [k, v] of Object.entries(hooked.headers || {})) ctx.set(k, v);
        ctx.body = hooked.body ?? '';
        return;
      }
      // Re-present the body to oidc-provider, converting the client authentication to the registered method.
      const meta = registered.get(clientId);
      let forward = new URLSearchParams(params);
      if (lenientClientAuth && meta && authMethod !== 'none') {
        const wanted = meta.token_endpoint_auth_method || 'client_secret_basic';
        if (wanted === 'client_secret_post') {
          ctx.req.headers.authorization = undefined;
          delete ctx.req.headers.authorization;
          forward.set('client_id', clientId);
          forward.set('client_secret', clientSecret);
        } else if (wanted === 'client_secret_basic') {
          forward.delete('client_secret');
          forward.delete('client_id');
          ctx.req.headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`;
        }
      }
      forward = forward.toString();
      ctx.req.body = forward;
      ctx.req.headers['content-length'] = String(Buffer.byteLength(forward));
      await next();
      if (ctx.body && typeof ctx.body === 'object' && !Buffer.isBuffer(ctx.body)) {
        let body = ctx.body;
        if (idp.hooks.tokenResponse) body = (await idp.hooks.tokenResponse({ body, params })) ?? body;
        ctx.body = body;
        idp.tokenResponses.push(structuredClone(body));
        idp.allTokenResponses.push(structuredClone(body));
      }
      return;
    }
    if (path === '/me') {
      idp.userinfoRequests.push({ authorization: ctx.get('authorization'), method: ctx.method });
    }
    await next();
    if (path === '/.well-known/openid-configuration' && discovery && ctx.body && typeof ctx.body === 'object') {
      ctx.body = discovery(structuredClone(ctx.body));
    }
    if (path === '/me' && idp.hooks.userinfo && ctx.body && typeof ctx.body === 'object') {
      ctx.body = idp.hooks.userinfo(ctx.body) ?? ctx.body;
    }
    if ((path === '/auth' || path.startsWith('/auth/')) && ctx.status >= 300 && ctx.status < 400) {
      const loc = ctx.response.get('location');
      if (loc) {
        const u = new URL(loc, issuer);
        if (u.origin !== issuer && idp.hooks.authorizeResponse) {
          const rewritten = idp.hooks.authorizeResponse(new URL(u)) ?? u;
          ctx.set('location', String(rewritten));
        }
      }
    }
  });

  server.on('request', provider.callback());

  // Registering a client_id again adds its redirect_uris (several pgwarden servers may share one client).
  idp.addClient = (meta) => {
    const prev = registered.get(meta.client_id);
    const full = { response_types: ['code'], grant_types: ['authorization_code', 'refresh_token'], ...meta };
    if (prev) full.redirect_uris = [...new Set([...(prev.redirect_uris || []), ...(meta.redirect_uris || [])])];
    registered.set(full.client_id, full);
    store('Client').set(full.client_id, { payload: full, exp: Infinity });
    return full;
  };
  for (const c of clients) idp.addClient(c);

  idp.setAccount = (sub, claims) => { accountClaims.set(sub, { ...claims }); };

  idp.login = (jar, authorizeUrl, opts) => automatedLogin(jar, authorizeUrl, { ...opts, idp });

  idp.reset = () => {
    idp.hooks = {};
    idp.authorizeRequests.length = 0;
    idp.tokenRequests.length = 0;
    idp.tokenResponses.length = 0;
    idp.userinfoRequests.length = 0;
    for (const r of idp.hanging) r();
    idp.hanging.clear();
  };

  /**
   * Mints an id_token. Defaults: iss = issuer, iat = now, exp = now + 10 min; `claims` override (a claim set to
   * undefined is removed). key: see the file header.
   */
  idp.signIdToken = async (claims, { key = 'idp', header = {}, secret } = {}) => {
    const now = Math.floor(Date.now() / 1000);
    const payload = { iss: issuer, iat: now, exp: now + 600, ...claims };
    for (const k of Object.keys(payload)) if (payload[k] === undefined) delete payload[k];
    if (key === 'none') return `${b64u({ alg: 'none', typ: 'JWT', ...header })}.${b64u(payload)}.`;
    if (key === 'hs256') {
      if (!secret) throw new Error('hs256 needs the client secret');
      return new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: signingKey.kid, ...header })
        .sign(new TextEncoder().encode(secret));
    }
    let jwk = signingKey;
    let hdr = { alg: 'RS256', typ: 'JWT', kid: signingKey.kid };
    if (key === 'foreign') jwk = foreignKey;
    if (key === 'unknown-kid') { jwk = attackerKey; hdr.kid = attackerKey.kid; }
    if (key === 'embedded-jwk') {
      jwk = attackerKey;
      hdr = { alg: 'RS256', typ: 'JWT', jwk: publicOf(attackerKey) };
      delete hdr.jwk.kid;
    }
    const k = await importJWK(jwk, 'RS256');
    return new SignJWT(payload).setProtectedHeader({ ...hdr, ...header }).sign(k);
  };

  /**
   * One-shot: the next token answer's id_token gets `overrides` applied to its claims (undefined removes a claim)
   * and is re-signed with `key`. Returns a promise-like record {original, tampered} filled when it happened.
   */
  idp.tamperIdToken = (overrides = {}, { key = 'idp', secret } = {}) => {
    const rec = {};
    idp.hooks.tokenResponse = async ({ body, params }) => {
      idp.hooks.tokenResponse = undefined;
      if (!body.id_token || params.grant_type !== 'authorization_code') return body;
      const claims = decodeJwt(body.id_token);
      rec.original = body.id_token;
      rec.originalClaims = claims;
      const next = { ...claims, ...overrides };
      rec.tampered = await idp.signIdToken(next, { key, secret });
      return { ...body, id_token: rec.tampered };
    };
    return rec;
  };

  idp.stop = async () => {
    running.delete(idp);
    for (const r of idp.hanging) r();
    idp.hanging.clear();
    server.closeAllConnections?.();
    await new Promise((r) => server.close(() => r()));
  };

  /** Server env enabling this IdP as generic OpenID provider `id` (e.g. ACME -> providerId "acme"). */
  idp.env = (id, clientId, clientSecret, extra = {}) => ({
    PGWARDEN_OAUTH_ALLOW_LOOPBACK: 'true',
    [`PGWARDEN_OAUTH_${id}_CLIENT_ID`]: clientId,
    [`PGWARDEN_OAUTH_${id}_CLIENT_SECRET`]: clientSecret,
    [`PGWARDEN_OAUTH_${id}_ISSUER`]: issuer,
    ...extra,
  });

  running.add(idp);
  return idp;
}

/**
 * Walks an authorization request through oidc-provider's devInteractions like a user's browser at the IdP:
 * GET authorize -> 303 /interaction/:uid -> POST login (login = sub) -> 303 /auth/:uid -> 303 /interaction/:uid2
 * -> POST consent -> 303 /auth/:uid2 -> 303 to the client's redirect_uri. Returns that last Location (string)
 * without following it. `jar` (may be null: a fresh one) holds the IdP's cookies. The account's claims are set
 * from {sub, email, email_verified, name, ...claims}; keys left undefined are not asserted (e.g. email_verified
 * missing). `abort: true` answers the login with access_denied (the provider error path).
 */
export async function automatedLogin(jar, authorizeUrl, opts = {}) {
  const { idp, sub, abort = false, claims = {}, maxHops = 12, ...rest } = opts;
  if (!sub) throw new Error('automatedLogin needs a sub');
  const accountClaims = { ...rest, ...claims };
  for (const k of Object.keys(accountClaims)) if (accountClaims[k] === undefined) delete accountClaims[k];
  const target = idp ?? findIdpFor(authorizeUrl);
  if (target) target.setAccount(sub, accountClaims);
  jar = jar ?? new CookieJar();
  let url = new URL(authorizeUrl);
  const origin = url.origin;
  const trail = [];
  for (let hop = 0; hop < maxHops; hop++) {
    const cookie = jar.header();
    const res = await raw(url.toString(), { headers: cookie ? { Cookie: cookie } : {} });
    jar.store(res.setCookies);
    trail.push(`${res.status} GET ${url.pathname}`);
    if (res.status >= 300 && res.status < 400) {
      const next = new URL(res.headers.location, url);
      if (next.origin !== origin) return next.toString();
      url = next;
      continue;
    }
    if (res.status !== 200) throw new Error(`IdP answered ${res.status} at ${url}: ${res.text.slice(0, 500)}\n${trail.join('\n')}`);
    const m = /^\/interaction\/([^/]+)$/.exec(url.pathname);
    if (!m) throw new Error(`unexpected IdP page ${url}: ${res.text.slice(0, 300)}`);
    const prompt = /name="prompt" value="([a-z]+)"/.exec(res.text)?.[1];
    let post;
    if (abort) {
      url = new URL(`/interaction/${m[1]}/abort`, origin);
      continue;
    } else if (prompt === 'login') {
      post = new URLSearchParams({ prompt: 'login', login: sub, password: 'any' });
    } else if (prompt === 'consent') {
      post = new URLSearchParams({ prompt: 'consent' });
    } else {
      throw new Error(`unknown interaction prompt at ${url}: ${res.text.slice(0, 300)}`);
    }
    const c2 = jar.header();
    const sub2 = await raw(url.toString(), {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...(c2 ? { Cookie: c2 } : {}) },
      body: post.toString(),
    });
    jar.store(sub2.setCookies);
    trail.push(`${sub2.status} POST ${url.pathname} (${prompt})`);
    if (!(sub2.status >= 300 && sub2.status < 400)) throw new Error(`interaction POST answered ${sub2.status}: ${sub2.text.slice(0, 300)}\n${trail.join('\n')}`);
    const next = new URL(sub2.headers.location, url);
    if (next.origin !== origin) return next.toString();
    url = next;
  }
  throw new Error(`no redirect to the client after ${maxHops} hops:\n${trail.join('\n')}`);
}

function findIdpFor(authorizeUrl) {
  const o = new URL(authorizeUrl).origin;
  for (const i of running) if (i.issuer === o) return i;
  return undefined;
}

export { decodeJwt, decodeProtectedHeader, exportJWK };
