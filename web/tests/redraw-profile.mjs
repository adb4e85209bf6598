// Where a filter redraw's time goes, step by step, for the speed work of issue 18:
//   node tests/redraw-profile.mjs http://127.0.0.1:18801 [URL…] [--runs 3] [--trace out.json]
// Against open-demo servers (no sign-in). For each run and page in turn (interleaved): a fresh
// tab loads the page and draws the journeys' routes, then the dates are set to 2024 Q1 as the browser test does, and the page's
// own marks (reload-start, -fetched, -applied, -idle), the requests' resource timings, every
// frame MapLibre rendered (its main-thread time and when it ended), every tile that arrived
// (by source) and the long tasks are printed relative to the change. `--trace FILE` also saves a
// Chrome performance trace of the first run's redraw (open it in chrome://tracing or Perfetto).
// `--cold N`: each run a filter the servers have not computed, as timing.mjs's `--cold N`.
import { chromium } from 'playwright-core';
import { quarter } from './dates.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args.splice(i, 2)[1] : dflt;
};
const runs = Number(opt('--runs', 3));
const tracePath = opt('--trace', '');
const coldArg = opt('--cold', null);
const cold = coldArg == null ? null : Number(coldArg);
if (cold != null && !(Number.isInteger(cold) && cold >= 0)) throw new Error('--cold takes a whole number of days (the first run\'s shift)');
// `--cpu N`: also print the N functions with most self time on the page's main thread during
// the redraw (V8's sampling profiler; build the page unminified to read the names:
// `npx vite build --minify false`)
const cpuTop = Number(opt('--cpu', 0));
const bases = args.length ? args : ['http://127.0.0.1:8080'];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const r0 = (x) => Math.round(x);
try {
  for (let run = 1; run <= runs; run++) {
    const { from, to } = quarter(cold == null ? 0 : cold + run - 1);
    for (const base of bases) {
      const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
      const page = await context.newPage();
      page.setDefaultTimeout(120000);
      await page.addInitScript(() => {
        window.__prof = { frames: [], tiles: [], long: [] };
        new PerformanceObserver((l) => l.getEntries().forEach((e) => window.__prof.long.push([e.startTime, e.duration]))).observe({ type: 'longtask', buffered: true });
      });
      await page.goto(`${base}/`, { waitUntil: 'domcontentloaded' });
      await page.waitForFunction(() => window.__linesmap?.generation >= 1 && !document.body.dataset.loading);
      const first = await page.evaluate(() => window.__linesmap.timings.firstInteractiveMs);
      // as in the browser test, the first load's journey routes are drawn before the change
      await page.waitForFunction(() => {
        const d = window.__linesmap;
        return d.routesGeneration >= 1 || (d.routesGeneration === undefined && d.journeysGeneration > 0 && d.map.loaded());
      });
      const gen = await page.evaluate(() => {
        const m = window.__linesmap.map;
        const P = window.__prof;
        const render = m._render.bind(m);
        m._render = (t) => {
          const s = performance.now();
          const before = [m._sourcesDirty, m._styleDirty, m._placementDirty];
          const out = render(t);
          // what was dirty before and after (sources, style, placement): why a next frame is drawn
          const flags = (f) => ['src', 'style', 'place'].filter((_, i) => f[i]).join('+') || '-';
          P.frames.push([s, performance.now(), `${flags(before)}>${flags([m._sourcesDirty, m._styleDirty, m._placementDirty])}`]);
          return out;
        };
        m.on('data', (e) => { if (e.tile) P.tiles.push([performance.now(), e.sourceId]); });
        performance.clearResourceTimings();
        P.frames.length = P.tiles.length = P.long.length = 0;
        return window.__linesmap.generation;
      });
      if (tracePath && run === 1 && base === bases[0]) await browser.startTracing(page, { path: tracePath, screenshots: false });
      const cdp = cpuTop ? await context.newCDPSession(page) : null;
      if (cdp) {
        await cdp.send('Profiler.enable');
        await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
        await cdp.send('Profiler.start');
      }
      await page.fill('#f-from', from);
      await page.fill('#f-to', to);
      await page.dispatchEvent('#f-to', 'change');
      await page.waitForFunction((g) => window.__linesmap.generation > g && !document.body.dataset.loading, gen);
      if (tracePath && run === 1 && base === bases[0]) await browser.stopTracing();
      if (cdp) {
        const { profile } = await cdp.send('Profiler.stop');
        const self = new Map();
        const dt = new Map(profile.nodes.map((n) => [n.id, 0]));
        profile.samples.forEach((id, i) => dt.set(id, dt.get(id) + (profile.timeDeltas[i] ?? 0) / 1000));
        for (const n of profile.nodes) {
          const f = n.callFrame;
          const k = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()}:${f.lineNumber + 1}`;
          self.set(k, (self.get(k) ?? 0) + dt.get(n.id));
        }
        console.log('   self time (ms):');
        for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, cpuTop)) console.log(`     ${v.toFixed(1).padStart(7)} ${k}`);
      }
      const p = await page.evaluate(() => {
        const marks = Object.fromEntries(performance.getEntriesByType('mark').map((m) => [m.name, m.startTime]));
        const t0 = marks['reload-start'];
        const rel = (t) => t - t0;
        return {
          redraw: window.__linesmap.timings.lastRedrawMs,
          states: window.__linesmap.timings.lastStates,
          marks: Object.fromEntries(Object.entries(marks).map(([k, v]) => [k, rel(v)])),
          requests: performance.getEntriesByType('resource').map((e) => ({ url: e.name.replace(location.origin, '').slice(0, 70), start: rel(e.startTime), end: rel(e.responseEnd), kb: e.encodedBodySize / 1024 })),
          frames: window.__prof.frames.filter(([s]) => s >= t0).map(([s, e, why]) => [rel(s), e - s, why]),
          tiles: window.__prof.tiles.filter(([t]) => t >= t0).map(([t, id]) => [rel(t), id]),
          long: window.__prof.long.filter(([s]) => s >= t0).map(([s, d]) => [rel(s), d]),
        };
      });
      console.log(`== ${base} run ${run}${cold == null ? '' : ` (${from} to ${to})`}: first interactive ${first} ms, filter redraw ${p.redraw} ms, ${p.states} features' state pushed`);
      console.log(`   marks: ${Object.entries(p.marks).filter(([k]) => k.startsWith('reload')).map(([k, v]) => `${k} ${r0(v)}`).join(', ')}`);
      for (const q of p.requests) console.log(`   request ${r0(q.start)}–${r0(q.end)} ms (${r0(q.end - q.start)}) ${q.kb.toFixed(1)} KB ${q.url}`);
      console.log(`   frames (start ms: main-thread ms, dirty before>after): ${p.frames.map(([s, d, why]) => `${r0(s)}:${r0(d)} ${why}`).join(', ')}`);
      console.log(`   tiles (ms, source): ${p.tiles.map(([t, id]) => `${r0(t)}:${id}`).join(' ')}`);
      console.log(`   long tasks (start ms, ms): ${p.long.map(([s, d]) => `${r0(s)}:${r0(d)}`).join(' ')}`);
      await context.close();
    }
  }
} finally {
  await browser.close();
}
