// Sign-in: the bearer token (kept for this browser tab only, in sessionStorage), the reason for
// access sent as X-Justification with person-level queries, and what the role may see. With
// single sign-on (GET /api/auth/config says `sso: true`), "Sign in" goes to the identity
// provider (authorization code with PKCE, see sso.ts); otherwise the page takes a token.
import * as S from './sso';

const TOKEN = 'linesmap.token';
const REASON = 'linesmap.reason';

export type RoleName = 'viewer' | 'btp_planner' | 'analyst' | 'force_analyst' | 'admin';
export interface Me {
  name: string | null;
  role: RoleName | null;
  open_demo: boolean;
  disclosure_control: { applied: boolean; suppressed_below?: number; rounded_to_base?: number };
  person_summaries: boolean;
  journeys: 'all' | 'force' | 'btp_sourced' | 'none';
  /** a force analyst's force (GSS code) */
  force?: string | null;
  /** the protective marking of what the page prints (`serve --marking`) */
  marking?: string;
}

const $ = (id: string) => document.getElementById(id) as HTMLElement;

export function token(): string | null {
  return sessionStorage.getItem(TOKEN);
}
export function reason(): string {
  return sessionStorage.getItem(REASON) ?? '';
}
export function setReason(r: string) {
  if (r.trim()) sessionStorage.setItem(REASON, r.trim());
  else sessionStorage.removeItem(REASON);
}

/** Headers of every API request: the token, if signed in. */
export function authHeaders(): Record<string, string> {
  const t = token();
  return t ? { Authorization: `Bearer ${t}` } : {};
}

/** MapLibre's `transformRequest`: the sign-in goes with the map's own requests (the journeys'
 * vector tiles, the glyphs) to this page's origin, and never to another. */
export function sameOriginAuth(url: string): { url: string; headers?: Record<string, string> } {
  let same = false;
  try {
    same = new URL(url, location.href).origin === location.origin;
  } catch {
    same = false;
  }
  const h = same ? authHeaders() : {};
  return Object.keys(h).length ? { url, headers: h } : { url };
}

export function signOut() {
  const viaSso = S.signedInThroughProvider();
  sessionStorage.removeItem(TOKEN);
  sessionStorage.removeItem(REASON);
  if (viaSso && S.signOutAtProvider()) return;
  location.reload();
}

/** The server answered 401 to an API request: a provider's token that has expired (or was
 * revoked there) is renewed by signing in again, the view kept; a token from the token file
 * is left as it is (the error shows). */
let renewing = false;
export function unauthorized(): void {
  // the layers are fetched in parallel: only the first 401 acts
  if (renewing || !S.signedInThroughProvider()) return;
  renewing = true;
  sessionStorage.removeItem(TOKEN);
  void S.signInAgain().then((went) => {
    if (!went) location.reload();
  });
}

let lastRefusal = '';

async function whoami(): Promise<Me | null> {
  const r = await fetch('/api/whoami', { headers: { Accept: 'application/json', ...authHeaders() } });
  if (r.status === 401) {
    lastRefusal = (await r.json().catch(() => null))?.message ?? 'HTTP 401';
    return null;
  }
  if (!r.ok) throw new Error(`GET /api/whoami: HTTP ${r.status}`);
  return r.json();
}

/** Who the page acts for: in open demo mode nobody signs in; otherwise the sign-in form
 * until a token the server accepts is given (through the identity provider when the server
 * has single sign-on). */
export async function establish(): Promise<Me> {
  const [health, cfg] = await Promise.all([
    fetch('/health', { headers: { Accept: 'application/json' } }).then((r) => r.json()),
    S.loadConfig(),
  ]);
  let failure = '';
  const returned = cfg.sso && S.hasReturn();
  if (returned) {
    try {
      sessionStorage.setItem(TOKEN, await S.finishSignIn(cfg));
    } catch (x) {
      failure = (x as Error).message;
    }
  }
  if (health.auth === 'open_demo' || token()) {
    const me = await whoami();
    if (me) return me;
    sessionStorage.removeItem(TOKEN);
    if (returned && !failure) failure = `The server did not accept the identity provider's token: ${lastRefusal}`;
    // a provider's token that has expired: sign in again (at most once a minute, so a token
    // the server keeps refusing cannot send the page round in circles)
    else if (S.signedInThroughProvider() && (await S.signInAgain())) return new Promise(() => {});
  }
  S.forget();
  return signInForm(cfg, failure);
}

function signInForm(cfg: S.AuthConfig, failure = ''): Promise<Me> {
  const box = $('signin');
  const form = $('signin-form') as HTMLFormElement;
  const err = $('signin-error');
  box.hidden = false;
  err.textContent = failure;
  err.hidden = !failure;
  if (cfg.sso) {
    $('signin-intro').textContent =
      'This server holds journeys of exploited children and vulnerable adults. Sign in with your organisation\'s account. What you see depends on your role, and access to journeys is recorded in the audit log.';
    $('signin-sso').hidden = false;
    $('signin-sso-button').addEventListener('click', () => {
      setReason(($('signin-reason') as HTMLInputElement).value);
      S.goToProvider(cfg).catch((x) => {
        err.textContent = (x as Error).message;
        err.hidden = false;
      });
    });
    $('signin-sso-button').focus();
  } else ($('signin-token') as HTMLInputElement).focus();
  return new Promise((resolve) => {
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const t = ($('signin-token') as HTMLInputElement).value.trim();
      if (!/^lm_[0-9a-f]{64}$/.test(t)) {
        err.textContent = 'A token is "lm_" and 64 hex digits, as `linesmap token create` printed it.';
        err.hidden = false;
        return;
      }
      sessionStorage.setItem(TOKEN, t);
      S.forget();
      setReason(($('signin-reason') as HTMLInputElement).value);
      try {
        const me = await whoami();
        if (!me) {
          sessionStorage.removeItem(TOKEN);
          err.textContent = 'The server does not accept this token.';
          err.hidden = false;
          return;
        }
        box.hidden = true;
        resolve(me);
      } catch (x) {
        err.textContent = (x as Error).message;
        err.hidden = false;
      }
    });
  });
}

/** The header line: who is signed in, the mode, and what the role sees. */
export function describe(me: Me): void {
  $('who').textContent = me.open_demo && !token() ? 'open demo (no sign-in)' : `${me.name} · ${me.role}`;
  $('signout').hidden = !token();
  $('demo-banner').hidden = !(me.open_demo && !token());
  const d = me.disclosure_control;
  const note = $('role-note');
  if (d.applied) {
    note.textContent = `Viewer: counts below ${d.suppressed_below} are suppressed and the rest rounded to a multiple of ${d.rounded_to_base}. Journeys are not shown.`;
  } else if (me.journeys === 'force') {
    note.textContent = `Force analyst (${me.force}): journeys shown are those that start, end or pass in this force; aggregates cover all journeys.`;
  } else if (me.journeys === 'btp_sourced') {
    note.textContent = 'BTP planner: journeys shown are those British Transport Police reported or joined; aggregates cover all journeys.';
  } else {
    note.textContent = me.person_summaries ? 'Person summaries (pseudonymised) open from a journey, with a reason for access; every such access is audited.' : '';
  }
  note.hidden = !note.textContent;
}
