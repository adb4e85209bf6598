// Single sign-on for the page: the OpenID Connect authorization code flow with PKCE (RFC 7636,
// S256) as a public client. The server says whether it is on and where the provider is
// (GET /api/auth/config). "Sign in" goes to the provider with a fresh state, nonce and code
// verifier (kept in sessionStorage for this tab); on the way back the state must match, the
// code is exchanged at the token endpoint with the verifier, and the ID token's nonce must
// match. The bearer the page then sends is the token the server names (`bearer`): the access
// token, or the ID token when the server's audience is the page's client id.

export interface AuthConfig {
  sso: boolean;
  issuer?: string;
  client_id?: string;
  authorization_endpoint?: string;
  token_endpoint?: string;
  end_session_endpoint?: string | null;
  scopes?: string;
  bearer?: 'id_token' | 'access_token';
}

/** the sign-in under way: {state, nonce, verifier, search (the view's query), at} */
const PENDING = 'linesmap.sso.pending';
/** 'sso' while the token came from the provider */
const VIA = 'linesmap.via';
/** the ID token, for the provider's sign-out (id_token_hint) */
const ID_TOKEN = 'linesmap.sso.id_token';
/** when the page last went back to the provider by itself (an expired token) */
const RETRIED = 'linesmap.sso.retried';
/** the least time between two automatic sign-ins, ms */
const RETRY_EVERY = 60_000;

interface Pending {
  state: string;
  nonce: string;
  verifier: string;
  search: string;
  at: number;
}
interface Returned {
  code: string | null;
  state: string | null;
  error: string | null;
  error_description: string | null;
}

let config: AuthConfig = { sso: false };

/** base64url without padding (RFC 4648 §5). */
export function b64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function random(bytes: number): string {
  return b64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** The PKCE S256 challenge of a verifier: BASE64URL(SHA-256(verifier)). */
export async function challengeOf(verifier: string): Promise<string> {
  return b64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
}

function pending(): Pending | null {
  try {
    return JSON.parse(sessionStorage.getItem(PENDING) ?? 'null');
  } catch {
    return null;
  }
}

/** The page's own URL without its query: what the provider sends the browser back to. */
function redirectUri(): string {
  return location.origin + location.pathname;
}

// The way back from the provider (?code=…&state=… or ?error=…): taken off the URL at once,
// before the page reads its filters from the query, which is put back as it was.
const returned: Returned | null = (() => {
  const q = new URLSearchParams(location.search);
  const p = pending();
  if (!p || !q.has('state') || !(q.has('code') || q.has('error'))) return null;
  const r = { code: q.get('code'), state: q.get('state'), error: q.get('error'), error_description: q.get('error_description') };
  history.replaceState(null, '', location.pathname + p.search + location.hash);
  return r;
})();

export function hasReturn(): boolean {
  return returned !== null;
}

export function signedInThroughProvider(): boolean {
  return sessionStorage.getItem(VIA) === 'sso';
}

/** Forgets the provider's sign-in (another way of signing in, or none). */
export function forget(): void {
  for (const k of [PENDING, VIA, ID_TOKEN]) sessionStorage.removeItem(k);
}

/** How the server's page signs in; `sso: false` when the server does not say. */
export async function loadConfig(): Promise<AuthConfig> {
  try {
    const r = await fetch('/api/auth/config', { headers: { Accept: 'application/json' } });
    if (r.ok) config = await r.json();
  } catch {
    config = { sso: false };
  }
  return config;
}

/** Sends the browser to the provider's authorization endpoint. */
export async function goToProvider(cfg: AuthConfig): Promise<void> {
  if (!cfg.authorization_endpoint || !cfg.client_id) throw new Error('The server names no identity provider to sign in with.');
  if (!window.isSecureContext || !crypto.subtle) throw new Error('Signing in through the identity provider needs HTTPS (Web Crypto).');
  const p: Pending = { state: random(16), nonce: random(16), verifier: random(32), search: location.search, at: Date.now() };
  sessionStorage.setItem(PENDING, JSON.stringify(p));
  const u = new URL(cfg.authorization_endpoint);
  const q = u.searchParams;
  q.set('response_type', 'code');
  q.set('client_id', cfg.client_id);
  q.set('redirect_uri', redirectUri());
  q.set('scope', cfg.scopes || 'openid');
  q.set('state', p.state);
  q.set('nonce', p.nonce);
  q.set('code_challenge', await challengeOf(p.verifier));
  q.set('code_challenge_method', 'S256');
  location.assign(u.toString());
}

/** Goes back to the provider by itself (an expired token), at most once a minute; false if
 * it may not (then the page asks). */
export async function signInAgain(): Promise<boolean> {
  const last = Number(sessionStorage.getItem(RETRIED) ?? 0);
  if (!config.sso || Date.now() - last < RETRY_EVERY) return false;
  sessionStorage.setItem(RETRIED, String(Date.now()));
  sessionStorage.removeItem(VIA);
  await goToProvider(config);
  return true;
}

/** The claims of a JWT, unverified (the server verifies the bearer; the page checks only that
 * this ID token answers its own request). */
function claimsOf(jwt: string): Record<string, unknown> {
  const part = jwt.split('.')[1] ?? '';
  const bin = atob(part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '='));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))));
}

