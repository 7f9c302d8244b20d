// A small fake OpenID Connect provider for the browser tests: a discovery document, an /authorize that
// signs the configured user in at once (redirecting back with a code and the given state), a /token that
// returns an RS256-signed id_token and an access_token, /userinfo, and /jwks. Keys are made per run.
//
//   const idp = await startFakeOidc({ clientId: 'tokenjar-e2e', clientSecret: 's3cret' });
//   idp.user = { sub: 'u-1', email: 'sam@school.example', name: 'Sam', emailVerified: true };
//   ... tokenjar with TOKENJAR_OIDC_DISCOVERY_URL=idp.discoveryUrl ...
//   await idp.close();

import crypto from 'node:crypto';
import http from 'node:http';
import { once } from 'node:events';

const b64url = (buf) => Buffer.from(buf).toString('base64url');

export async function startFakeOidc({ clientId, clientSecret, host = '127.0.0.1' } = {}) {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = `e2e-${crypto.randomBytes(4).toString('hex')}`;
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
  /** code → what /token needs to answer */
  const codes = new Map();
  /** access token → user */
  const tokens = new Map();
  const log = [];

  const idp = {
    /** The user /authorize signs in next. */
    user: null,
    issuer: '',
    discoveryUrl: '',
    log,
    close: async () => {
      server.closeAllConnections?.();
      server.close();
      await once(server, 'close').catch(() => {});
    },
  };

  function sign(claims) {
    const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid }));
    const payload = b64url(JSON.stringify(claims));
    const sig = crypto.sign('sha256', Buffer.from(`${header}.${payload}`), privateKey);
    return `${header}.${payload}.${b64url(sig)}`;
  }

  function send(res, status, body, headers = {}) {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers });
    res.end(text);
  }

  async function readBody(req) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    return Buffer.concat(chunks).toString('utf8');
  }

  function clientOk(req, form) {
    let id = form.get('client_id');
    let secret = form.get('client_secret');
    const auth = req.headers.authorization || '';
    if (auth.startsWith('Basic ')) {
      const [u, p] = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':');
      id = decodeURIComponent(u);
      secret = decodeURIComponent(p ?? '');
    }
    return id === clientId && secret === clientSecret;
  }

  const server = http.createServer(async (req, res) => {
    const u = new URL(req.url, idp.issuer);
    log.push(`${req.method} ${u.pathname}`);
    try {
      if (u.pathname === '/.well-known/openid-configuration') {
        return send(res, 200, {
          issuer: idp.issuer,
          authorization_endpoint: `${idp.issuer}/authorize`,
          token_endpoint: `${idp.issuer}/token`,
          userinfo_endpoint: `${idp.issuer}/userinfo`,
          jwks_uri: `${idp.issuer}/jwks`,
          response_types_supported: ['code'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['RS256'],
          scopes_supported: ['openid', 'email', 'profile'],
          token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
          claims_supported: ['sub', 'email', 'email_verified', 'name', 'iss', 'aud', 'exp', 'iat', 'nonce'],
        });
      }
      if (u.pathname === '/jwks') return send(res, 200, { keys: [jwk] });
      if (u.pathname === '/authorize') {
        const redirect = u.searchParams.get('redirect_uri');
        const state = u.searchParams.get('state');
        if (u.searchParams.get('client_id') !== clientId || !redirect) return send(res, 400, { error: 'invalid_request' });
        if (!idp.user) return send(res, 500, { error: 'no user configured in the fake provider' });
        const code = crypto.randomBytes(16).toString('hex');
        codes.set(code, { user: { ...idp.user }, nonce: u.searchParams.get('nonce'), redirect });
        const back = new URL(redirect);
        back.searchParams.set('code', code);
        if (state !== null) back.searchParams.set('state', state);
        res.writeHead(302, { Location: back.href });
        return res.end();
      }
      if (u.pathname === '/token' && req.method === 'POST') {
        const form = new URLSearchParams(await readBody(req));
        if (!clientOk(req, form)) return send(res, 401, { error: 'invalid_client' });
        if (form.get('grant_type') !== 'authorization_code') return send(res, 400, { error: 'unsupported_grant_type' });
        const entry = codes.get(form.get('code') ?? '');
        codes.delete(form.get('code') ?? '');
        if (!entry) return send(res, 400, { error: 'invalid_grant' });
        if (form.get('redirect_uri') && form.get('redirect_uri') !== entry.redirect) return send(res, 400, { error: 'invalid_grant' });
        const now = Math.floor(Date.now() / 1000);
        const claims = {
          iss: idp.issuer,
          sub: entry.user.sub,
          aud: clientId,
          iat: now,
          exp: now + 600,
          email: entry.user.email,
          email_verified: entry.user.emailVerified !== false,
          name: entry.user.name,
        };
        if (entry.nonce) claims.nonce = entry.nonce;
        const access = crypto.randomBytes(16).toString('hex');
        tokens.set(access, entry.user);
        return send(res, 200, {
          access_token: access,
          token_type: 'Bearer',
          expires_in: 600,
          scope: 'openid email profile',
          id_token: sign(claims),
        });
      }
      if (u.pathname === '/userinfo') {
        const user = tokens.get((req.headers.authorization || '').replace(/^Bearer\s+/i, ''));
        if (!user) return send(res, 401, { error: 'invalid_token' });
        return send(res, 200, { sub: user.sub, email: user.email, email_verified: user.emailVerified !== false, name: user.name });
      }
      send(res, 404, { error: 'not_found' });
    } catch (e) {
      send(res, 500, { error: String(e?.message || e) });
    }
  });
  server.listen(0, host);
  await once(server, 'listening');
  idp.issuer = `http://${host}:${server.address().port}`;
  idp.discoveryUrl = `${idp.issuer}/.well-known/openid-configuration`;
  return idp;
}
