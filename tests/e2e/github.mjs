// A GitHub-shaped OAuth 2.0 server on 127.0.0.1 (plain http) for the non-OIDC provider path:
//   GET  /login/oauth/authorize     302 to redirect_uri with code + state right away (the "signed-in" user is the
//                                   one set with gh.as(user)); remembers code_challenge(+_method)
//   POST /login/oauth/access_token  form (or JSON) body; client_id/client_secret in the body or HTTP Basic; checks the
//                                   code (single use, 10 min), redirect_uri, PKCE S256. Errors are answered like
//                                   GitHub does: HTTP 200 with {error, error_description, error_uri}. JSON with
//                                   `Accept: application/json`, else application/x-www-form-urlencoded.
//                                   grant_type=refresh_token when gh.expiringTokens is on (GitHub App user tokens).
//   GET  /user                      {login, id, name, email (public email or null), avatar_url, ...}; 401 without a
//                                   valid token; 403 without User-Agent (GitHub's rule)
//   GET  /user/emails               [{email, primary, verified, visibility}]; 404 when the token lacks user:email
//
//   const gh = await startGithub({ clients: [{ client_id, client_secret }] })
//   gh.as({ id, login, name, email, avatar_url, emails: [...] })   the user who "is signed in at GitHub"
//   gh.authorize(url, { user?, error? }) -> the callback URL (Location) without following it
//   gh.env(clientId, clientSecret) -> the PGWARDEN_OAUTH_GITHUB_* variables pointing pgwarden here
//   gh.hooks.token = ({ params }) => undefined | { status, headers, body } | 'hang'   (fault injection)
//   gh.hooks.user / gh.hooks.emails = (body, user) => body
//   gh.hooks.api = ({ path, authorization }) => undefined | { status, headers, body }    (/user, /user/emails faults)
//   logs: authorizeRequests, tokenRequests ({params, authMethod, accept}), apiRequests, issued (tokens)
import http from 'node:http';
import crypto from 'node:crypto';
import { raw } from './harness.mjs';

const rnd = (n = 20) => crypto.randomBytes(n).toString('hex');

