// A test OpenID Connect provider for the page's sign-in (node's http and crypto only): the
// discovery document, an authorization endpoint that sends the browser straight back with a
// code (recording the PKCE code_challenge), a token endpoint that checks the code_verifier
// against it (S256, computed here with node's crypto) and issues RS256 JWTs (an ID token with
// the nonce, an access token for the server's audience, both with the role claim), the JWKS,
// and a sign-out endpoint. What it saw is kept in `log` for the test to check.
//
// `next` sets how the next authorization goes: 'ok', 'deny' (error=access_denied),
// 'wrong_state' (a state the page did not send), 'bad_challenge' (the challenge recorded is
// not the page's, so the page's verifier fails at the token endpoint).
import http from 'node:http';
import crypto from 'node:crypto';

const b64url = (buf) => Buffer.from(buf).toString('base64url');
export const s256 = (verifier) => b64url(crypto.createHash('sha256').update(verifier, 'ascii').digest());

export async function startProvider({ clientId, audience, sub, name, roles }) {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = `syn-test-${crypto.randomBytes(4).toString('hex')}`;
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
  const log = { authorizations: [], exchanges: [], logouts: [], issued: [] };
  const codes = new Map();
  // pageOrigin: the page's origin (set once the server listens): CORS and redirect_uri
  const provider = { log, next: 'ok', base: '', pageOrigin: '' };

  const sign = (claims) => {
    const head = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid }));
    const body = b64url(JSON.stringify(claims));
    const sig = crypto.sign('RSA-SHA256', Buffer.from(`${head}.${body}`), privateKey);
    return `${head}.${body}.${b64url(sig)}`;
  };
  /** a token as the provider issues it; `exp` seconds from now (negative: expired). */
  provider.token = (aud, extra = {}, exp = 300) => {
    const now = Math.floor(Date.now() / 1000);
    return sign({ iss: provider.base, sub, name, aud, iat: now, exp: now + exp, roles, ...extra });
  };

  const send = (res, status, body, headers = {}) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': typeof body === 'string' ? 'text/plain' : 'application/json', 'Cache-Control': 'no-store', ...headers });
    res.end(text);
  };
  const cors = (req) => (req.headers.origin === provider.pageOrigin ? { 'Access-Control-Allow-Origin': provider.pageOrigin, Vary: 'Origin' } : {});

  const server = http.createServer(async (req, res) => {
    const u = new URL(req.url, provider.base);
    if (req.method === 'GET' && u.pathname === '/.well-known/openid-configuration') {
      return send(res, 200, {
        issuer: provider.base,
        authorization_endpoint: `${provider.base}/authorize`,
        token_endpoint: `${provider.base}/token`,
        end_session_endpoint: `${provider.base}/logout`,
        jwks_uri: `${provider.base}/jwks`,
        response_types_supported: ['code'],
        code_challenge_methods_supported: ['S256'],
        id_token_signing_alg_values_supported: ['RS256'],
      });
    }
    if (req.method === 'GET' && u.pathname === '/jwks') return send(res, 200, { keys: [jwk] });
    if (req.method === 'GET' && u.pathname === '/authorize') {
      const q = Object.fromEntries(u.searchParams);
      log.authorizations.push(q);
      const mode = provider.next;
      provider.next = 'ok';
      if (q.response_type !== 'code' || q.client_id !== clientId || !q.redirect_uri?.startsWith(`${provider.pageOrigin}/`) || q.code_challenge_method !== 'S256' || !q.code_challenge) {
        return send(res, 400, `bad authorization request: ${JSON.stringify(q)}`);
      }
      const back = new URL(q.redirect_uri);
      if (mode === 'deny') {
        back.searchParams.set('error', 'access_denied');
        back.searchParams.set('error_description', 'the user said no');
        back.searchParams.set('state', q.state);
      } else {
        const code = b64url(crypto.randomBytes(24));
        codes.set(code, { challenge: mode === 'bad_challenge' ? s256('not the page verifier') : q.code_challenge, redirect_uri: q.redirect_uri, nonce: q.nonce, used: false });
        back.searchParams.set('code', code);
        back.searchParams.set('state', mode === 'wrong_state' ? b64url(crypto.randomBytes(16)) : q.state);
      }
      res.writeHead(302, { Location: back.toString() });
      return res.end();
    }
    if (req.method === 'OPTIONS' && u.pathname === '/token') {
      res.writeHead(204, { ...cors(req), 'Access-Control-Allow-Methods': 'POST', 'Access-Control-Allow-Headers': 'content-type' });
      return res.end();
    }
    if (req.method === 'POST' && u.pathname === '/token') {
      let raw = '';
      for await (const chunk of req) raw += chunk;
      const f = Object.fromEntries(new URLSearchParams(raw));
      const c = codes.get(f.code);
      const refuse = (why) => {
        log.exchanges.push({ ok: false, why, form: f });
        return send(res, 400, { error: 'invalid_grant', error_description: why }, cors(req));
      };
      if (f.grant_type !== 'authorization_code') return refuse('grant_type is not authorization_code');
      if (!c || c.used) return refuse('unknown or used code');
      c.used = true;
      if (f.client_id !== clientId) return refuse('wrong client_id');
      if (f.redirect_uri !== c.redirect_uri) return refuse('redirect_uri differs from the authorization request');
      if (!f.code_verifier || s256(f.code_verifier) !== c.challenge) return refuse('code_verifier does not match the code_challenge (S256)');
      const id_token = provider.token(clientId, { nonce: c.nonce });
      const access_token = provider.token(audience);
      log.exchanges.push({ ok: true, form: f, challenge: c.challenge });
      log.issued.push({ id_token, access_token });
      return send(res, 200, { token_type: 'Bearer', expires_in: 300, id_token, access_token, scope: 'openid profile' }, cors(req));
    }
    if (req.method === 'GET' && u.pathname === '/logout') {
      const q = Object.fromEntries(u.searchParams);
      log.logouts.push(q);
      res.writeHead(302, { Location: q.post_logout_redirect_uri || provider.pageOrigin });
      return res.end();
    }
    send(res, 404, 'not found');
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  provider.base = `http://127.0.0.1:${server.address().port}`;
  provider.close = () => new Promise((ok) => server.close(ok));
  return provider;
}
