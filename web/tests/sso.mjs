// Browser test of the page's sign-in through an identity provider (authorization code with
// PKCE): starts the test provider (oidc-provider.mjs), then `linesmap serve` with --oidc-*
// pointing at it and a small synthetic demo, and drives headless Chromium through the sign-in,
// its refusals, an expired token and the sign-out.
//   LINESMAP_BIN=target/release/linesmap LINESMAP_DATA=data/gb node tests/sso.mjs
// (scripts/e2e runs it; web/dist must be built.)
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import path from 'node:path';
import { startProvider, s256 } from './oidc-provider.mjs';

const WEB = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = process.env.LINESMAP_BIN;
const DATA = process.env.LINESMAP_DATA || path.join(WEB, '..', 'data', 'gb');
const TIMEOUT = Number(process.env.E2E_TIMEOUT_MS || 60000);
if (!BIN) throw new Error('set LINESMAP_BIN to the linesmap binary (scripts/e2e does)');
const CLIENT = 'linesmap-page-syn';
const AUDIENCE = 'linesmap-api-syn';
const SUB = 'syn-sso-analyst-1';

const T0 = Date.now();
const failures = [];
function check(name, ok, detail = '') {
  console.log(`${ok ? "ok  " : "FAIL"} [${((Date.now() - T0) / 1000).toFixed(1)} s] sso: ${name}${detail ? ` (${String(detail).replace(/\s+/g, ' ').slice(0, 300)})` : ''}`);
  if (!ok) failures.push(name);
}

