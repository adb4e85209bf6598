// Browser test of the map page: LINESMAP_URL=http://127.0.0.1:8080 npm test
// Uses the system Chromium (CHROMIUM, default /usr/bin/chromium) through playwright-core.
import { chromium } from 'playwright-core';
import { mkdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const BASE = (process.env.LINESMAP_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');
const OUT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'output');
const TIMEOUT = Number(process.env.E2E_TIMEOUT_MS || 60000);
// Tokens from `linesmap token create` (scripts/e2e makes them).
const TOKEN = { analyst: process.env.E2E_TOKEN_ANALYST, viewer: process.env.E2E_TOKEN_VIEWER, admin: process.env.E2E_TOKEN_ADMIN };
if (!TOKEN.analyst || !TOKEN.viewer || !TOKEN.admin) throw new Error('set E2E_TOKEN_ANALYST, E2E_TOKEN_VIEWER and E2E_TOKEN_ADMIN (scripts/e2e does)');
const REASON = 'e2e test: synthetic data, checking the map';
const api = async (pathq, token = TOKEN.admin, headers = {}) => {
  const r = await fetch(`${BASE}${pathq}`, { headers: { Authorization: `Bearer ${token}`, ...headers } });
  if (!r.ok) throw new Error(`${r.status} ${pathq}: ${await r.text()}`);
  return r.json();
};
/** Signs in through the page's form. */
async function signIn(page, token, reason = '') {
  await page.waitForSelector('#signin:not([hidden])');
  await page.fill('#signin-token', token);
  await page.fill('#signin-reason', reason);
  await page.click('#signin-submit');
  await page.waitForSelector('#signin', { state: 'hidden' });
}
await mkdir(OUT, { recursive: true });

const failures = [];
const results = {};
function check(name, ok, detail = '') {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` (${String(detail).replace(/\s+/g, ' ').slice(0, 200)})` : ''}`);
  if (!ok) failures.push(name);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let exitCode = 0;
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  const consoleErrors = [];
  const foreign = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
  const badResponses = [];
  page.on('response', (r) => { if (r.status() >= 400) badResponses.push(`${r.status()} ${r.url()}`); });
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(BASE) && !u.startsWith('blob:') && !u.startsWith('data:')) foreign.push(u);
  });

  // 0. Signed out, the page asks for a token and requests no data; a wrong token is refused.
  const first = await page.goto(`${BASE}/`, { waitUntil: 'domcontentloaded' });
  const csp = first.headers()['content-security-policy'] ?? '';
  check('the page has a CSP without unsafe-inline', csp.includes("script-src 'self'") && !csp.includes('unsafe-inline'), csp);
  await page.waitForSelector('#signin:not([hidden])');
  check('signed out, the sign-in form shows', true);
  await page.fill('#signin-token', 'lm_' + '0'.repeat(64));
  await page.click('#signin-submit');
  await page.waitForSelector('#signin-error:not([hidden])');
  check('a wrong token is refused', (await page.textContent('#signin-error')).includes('does not accept'));
  badResponses.length = 0; // that 401 was the point
  consoleErrors.length = 0; // and the browser logs it
  await page.fill('#signin-token', TOKEN.analyst);
  await page.fill('#signin-reason', REASON);
  await page.click('#signin-submit');
  await page.waitForSelector('#signin', { state: 'hidden' });
  await page.waitForFunction(() => window.__linesmap?.generation >= 1);
  const who = await page.textContent('#who');
  check('signed in as the analyst', who.includes('analyst'), who);

  // 1. Load (signed in; the token stays for the tab): time to first interactive map (data
  // loaded, then map idle).
  const t0 = Date.now();
  await page.reload({ waitUntil: 'domcontentloaded' });
  await page.waitForFunction(() => window.__linesmap?.generation >= 1);
  const wallFirst = Date.now() - t0;
  const firstInteractiveMs = await page.evaluate(() => window.__linesmap.timings.firstInteractiveMs);
  results.first_interactive_ms = firstInteractiveMs;
  results.first_interactive_wall_ms = wallFirst;
  await page.screenshot({ path: path.join(OUT, '01-loaded.png') });
  check('header says SYNTHETIC', (await page.textContent('header')).includes('SYNTHETIC'));

  // 2. Every layer has features (the map's sources; journeys once zoomed in below).
  const counts = await page.evaluate(() => {
    const d = window.__linesmap;
    return Object.fromEntries(['forces', 'rail', 'flows', 'hotspots'].map((id) => [id, { data: d.data[id].features.length, rendered: d.rendered(id) }]));
  });
  results.features = counts;
  for (const [id, c] of Object.entries(counts)) check(`layer ${id} has features`, c.data > 0 && c.rendered > 0, JSON.stringify(c));
  check('forces layer has 45 areas', counts.forces.data === 45, String(counts.forces.data));
  const total = await page.evaluate(() => window.__linesmap.count);
  check('journey count shown', total > 0 && (await page.textContent('#count')).replace(/\D/g, '') === String(total), String(total));
  results.journeys_unfiltered = total;

  // Layer toggles hide and show their layers.
  for (const [id, layer] of [['forces', 'forces-fill'], ['rail', 'rail-line'], ['flows', 'flows-line'], ['hotspots', 'hotspots-circle'], ['journeys', 'journeys-line']]) {
    await page.uncheck(`#toggle-${id}`);
    const off = await page.evaluate((l) => window.__linesmap.map.getLayoutProperty(l, 'visibility'), layer);
    await page.check(`#toggle-${id}`);
    const on = await page.evaluate((l) => window.__linesmap.map.getLayoutProperty(l, 'visibility'), layer);
    check(`toggle ${id}`, off === 'none' && on !== 'none', `${off}/${on}`);
  }
  check('legends drawn', (await page.$$eval('.legend', (ls) => ls.filter((l) => l.innerHTML.trim()).length)) === 5);

  // 3. Date filter changes the count; measure the redraw.
  const gen = await page.evaluate(() => {
    const el = document.getElementById('loading');
    window.__sawLoading = false;
    new MutationObserver(() => { if (!el.hidden) window.__sawLoading = true; }).observe(el, { attributes: true });
    return window.__linesmap.generation;
  });
  const tf = Date.now();
  await page.fill('#f-from', '2024-01-01');
  await page.fill('#f-to', '2024-03-31');
  await page.dispatchEvent('#f-to', 'change');
  await page.waitForFunction((g) => window.__linesmap.generation > g && !document.body.dataset.loading, gen);
  results.filter_redraw_wall_ms = Date.now() - tf;
  const filtered = await page.evaluate(() => window.__linesmap.count);
  results.filter_redraw_ms = await page.evaluate(() => window.__linesmap.timings.lastRedrawMs);
  results.filter_fetch_ms = await page.evaluate(() => window.__linesmap.timings.lastFetchMs);
  results.filter_apply_ms = await page.evaluate(() => window.__linesmap.timings.lastApplyMs);
  results.journeys_2024q1 = filtered;
  check('date filter changes the journey count', filtered !== total && filtered >= 0, `${total} -> ${filtered}`);
  check('a loading indicator shows while requests are in flight', await page.evaluate(() => window.__sawLoading));
  check('URL holds the filter', page.url().includes('from=2024-01-01') && page.url().includes('to=2024-03-31'), page.url());
  await page.screenshot({ path: path.join(OUT, '02-filtered.png') });

  // 4. Hotspot row → flies there and opens the station panel; journeys drawn at that zoom.
  const jg = await page.evaluate(() => window.__linesmap.journeysGeneration);
  const crs = await page.getAttribute('#hotspots-body tr:first-child', 'data-crs');
  await page.click('#hotspots-body tr:first-child');
  await page.waitForSelector('#station:not([hidden])');
  check('hotspot row opens the station panel', (await page.getAttribute('#station', 'data-crs')) === crs, crs);
  await page.waitForFunction(() => !document.querySelector('#station-weekly')?.textContent?.includes('loading'));
  await page.waitForFunction((g) => window.__linesmap.journeysGeneration > g && window.__linesmap.map.getZoom() >= 9 && !document.body.dataset.loading, jg);
  const jn = await page.evaluate(() => window.__linesmap.data.journeys.features.length);
  results.features.journeys = jn;
  check('journeys layer has features when zoomed in', jn > 0, String(jn));
  check('station panel shows weekly counts', (await page.$('#station-weekly svg.chart')) !== null,
    (await page.textContent('#station-weekly')).slice(0, 80));
  check('station panel lists the origin forces', (await page.$('#station-origins table')) !== null);
  await page.evaluate(() => new Promise((r) => window.__linesmap.map.once('idle', r)));
  await page.screenshot({ path: path.join(OUT, '03-station.png') });

  // 5. Popups: a journey, then a force area (a map point where only that layer is hit).
  const pointOn = (layer, avoid) => page.evaluate(([layer, avoid]) => {
    const map = window.__linesmap.map;
    const r = map.getCanvas().getBoundingClientRect();
    for (let y = 20; y < r.height - 20; y += 7) {
      for (let x = 20; x < r.width - 20; x += 7) {
        if (document.elementFromPoint(r.left + x, r.top + y) !== map.getCanvas()) continue;
        if (!map.queryRenderedFeatures([x, y], { layers: [layer] }).length) continue;
        const box = [[x - 6, y - 6], [x + 6, y + 6]];
        if (avoid.some((l) => map.queryRenderedFeatures(box, { layers: [l] }).length)) continue;
        return { x: r.left + x, y: r.top + y };
      }
    }
    return null;
  }, [layer, avoid]);
  const jp = await pointOn('journeys-line', ['hotspots-circle']);
  check('found a journey to click', jp !== null);
  if (jp) {
    await page.mouse.click(jp.x, jp.y);
    const pop = await page.waitForSelector('.maplibregl-popup .pop');
    const text = await pop.textContent();
    check('journey popup shows the journey', text.includes('SYNTHETIC') && text.includes('forces crossed'), text.slice(0, 80));
    const rid = text.match(/syn-[0-9a-z-]+/)?.[0];
    await page.click('.maplibregl-popup button.show-persons');
    await page.waitForSelector('.maplibregl-popup table.persons, .maplibregl-popup .persons em');
    const shown = await page.$$eval('.maplibregl-popup table.persons tr td:first-child', (tds) => tds.map((t) => t.textContent));
    const truth = await api(`/api/journeys/${rid}?persons=true`, TOKEN.analyst, { 'X-Justification': 'e2e: independent check' });
    const want = truth.properties.persons_summary.map((p) => p.pseudonym);
    check('the analyst opens the persons summary: pseudonyms only', shown.length === want.length && shown.every((x, i) => x === want[i] && /^psn_[0-9a-f]{16}$/.test(x)), `${rid}: ${shown.join(',')}`);
    await page.screenshot({ path: path.join(OUT, '04-journey-popup.png') });
    const onlyLine = await page.$('.maplibregl-popup button.only-line');
    if (onlyLine) {
      const g = await page.evaluate(() => window.__linesmap.generation);
      await onlyLine.click();
      await page.waitForFunction((g) => window.__linesmap.generation > g && !document.body.dataset.loading, g);
      const line = await page.inputValue('#f-line');
      check('"only this line" filters to the journey\'s line', line !== '' && page.url().includes(`line=${encodeURIComponent(line)}`), line);
      await page.click('#f-reset');
      await page.fill('#f-from', '2024-01-01');
      await page.fill('#f-to', '2024-03-31');
      await page.dispatchEvent('#f-to', 'change');
      await page.waitForFunction(() => window.__linesmap.filters.line === '' && window.__linesmap.filters.from === '2024-01-01' && window.__linesmap.filters.to === '2024-03-31');
      await page.waitForFunction(() => !document.body.dataset.loading);
    } else {
      await page.click('.maplibregl-popup-close-button');
    }
  }
  const fp = await pointOn('forces-fill', ['hotspots-circle', 'journeys-line', 'flows-line']);
  check('found a force area to click', fp !== null);
  if (fp) {
    await page.mouse.click(fp.x, fp.y);
    await page.waitForFunction(() => {
      const t = document.querySelector('.maplibregl-popup .pop')?.textContent ?? '';
      return t.includes('Top flows in') && !t.includes('loading');
    });
    const text = await page.textContent('.maplibregl-popup .pop');
    check('force popup shows imports, exports, net and flows in', /imports.*exports.*net/s.test(text) && (await page.$('.maplibregl-popup table.list')) !== null, text.slice(0, 80));
    await page.screenshot({ path: path.join(OUT, '05-force-popup.png') });
  }

  // 6. Export link downloads GeoJSON of the filtered view.
  const href = await page.getAttribute('#export', 'data-href');
  check('export link carries the filter', href.includes('from=2024-01-01'), href);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
  const file = path.join(OUT, 'export.geojson');
  await download.saveAs(file);
  let fc = null;
  try { fc = JSON.parse(await readFile(file, 'utf8')); } catch (e) { console.log(e.message); }
  check('export is a GeoJSON FeatureCollection', fc?.type === 'FeatureCollection' && Array.isArray(fc.features), `${fc?.features?.length} features`);
  check('export has the filtered journeys', fc?.features?.length === filtered, `${fc?.features?.length} vs ${filtered}`);

  // 7. A shared link restores the state: line and the children-only age bands from the URL.
  const some = await api('/api/journeys?limit=200');
  const lineId = some.features.map((f) => f.properties.line_id).find(Boolean);
  const q = `line=${encodeURIComponent(lineId)}&age_band=under_10,10-12,13-14,15-17`;
  const expected = (await api(`/api/trends?interval=month&${q}`)).journeys;
  const shared = await page.goto(`${BASE}/?${q}`, { waitUntil: 'domcontentloaded' });
  const servedPage = shared.ok() && (shared.headers()['content-type'] ?? '').includes('text/html');
  check('the server serves the page for a shared link with filters in its query', servedPage,
    servedPage ? '' : `GET /?${q}: ${shared.status()} ${(await shared.text()).slice(0, 120)}`);
  if (servedPage) {
    await page.waitForFunction(() => window.__linesmap?.generation >= 1);
    const restored = await page.evaluate(() => ({ count: window.__linesmap.count, line: document.querySelector('#f-line').value,
      ages: Array.from(document.querySelector('#f-age').selectedOptions).map((o) => o.value).join(',') }));
    check('a shared link restores line and age filters', restored.line === lineId && restored.ages === 'under_10,10-12,13-14,15-17', JSON.stringify(restored));
    check('line filter gives the server count', restored.count === expected && expected < total, `${restored.count} vs ${expected}`);
    await page.screenshot({ path: path.join(OUT, '06-line.png') });
  }

  // 8. The analysts' questions, through the form: hotspots for children arriving from London
  // (exporting force Metropolitan Police) this quarter, and which forces export into Norfolk.
  await page.goto(`${BASE}/`, { waitUntil: 'domcontentloaded' });
  await page.waitForFunction(() => window.__linesmap?.generation >= 1 && !document.body.dataset.loading);
  let g8 = await page.evaluate(() => window.__linesmap.generation);
  await page.click('#f-children');
  await page.selectOption('#f-export', 'E23000001');
  await page.selectOption('#f-mode', ['rail']);
  await page.fill('#f-from', '2024-01-01');
  await page.fill('#f-to', '2024-03-31');
  await page.dispatchEvent('#f-to', 'change');
  await page.waitForFunction(() => {
    const f = window.__linesmap.filters;
    return f.exporting_force === 'E23000001' && f.to === '2024-03-31' && f.mode.join() === 'rail' && f.age_band.length === 4;
  });
  await page.waitForFunction((g) => window.__linesmap.generation > g && !document.body.dataset.loading, g8);
  const q8 = 'from=2024-01-01&to=2024-03-31&age_band=under_10,10-12,13-14,15-17&mode=rail&exporting_force=E23000001';
  const want8 = (await api(`/api/trends?interval=month&${q8}`)).journeys;
  const top8 = (await api(`/api/hotspots?top=20&sort=gi_z&${q8}`)).features.map((f) => f.properties.crs);
  const shown8 = await page.evaluate(() => ({ count: window.__linesmap.count, rows: Array.from(document.querySelectorAll('#hotspots-body tr')).map((r) => r.dataset.crs) }));
  check('children from London by rail this quarter: count as the server counts it', shown8.count === want8 && want8 > 0 && want8 < total, `${shown8.count} vs ${want8}`);
  check('children from London: the hotspot table is the server\'s ranking', JSON.stringify(shown8.rows) === JSON.stringify(top8) && top8.length > 0, shown8.rows.slice(0, 5).join(','));
  for (const part of ['exporting_force=E23000001', 'mode=rail', 'age_band=under_10%2C10-12%2C13-14%2C15-17']) {
    check(`URL holds ${part}`, page.url().includes(part), page.url());
  }
  const rail8 = await page.evaluate(() => window.__linesmap.data.hotspots.features.filter((f) => f.properties.journeys > 0).length);
  check('station circles follow the filter', rail8 > 0 && rail8 < results.features.hotspots.data, String(rail8));
  await page.screenshot({ path: path.join(OUT, '07-children-from-london.png') });

  // Norfolk: clear the filters, click inside Norfolk, read the forces whose journeys flow in.
  g8 = await page.evaluate(() => window.__linesmap.generation);
  await page.click('#f-reset');
  await page.waitForFunction((g) => window.__linesmap.generation > g && !document.body.dataset.loading, g8);
  await page.evaluate(() => new Promise((r) => { const m = window.__linesmap.map; m.jumpTo({ center: [1.0, 52.65], zoom: 7.5 }); m.once('idle', r); }));
  const np = await page.evaluate(() => {
    const map = window.__linesmap.map;
    const r = map.getCanvas().getBoundingClientRect();
    const others = ['hotspots-circle', 'journeys-line', 'flows-line'];
    for (let y = 20; y < r.height - 20; y += 7) {
      for (let x = 20; x < r.width - 20; x += 7) {
        if (document.elementFromPoint(r.left + x, r.top + y) !== map.getCanvas()) continue;
        // Well inside Norfolk: the points 8 px around are Norfolk too (not its coast or border).
        const inside = [[0, 0], [-8, -8], [8, -8], [-8, 8], [8, 8]].every(([dx, dy]) =>
          map.queryRenderedFeatures([x + dx, y + dy], { layers: ['forces-fill'] })[0]?.properties.code === 'E23000024');
        if (!inside) continue;
        if (others.some((l) => map.queryRenderedFeatures([[x - 6, y - 6], [x + 6, y + 6]], { layers: [l] }).length)) continue;
        return { x: r.left + x, y: r.top + y };
      }
    }
    return null;
  });
  check('found Norfolk on the map', np !== null);
  if (np) {
    await page.mouse.click(np.x, np.y);
    await page.waitForFunction(() => {
      const t = document.querySelector('.maplibregl-popup .pop')?.textContent ?? '';
      return t.includes('Norfolk') && t.includes('Top flows out') && !t.includes('loading');
    });
    const firstIn = await page.textContent('.maplibregl-popup table.list tr:first-child td:first-child');
    const rows = (await api(`/api/flows?format=matrix`)).rows
      .filter((r) => r.destination_force === 'E23000024' && r.origin_force !== r.destination_force)
      .sort((a, b) => b.journeys - a.journeys);
    check('which forces export into Norfolk: the top one as the server ranks it', rows.length > 0 && firstIn === rows[0].origin_name, `${firstIn} vs ${rows[0]?.origin_name}`);
    await page.screenshot({ path: path.join(OUT, '08-norfolk.png') });
  }

  // 9. The audit log has the analyst's person-level access (with the reason) and the export.
  const audit = await api('/api/audit?limit=10000');
  const mine = audit.events.filter((e) => e.actor === 'e2e analyst (synthetic)');
  const persons = mine.find((e) => e.action === 'read_persons');
  check('audit: the persons access with its justification', persons?.justification === REASON && persons.records === 1, JSON.stringify(persons));
  const exp = mine.find((e) => e.action === 'export' && e.query.includes('collection=journeys'));
  check('audit: the export with its filter and record count', exp?.records === filtered && exp.query.includes('from=2024-01-01'), JSON.stringify(exp));
  check('audit: journey reads of the map', mine.some((e) => e.action === 'read_journeys' && e.records > 0));

  // 10. A viewer (a fresh tab): suppressed, rounded aggregates only; no journeys.
  const vctx = await browser.newContext({ viewport: { width: 1400, height: 900 }, acceptDownloads: true });
  const vpage = await vctx.newPage();
  vpage.setDefaultTimeout(TIMEOUT);
  const vbad = [];
  vpage.on('response', (r) => { if (r.status() >= 400) vbad.push(`${r.status()} ${r.url()}`); });
  vpage.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(`viewer: ${m.text()}`); });
  await vpage.goto(`${BASE}/?from=2024-01-01&to=2024-03-31`, { waitUntil: 'domcontentloaded' });
  await signIn(vpage, TOKEN.viewer);
  await vpage.waitForFunction(() => window.__linesmap?.generation >= 1 && !document.body.dataset.loading);
  const v = await vpage.evaluate(() => ({
    count: window.__linesmap.count,
    note: document.getElementById('role-note').textContent,
    journeysOff: document.getElementById('toggle-journeys').disabled,
    rows: Array.from(document.querySelectorAll('#hotspots-body tr')).map((r) => r.children[2]?.textContent.replace(/\D/g, '')),
    stations: window.__linesmap.data.hotspots.features.map((f) => f.properties.journeys),
  }));
  check('viewer: the count is rounded to base 5', v.count === null || v.count % 5 === 0, String(v.count));
  check('viewer: the count differs from the analyst\'s only by rounding', v.count !== null && Math.abs(v.count - filtered) < 5, `${v.count} vs ${filtered}`);
  check('viewer: station counts are multiples of 5, none below 5', v.stations.every((n) => n === 0 || (n % 5 === 0 && n >= 5)) && v.stations.some((n) => n > 0), v.stations.filter((n) => n % 5).slice(0, 5).join(','));
  check('viewer: the hot-spot table shows rounded counts', v.rows.length > 0 && v.rows.every((n) => n === '' || Number(n) % 5 === 0), v.rows.join(','));
  check('viewer: told about suppression, journeys off', v.note.includes('suppressed') && v.journeysOff, v.note);
  check('viewer: no request refused', vbad.length === 0, vbad.slice(0, 3).join(' | '));
  await vpage.screenshot({ path: path.join(OUT, '09-viewer.png') });
  await vctx.close();

  check('no requests outside the server', foreign.length === 0, foreign.slice(0, 3).join(' '));
  check('no console errors', consoleErrors.length === 0, consoleErrors.slice(0, 5).join(' | '));
  check('no failed responses', badResponses.length === 0, badResponses.slice(0, 5).join(' | '));
} catch (e) {
  console.log(`FAIL ${e.stack || e}`);
  failures.push('exception');
} finally {
  await browser.close();
}
console.log(JSON.stringify({ timings_ms: { first_interactive: results.first_interactive_ms, first_interactive_wall: results.first_interactive_wall_ms, filter_redraw: results.filter_redraw_ms, filter_redraw_fetch: results.filter_fetch_ms, filter_redraw_wall: results.filter_redraw_wall_ms }, ...results, failures }, null, 1));
exitCode = failures.length ? 1 : 0;
process.exit(exitCode);
