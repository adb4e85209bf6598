// The browser test's two timings alone, for A/B comparisons while working on the map's speed:
//   node tests/timing.mjs http://127.0.0.1:18801 [http://127.0.0.1:18802 ...] [--runs 3]
// For each run and each page in turn (interleaved, so load on a shared machine hits both alike):
// a fresh tab loads the page (open demo server, no sign-in) and reports `first_interactive`
// (page start to the first drawn, idle map, as the page measures it), then sets the dates to
// 2024 Q1 as the browser test does and reports `filter_redraw` (change to the redrawn, idle map)
// and the frames MapLibre drew meanwhile. Prints one JSON line per page and run.
import { chromium } from 'playwright-core';

const args = process.argv.slice(2);
const ri = args.indexOf('--runs');
const runs = ri >= 0 ? Number(args.splice(ri, 2)[1]) : 3;
const bases = args.length ? args : ['http://127.0.0.1:8080'];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  for (let run = 1; run <= runs; run++) {
    for (const base of bases) {
      const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
      const page = await context.newPage();
      page.setDefaultTimeout(120000);
      await page.goto(`${base}/`, { waitUntil: 'domcontentloaded' });
      await page.waitForFunction(() => window.__linesmap?.generation >= 1 && !document.body.dataset.loading);
      const first = await page.evaluate(() => window.__linesmap.timings.firstInteractiveMs);
      const gen = await page.evaluate(() => {
        const m = window.__linesmap.map;
        window.__frames = 0;
        m.on('render', () => window.__frames++);
        return window.__linesmap.generation;
      });
      await page.fill('#f-from', '2024-01-01');
      await page.fill('#f-to', '2024-03-31');
      await page.dispatchEvent('#f-to', 'change');
      await page.waitForFunction((g) => window.__linesmap.generation > g && !document.body.dataset.loading, gen);
      const t = await page.evaluate(() => ({ ...window.__linesmap.timings, frames: window.__frames }));
      console.log(JSON.stringify({ base, run, first_interactive: first, filter_redraw: t.lastRedrawMs, fetch: t.lastFetchMs, apply: t.lastApplyMs, frames: t.frames }));
      await context.close();
    }
  }
} finally {
  await browser.close();
}