const t0 = Date.now();
const provider = await startProvider({ clientId: CLIENT, audience: AUDIENCE, sub: SUB, name: 'SSO Analyst (synthetic)', roles: ['analyst'] });
const tmp = await mkdtemp(path.join(os.tmpdir(), 'linesmap-sso-'));
const server = spawn(BIN, ['serve', '--data', DATA, '--store', path.join(tmp, 'sso.sqlite'), '--web', path.join(WEB, 'dist'),
  '--demo-reports', process.env.SSO_REPORTS || '500', '--listen', '127.0.0.1:0',
  '--oidc-issuer', provider.base, '--oidc-audience', AUDIENCE, '--oidc-client-id', CLIENT],
{ env: { ...process.env, LINESMAP_LOG: 'warn' }, stdio: ['ignore', 'pipe', 'inherit'] });
const exited = new Promise((ok) => server.on('exit', ok));
const BASE = await new Promise((ok, fail) => {
  const lines = createInterface({ input: server.stdout });
  lines.on('line', (l) => l.startsWith('listening on ') && ok(l.slice('listening on '.length).trim()));
  server.on('exit', (c) => fail(new Error(`linesmap serve exited (${c}) before listening`)));
});
provider.pageOrigin = BASE;
const tReady = Date.now();
console.log(`== sign-in through the test provider ${provider.base}, server ${BASE} (ready in ${((tReady - t0) / 1000).toFixed(1)} s)`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  const consoleErrors = [];
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
  const stored = () => page.evaluate(() => sessionStorage.getItem('linesmap.token'));
  /** Waits until the page has signed in (the header names the caller), across the page's own
   * trips to the provider and back; the map need not be drawn (that is e2e.mjs's). */
  const signedIn = async () => {
    for (let i = 0; ; i++) {
      try {
        return await page.waitForFunction(() => document.getElementById('signin')?.hidden && /·/.test(document.getElementById('who')?.textContent ?? ''));
      } catch (e) {
        // the page navigated (to the provider and back) while it was being watched
        if (i > 5 || !/context was destroyed|navigat/i.test(e.message)) throw e;
      }
    }
  };
  /** The filter form shows `value` in `#id` (it is filled from the URL once the page has its
   * reference layers). */
  const formHas = (id, value) => page.waitForFunction(([i, v]) => document.getElementById(i)?.value === v, [id, value], { timeout: 15000 }).then(() => true, () => false);
  const hotspotsAnswer = () => page.waitForResponse((r) => r.url().startsWith(`${BASE}/api/hotspots`) && r.status() === 200);

  // The page with a view in its URL: the CSP lets it reach the provider's origin and no other.
  const first = await page.goto(`${BASE}/?from=2024-01-01`, { waitUntil: 'domcontentloaded' });
  const csp = first.headers()['content-security-policy'] ?? '';
  check("the CSP's connect-src is 'self' and the provider's origin", csp.includes(`connect-src 'self' ${provider.base};`), csp);
  await page.waitForSelector('#signin-sso-button');
  check('the sign-in offers the provider', await page.isVisible('#signin-sso-button'));

  // Sign in: to the provider and straight back with a code; the page exchanges it.
  const layer = hotspotsAnswer();
  await Promise.all([page.waitForNavigation(), page.click('#signin-sso-button')]);
  await signedIn();
  const auth = provider.log.authorizations.at(-1) ?? {};
  const ex = provider.log.exchanges.at(-1) ?? {};
  check('the authorization request is a code request with PKCE S256 back to the page',
    auth.response_type === 'code' && auth.client_id === CLIENT && auth.redirect_uri === `${BASE}/` && auth.scope === 'openid profile' &&
      auth.code_challenge_method === 'S256' && /^[A-Za-z0-9_-]{43}$/.test(auth.code_challenge) && auth.state?.length >= 16 && auth.nonce?.length >= 16,
    JSON.stringify(auth));
  // the challenge recomputed here (node's crypto) from the verifier the page sent
  const verifier = ex.form?.code_verifier ?? '';
  check('the token request carries the verifier whose SHA-256 is the challenge',
    ex.ok === true && /^[A-Za-z0-9_-]{43,128}$/.test(verifier) && s256(verifier) === auth.code_challenge && ex.form.grant_type === 'authorization_code' &&
      ex.form.client_id === CLIENT && ex.form.redirect_uri === `${BASE}/`,
    JSON.stringify(ex));
  const issued = provider.log.issued.at(-1);
  check('the page keeps the access token (the server\'s audience is not the client id)', (await stored()) === issued?.access_token);
  const url = new URL(page.url());
  check('code and state are gone from the URL and the view is kept', !url.searchParams.has('code') && !url.searchParams.has('state') && url.searchParams.get('from') === '2024-01-01' &&
    (await formHas('f-from', '2024-01-01')), page.url());
  const me = await page.evaluate(async () => (await fetch('/api/whoami', { headers: { Authorization: `Bearer ${sessionStorage.getItem('linesmap.token')}` } })).json());
  check("whoami is the provider's subject with its role", me.role === 'analyst' && me.sso?.subject === SUB && me.sso?.issuer === provider.base, JSON.stringify(me));
  check('the header names the provider\'s user', (await page.textContent('#who')).includes('SSO Analyst (synthetic) · analyst'));
  const answer = await layer;
  const hot = (await answer.json()).features?.length ?? 0;
  check('a layer loaded with the bearer token', hot > 0 && answer.request().headers().authorization === `Bearer ${issued?.access_token}`, `${hot} hot spots`);
  check('no console errors (no CSP violation)', consoleErrors.length === 0, consoleErrors.join(' | '));

  // The provider refuses a verifier that is not the one behind the challenge (so the
  // exchange above proves the page's S256).
  const a = await fetch(`${provider.base}/authorize?response_type=code&client_id=${CLIENT}&redirect_uri=${encodeURIComponent(`${BASE}/`)}&state=s&nonce=n&code_challenge=${s256('the right verifier, 43 characters or more long')}&code_challenge_method=S256`, { redirect: 'manual' });
  const code = new URL(a.headers.get('location')).searchParams.get('code');
  const wrong = await fetch(`${provider.base}/token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: `${BASE}/`, client_id: CLIENT, code_verifier: 'a wrong verifier, 43 characters or more long' }) });
  check('a wrong verifier is refused by the token endpoint', wrong.status === 400 && (await wrong.json()).error === 'invalid_grant');

  // An expired token: the server answers 401 and the page signs in again by itself.
  const expired = provider.token(AUDIENCE, {}, -600);
  await page.evaluate((t) => sessionStorage.setItem('linesmap.token', t), expired);
  const exchanges = provider.log.exchanges.length;
  await page.reload({ waitUntil: 'domcontentloaded' });
  await signedIn();
  const renewed = await stored();
  check('an expired token brings a new sign-in and a new token', provider.log.exchanges.length === exchanges + 1 && renewed && renewed !== expired && renewed === provider.log.issued.at(-1).access_token);

  // Expired while the map is open: the next layer request is a 401 and the page goes back to
  // the provider by itself, keeping the view (the new filter). It does so at most once a
  // minute; the test clears that mark as if a minute had passed since the reload above.
  // (the map drawn first, its journeys' routes too, so that the filter's requests are the first
  // to carry the token: a route tile asked for with it would sign in again before the change)
  await page.waitForFunction(() => window.__linesmap?.generation >= 1 && window.__linesmap.routesGeneration >= 1 && !document.body.dataset.loading);
  await page.evaluate((t) => {
    sessionStorage.setItem('linesmap.token', t);
    sessionStorage.removeItem('linesmap.sso.retried');
  }, expired);
  const before = provider.log.exchanges.length;
  await page.fill('#f-to', '2024-06-30');
  await Promise.all([page.waitForNavigation(), page.dispatchEvent('#f-to', 'change')]);
  await signedIn();
  const again = await stored();
  const to = await formHas('f-to', '2024-06-30');
  check('a token that expires while the map is open is renewed and the view kept', provider.log.exchanges.length === before + 1 && again === provider.log.issued.at(-1).access_token &&
    to && new URL(page.url()).searchParams.get('to') === '2024-06-30',
  `${page.url()}, ${provider.log.exchanges.length - before} exchanges, renewed token ${again === provider.log.issued.at(-1).access_token}, form ${to}`);

  // Sign out: the token goes, and so does the provider's session (end_session_endpoint).
  const logouts = provider.log.logouts.length;
  await Promise.all([page.waitForNavigation(), page.click('#signout')]);
  await page.waitForSelector('#signin-sso-button');
  const lo = provider.log.logouts.at(-1) ?? {};
  check('sign-out clears the token and goes to the provider\'s end_session_endpoint', provider.log.logouts.length === logouts + 1 &&
    lo.post_logout_redirect_uri === `${BASE}/` && lo.id_token_hint === provider.log.issued.at(-1).id_token && (await stored()) === null, JSON.stringify(lo));

  // Refusals, each shown plainly, nothing signed in.
  for (const [mode, expect, name] of [
    ['deny', 'access_denied', 'a refusal at the provider (access_denied) is shown'],
    ['wrong_state', 'state does not match', 'an answer with another state is refused before any exchange'],
    ['bad_challenge', 'did not exchange the code', 'a failed exchange (the verifier refused) is shown'],
  ]) {
    const before = provider.log.exchanges.length;
    provider.next = mode;
    await Promise.all([page.waitForNavigation(), page.click('#signin-sso-button')]);
    await page.waitForSelector('#signin-error:not([hidden])');
    const err = await page.textContent('#signin-error');
    const asked = provider.log.exchanges.length - before;
    check(name, err.includes(expect) && (await stored()) === null && (await page.isVisible('#signin')) && asked === (mode === 'bad_challenge' ? 1 : 0), `${err} (${asked} exchanges)`);
  }
} catch (e) {
  check('the sign-in test ran to the end', false, e.stack || e.message);
} finally {
  await browser.close();
  server.kill('SIGTERM');
  await exited;
  await provider.close();
  await rm(tmp, { recursive: true, force: true });
}
console.log(`browser checks took ${((Date.now() - tReady) / 1000).toFixed(1)} s`);
console.log(failures.length ? `${failures.length} sign-in check(s) FAILED: ${failures.join('; ')}` : 'sign-in through the provider: all checks passed');
process.exit(failures.length ? 1 : 0);
