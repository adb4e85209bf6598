// Sign-in: the bearer token (kept for this browser tab only, in sessionStorage), the reason for
// access sent as X-Justification with person-level queries, and what the role may see.
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

export function signOut() {
  sessionStorage.removeItem(TOKEN);
  sessionStorage.removeItem(REASON);
  location.reload();
}

async function whoami(): Promise<Me | null> {
  const r = await fetch('/api/whoami', { headers: { Accept: 'application/json', ...authHeaders() } });
  if (r.status === 401) return null;
  if (!r.ok) throw new Error(`GET /api/whoami: HTTP ${r.status}`);
  return r.json();
}

/** Who the page acts for: in open demo mode nobody signs in; otherwise the sign-in form
 * until a token the server accepts is given. */
export async function establish(): Promise<Me> {
  const health = await (await fetch('/health', { headers: { Accept: 'application/json' } })).json();
  if (health.auth === 'open_demo' || token()) {
    const me = await whoami();
    if (me) return me;
    sessionStorage.removeItem(TOKEN);
  }
  return signInForm();
}

function signInForm(): Promise<Me> {
  const box = $('signin');
  const form = $('signin-form') as HTMLFormElement;
  const err = $('signin-error');
  box.hidden = false;
  ($('signin-token') as HTMLInputElement).focus();
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
