// The browser test's two timings alone, for A/B comparisons while working on the map's speed:
//   node tests/timing.mjs http://127.0.0.1:18801 [http://127.0.0.1:18802 ...] [--runs 3]
// For each run and each page in turn (interleaved, so load on a shared machine hits both alike):
// a fresh tab loads the page (open demo server, no sign-in) and reports `first_interactive`
// (page start to the first drawn, idle map, as the page measures it), then sets the dates to
// 2024 Q1 as the browser test does and reports `filter_redraw` (change to the redrawn, idle map)
// and the frames MapLibre drew meanwhile. Prints one JSON line per page and run.
// `first_routes`: page start to the first load's journey routes drawn (the map idle with the
// journeys' tiles in view loaded; the filter changes only then, as in the browser test);
// `routes_follow`: the "To" change to the quarter's routes drawn (the same test for every page).
// `--cold N`: each run a filter the servers have not computed (their rendered pages are kept
// until the journeys change, so a repeated filter is served from bytes): run k sets the quarter
// shifted by N + k - 1 days (from 2024-01-01 + s to 2024-03-31 + s, both the "From"-only and the
// whole change new); every page of a run gets the same dates, so give each page its own server,
// and each invocation against the same servers a new N (runs use N, N + 1, …). The first load
// is cold only in a server's first run.
import { chromium } from 'playwright-core';
import { quarter } from './dates.mjs';

const args = process.argv.slice(2);
const ri = args.indexOf('--runs');
const runs = ri >= 0 ? Number(args.splice(ri, 2)[1]) : 3;
const ci = args.indexOf('--cold');
const cold = ci >= 0 ? Number(args.splice(ci, 2)[1]) : null;
// `--single`: one change of both dates (the "From" field set without an event, then "To"
// filled), not the browser test's "From" change superseded by the "To" change
const si = args.indexOf('--single');
const single = si >= 0 && !!args.splice(si, 1);
if (cold != null && !(Number.isInteger(cold) && cold >= 0)) throw new Error('--cold takes a whole number of days (the first run\'s shift)');
const bases = args.length ? args : ['http://127.0.0.1:8080'];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  for (let run = 1; run <= runs; run++) {
    const { from, to, shift } = quarter(cold == null ? 0 : cold + run - 1);
    for (const base of bases) {
      const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
      const page = await context.newPage();
      page.setDefaultTimeout(120000);
      await page.goto(`${base}/`, { waitUntil: 'domcontentloaded' });
      await page.waitForFunction(() => window.__linesmap?.generation >= 1 && !document.body.dataset.loading);
      const first = await page.evaluate(() => window.__linesmap.timings.firstInteractiveMs);
      // The journeys' routes drawn (the map idle with the journeys' tiles in view loaded, the
      // layer shown), timed here the same way for every page: each such idle is recorded with
      // the tile URL (ms since page start), and `routesDrawn(want, after)` waits for the first
      // with `want` in its URL after `after`.
      await page.evaluate(() => {
        const m = window.__linesmap.map;
        window.__routes = [];
        const rec = () => {
          if (m.getSource('journeys') && m.getLayoutProperty('journeys-line', 'visibility') !== 'none' && (m.getPaintProperty('journeys-line', 'line-layer-opacity') ?? 1) !== 0 && m.isSourceLoaded('journeys'))
            window.__routes.push([performance.now(), m.getSource('journeys').tiles?.[0] ?? '']);
        };
        m.on('idle', rec);
        if (m.loaded()) rec();
      });
      const routesDrawn = async (want, after) =>
        (await page.waitForFunction(([w, a]) => window.__routes.find(([t, u]) => t >= a && u.includes(w))?.[0], [want, after])).jsonValue();
      // as in the browser test, the first load's routes are drawn before the filter changes
      const firstRoutes = Math.round(await routesDrawn('/journeys/tiles/', 0));
      const gen = await page.evaluate(() => {
        const m = window.__linesmap.map;
        window.__frames = 0;
        // each frame and idle (ms since page start) with the next animation frame after it (the
        // main thread waits in Chromium's Commit while a frame is rasterised: by then it is)
        window.__renders = [];
        window.__idles = [];
        const rec = (list) => () => {
          const e = [performance.now(), null];
          list.push(e);
          requestAnimationFrame(() => (e[1] = performance.now()));
        };
        m.on('render', () => window.__frames++);
        m.on('render', rec(window.__renders));
        m.on('idle', rec(window.__idles));
        return window.__linesmap.generation;
      });
      const changed = await page.evaluate(() => performance.now());
      if (single) await page.$eval('#f-from', (el, v) => (el.value = v), from);
      else await page.fill('#f-from', from);
      await page.fill('#f-to', to);
      await page.dispatchEvent('#f-to', 'change');
      await page.waitForFunction((g) => window.__linesmap.generation > g && !document.body.dataset.loading, gen);
      const t = await page.evaluate(() => ({ ...window.__linesmap.timings, frames: window.__frames, start: performance.getEntriesByName('reload-start').pop().startTime, applied: performance.getEntriesByName('reload-applied').pop().startTime }));
      // MapLibre fires idle in the last frame's JavaScript, before Chromium rasterises that
      // frame: `painted` is the change to the animation frame after the redraw's idle (the last
      // frame rasterised); `visible` the change to the animation frame after the first frame
      // drawn once the change was applied (the page holds frames until its names are tiled, so
      // that frame draws the whole change): when an analyst sees it, whatever frames follow.
      const after = (list, pick, at) =>
        page.waitForFunction(([list, pick, at]) => {
          const es = window[list].filter(([i]) => (pick === 'last' ? i <= at : i > at));
          const e = pick === 'last' ? es.pop() : es[0];
          return e?.[1] ?? false;
        }, [list, pick, at]).then((h) => h.jsonValue()).then((v) => Math.round(v - t.start));
      const painted = await after('__idles', 'last', t.start + t.lastRedrawMs + 1);
      const visible = await after('__renders', 'first', t.applied);
      // the routes follow the redraw: from the "To" change (as the redraw is timed) to them drawn
      const routes = Math.round((await routesDrawn(`to=${to}`, t.start)) - t.start);
      console.log(JSON.stringify({ base, run, ...(cold == null ? {} : { shift }), first_interactive: first, first_routes: firstRoutes, filter_redraw: t.lastRedrawMs, painted, visible, fetch: t.lastFetchMs, apply: t.lastApplyMs, frames: t.frames, routes_follow: routes, from_fill_ms: Math.round(t.start - changed) }));
      await context.close();
    }
  }
} finally {
  await browser.close();
}