export async function startGithub({ clients = [], requireUserAgent = true } = {}) {
  const clientMap = new Map(clients.map((c) => [c.client_id, c]));
  const codes = new Map();     // code -> {clientId, redirectUri, user, challenge, method, scope, expires, used}
  const tokens = new Map();    // access token -> {user, scope, expires}
  const refresh = new Map();   // refresh token -> {user, scope, clientId}
  const hanging = new Set();
  const gh = {
    hooks: {},
    authorizeRequests: [],
    tokenRequests: [],
    apiRequests: [],
    issued: [],
    allIssued: [],  // never cleared by reset()
    user: null,
    expiringTokens: false,   // GitHub App user-to-server tokens: expires_in + refresh_token
    accessTokenTtl: 28800,
  };

  function userFor(u) {
    return {
      login: u.login,
      id: u.id,
      node_id: `U_${u.id}`,
      avatar_url: u.avatar_url ?? `https://avatars.githubusercontent.com/u/${u.id}?v=4`,
      html_url: `https://github.com/${u.login}`,
      type: 'User',
      site_admin: false,
      name: u.name ?? null,
      company: null,
      blog: '',
      location: null,
      email: u.email ?? null,
      hireable: null,
      bio: null,
      public_repos: 1,
      followers: 0,
      following: 0,
      created_at: '2020-01-01T00:00:00Z',
      updated_at: '2024-01-01T00:00:00Z',
    };
  }

  function tokenAnswer(res, accept, obj) {
    if (/application\/json/.test(accept || '')) {
      res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(obj));
    } else {
      res.writeHead(200, { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8' });
      res.end(new URLSearchParams(Object.entries(obj).map(([k, v]) => [k, String(v)])).toString());
    }
  }
  const tokenError = (res, accept, error, description) => tokenAnswer(res, accept, {
    error, error_description: description, error_uri: 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors',
  });

  function issue(user, scope, clientId) {
    const access = `gho_${rnd(18)}`;
    const out = { access_token: access, token_type: 'bearer', scope };
    const rec = { user, scope, expires: Infinity };
    if (gh.expiringTokens) {
      rec.expires = Date.now() + gh.accessTokenTtl * 1000;
      const rt = `ghr_${rnd(30)}`;
      refresh.set(rt, { user, scope, clientId });
      Object.assign(out, { expires_in: gh.accessTokenTtl, refresh_token: rt, refresh_token_expires_in: 15897600 });
    }
    tokens.set(access, rec);
    gh.issued.push({ ...out, userId: user.id });
    gh.allIssued.push({ ...out, userId: user.id });
    return out;
  }

  async function readBody(req) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    return Buffer.concat(chunks).toString('utf8');
  }

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    try {
      if (req.method === 'GET' && url.pathname === '/login/oauth/authorize') {
        const q = Object.fromEntries(url.searchParams);
        gh.authorizeRequests.push(q);
        const client = clientMap.get(q.client_id);
        if (!client) { res.writeHead(404, { 'Content-Type': 'text/plain' }); res.end('unknown client_id'); return; }
        const redirect = new URL(q.redirect_uri || client.redirect_uri);
        const forced = gh.hooks.authorize?.(q);
        if (forced?.error) {
          redirect.searchParams.set('error', forced.error);
          redirect.searchParams.set('error_description', forced.error_description ?? 'The user has denied your application access.');
          redirect.searchParams.set('error_uri', 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#access-denied');
          if (q.state !== undefined) redirect.searchParams.set('state', q.state);
          res.writeHead(302, { Location: redirect.toString() });
          res.end();
          return;
        }
        if (!gh.user) { res.writeHead(500); res.end('github mock: no user set (gh.as(user))'); return; }
        const code = rnd(10);
        codes.set(code, {
          clientId: q.client_id, redirectUri: q.redirect_uri, user: structuredClone(gh.user),
          challenge: q.code_challenge, method: q.code_challenge_method, scope: (q.scope || '').split(/[ ,]+/).filter(Boolean).join(','),
          expires: Date.now() + 600_000, used: false,
        });
        redirect.searchParams.set('code', code);
        if (q.state !== undefined) redirect.searchParams.set('state', q.state);
        res.writeHead(302, { Location: redirect.toString() });
        res.end();
        return;
      }
      if (req.method === 'POST' && url.pathname === '/login/oauth/access_token') {
        const text = await readBody(req);
        const ct = req.headers['content-type'] || '';
        const params = /json/.test(ct) ? JSON.parse(text || '{}') : Object.fromEntries(new URLSearchParams(text));
        let authMethod = 'none';
        let clientId = params.client_id;
        let secret = params.client_secret;
        const authz = req.headers.authorization || '';
        if (/^basic /i.test(authz)) {
          authMethod = 'client_secret_basic';
          const d = Buffer.from(authz.slice(6).trim(), 'base64').toString('utf8');
          const i = d.indexOf(':');
          clientId = decodeURIComponent(d.slice(0, i));
          secret = decodeURIComponent(d.slice(i + 1));
        } else if (secret !== undefined) authMethod = 'client_secret_post';
        const accept = req.headers.accept;
        gh.tokenRequests.push({ params, authMethod, accept, contentType: ct, userAgent: req.headers['user-agent'] });
        const hooked = await gh.hooks.token?.({ params, headers: req.headers });
        if (hooked === 'hang') { await new Promise((r) => hanging.add(r)); res.writeHead(504); res.end(); return; }
        if (hooked) { res.writeHead(hooked.status ?? 200, hooked.headers || {}); res.end(hooked.body ?? ''); return; }
        const client = clientMap.get(clientId);
        if (!client || client.client_secret !== secret) return tokenError(res, accept, 'incorrect_client_credentials', 'The client_id and/or client_secret passed are incorrect.');
        if (params.grant_type === 'refresh_token') {
          const r = refresh.get(params.refresh_token);
          if (!r || r.clientId !== clientId) return tokenError(res, accept, 'bad_refresh_token', 'The refresh token passed is incorrect or expired.');
          refresh.delete(params.refresh_token);
          return tokenAnswer(res, accept, issue(r.user, r.scope, clientId));
        }
        const c = codes.get(params.code);
        const bad = () => tokenError(res, accept, 'bad_verification_code', 'The code passed is incorrect or expired.');
        if (!c || c.used || c.expires < Date.now() || c.clientId !== clientId) return bad();
        if (c.redirectUri && params.redirect_uri && params.redirect_uri !== c.redirectUri) {
          return tokenError(res, accept, 'redirect_uri_mismatch', 'The redirect_uri MUST match the registered callback URL for this application.');
        }
        if (c.challenge) {
          const v = params.code_verifier || '';
          const ok = c.method === 'S256' && v.length >= 43 && v.length <= 128
            && crypto.createHash('sha256').update(v).digest('base64url') === c.challenge;
          if (!ok) return bad();
        }
        c.used = true;  // single use
        return tokenAnswer(res, accept, issue(c.user, c.scope, clientId));
      }
      if (req.method === 'GET' && (url.pathname === '/user' || url.pathname === '/user/emails')) {
        const authz = req.headers.authorization || '';
        gh.apiRequests.push({ path: url.pathname, authorization: authz, userAgent: req.headers['user-agent'], accept: req.headers.accept });
        if (requireUserAgent && !req.headers['user-agent']) {
          res.writeHead(403, { 'Content-Type': 'text/plain' });
          res.end('Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required).');
          return;
        }
        const forced = gh.hooks.api?.({ path: url.pathname, authorization: authz });
        if (forced) {
          res.writeHead(forced.status ?? 200, { 'Content-Type': 'application/json; charset=utf-8', ...(forced.headers || {}) });
          res.end(typeof forced.body === 'string' ? forced.body : JSON.stringify(forced.body ?? {}));
          return;
        }
        const m = /^(?:bearer|token)\s+(\S+)$/i.exec(authz);
        const t = m && tokens.get(m[1]);
        if (!t || t.expires < Date.now()) {
          res.writeHead(401, { 'Content-Type': 'application/json; charset=utf-8' });
          res.end(JSON.stringify({ message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' }));
          return;
        }
        const current = gh.users.get(t.user.id) ?? t.user;
        let body;
        if (url.pathname === '/user') {
          body = userFor(current);
          if (gh.hooks.user) body = gh.hooks.user(body, current) ?? body;
        } else {
          if (!t.scope.split(',').includes('user:email') && !t.scope.split(',').includes('user')) {
            res.writeHead(404, { 'Content-Type': 'application/json; charset=utf-8' });
            res.end(JSON.stringify({ message: 'Not Found', documentation_url: 'https://docs.github.com/rest/users/emails#list-email-addresses-for-the-authenticated-user', status: '404' }));
            return;
          }
          body = (current.emails ?? []).map((e) => ({ email: e.email, primary: !!e.primary, verified: !!e.verified, visibility: e.visibility ?? null }));
          if (gh.hooks.emails) body = gh.hooks.emails(body, current) ?? body;
        }
        res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'X-OAuth-Scopes': t.scope.split(',').join(', ') });
        res.end(JSON.stringify(body));
        return;
      }
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ message: 'Not Found' }));
    } catch (e) {
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(String(e?.stack || e));
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  gh.port = port;
  gh.url = `http://127.0.0.1:${port}`;
  gh.users = new Map();  // id -> latest profile given to as(): /user answers the current profile

  gh.addClient = (c) => { clientMap.set(c.client_id, c); };
  gh.as = (user) => {
    gh.user = structuredClone(user);
    gh.users.set(user.id, structuredClone(user));
    return gh.user;
  };
  /** GET the authorize URL (as the browser would, signed in at GitHub as `user`); returns the Location. */
  gh.authorize = async (authorizeUrl, { user, error } = {}) => {
    if (user) gh.as(user);
    if (error) gh.hooks.authorize = () => { gh.hooks.authorize = undefined; return { error }; };
    const r = await raw(authorizeUrl);
    if (r.status !== 302) throw new Error(`github authorize answered ${r.status}: ${r.text}`);
    return r.headers.location;
  };
  gh.reset = () => {
    gh.hooks = {};
    gh.authorizeRequests.length = 0;
    gh.tokenRequests.length = 0;
    gh.apiRequests.length = 0;
    gh.issued.length = 0;
    gh.expiringTokens = false;
    for (const r of hanging) r();
    hanging.clear();
  };
  gh.hanging = hanging;
  gh.env = (clientId, clientSecret, extra = {}) => ({
    PGWARDEN_OAUTH_ALLOW_LOOPBACK: 'true',
    PGWARDEN_OAUTH_GITHUB_CLIENT_ID: clientId,
    PGWARDEN_OAUTH_GITHUB_CLIENT_SECRET: clientSecret,
    PGWARDEN_OAUTH_GITHUB_AUTHORIZATION_URL: `${gh.url}/login/oauth/authorize`,
    PGWARDEN_OAUTH_GITHUB_TOKEN_URL: `${gh.url}/login/oauth/access_token`,
    PGWARDEN_OAUTH_GITHUB_USER_URL: `${gh.url}/user`,
    PGWARDEN_OAUTH_GITHUB_EMAILS_URL: `${gh.url}/user/emails`,
    ...extra,
  });
  gh.stop = async () => {
    for (const r of hanging) r();
    hanging.clear();
    server.closeAllConnections?.();
    await new Promise((r) => server.close(() => r()));
  };
  return gh;
}