/** Finishes a sign-in on the way back from the provider: the bearer token, or an error that
 * says plainly what went wrong. */
export async function finishSignIn(cfg: AuthConfig): Promise<string> {
  const p = pending();
  sessionStorage.removeItem(PENDING);
  const r = returned;
  if (!r || !p) throw new Error('No sign-in was under way in this tab; sign in again.');
  if (r.error) {
    const why = r.error === 'access_denied' ? 'the sign-in was refused or cancelled' : 'the sign-in failed';
    throw new Error(`The identity provider says ${why} (${r.error}${r.error_description ? `: ${r.error_description}` : ''}).`);
  }
  if (r.state !== p.state) throw new Error('The answer from the identity provider is not for this sign-in (its state does not match); nothing was accepted. Sign in again.');
  if (!r.code) throw new Error('The identity provider sent no authorization code.');
  let res: Response;
  try {
    res = await fetch(cfg.token_endpoint!, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: r.code, redirect_uri: redirectUri(), client_id: cfg.client_id!, code_verifier: p.verifier }),
    });
  } catch (x) {
    throw new Error(`The identity provider's token endpoint could not be reached (${(x as Error).message}).`);
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    const detail = [body.error, body.error_description].filter(Boolean).join(': ');
    throw new Error(`The identity provider did not exchange the code for a token (HTTP ${res.status}${detail ? `, ${detail}` : ''}).`);
  }
  const id = body.id_token as string | undefined;
  if (!id) throw new Error('The identity provider sent no ID token (is "openid" among the scopes?).');
  let claims: Record<string, unknown>;
  try {
    claims = claimsOf(id);
  } catch {
    throw new Error('The ID token from the identity provider is not a JWT.');
  }
  if (claims.nonce !== p.nonce) throw new Error('The ID token is not for this sign-in (its nonce does not match); nothing was accepted.');
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (claims.iss !== cfg.issuer || !aud.includes(cfg.client_id)) throw new Error('The ID token was not issued by the configured provider for this page (iss, aud).');
  const bearer = cfg.bearer === 'id_token' ? id : (body.access_token as string | undefined);
  if (!bearer) throw new Error('The identity provider sent no access token.');
  sessionStorage.setItem(VIA, 'sso');
  sessionStorage.setItem(ID_TOKEN, id);
  return bearer;
}

/** Sends the browser to the provider's sign-out, if it has one; false if not. */
export function signOutAtProvider(): boolean {
  const hint = sessionStorage.getItem(ID_TOKEN);
  forget();
  if (!config.end_session_endpoint) return false;
  const u = new URL(config.end_session_endpoint);
  u.searchParams.set('client_id', config.client_id ?? '');
  u.searchParams.set('post_logout_redirect_uri', redirectUri());
  if (hint) u.searchParams.set('id_token_hint', hint);
  location.assign(u.toString());
  return true;
}
