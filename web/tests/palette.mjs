// Colour scales that survive colour-blindness, tested by contrast (not by eye): every pair of
// classes on one map scale stays apart (CIE ΔE*ab ≥ 15) in normal vision and in simulated
// protanopia, deuteranopia and tritanopia (Machado, Oliveira & Fernandes 2009, severity 1,
// applied in linear RGB); every mark (stations, flows) but the deliberately receding ones has a
// WCAG contrast ratio ≥ 3 against the land (WCAG 2.1 SC 1.4.11, non-text contrast); and the
// sequential and diverging ramps of the force areas change lightness monotonically in all four
// visions, so their order reads without hue. `node tests/palette.mjs`; e2e.mjs runs it too.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const MACHADO = {
  protanopia: [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
  deuteranopia: [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.01182, 0.04294, 0.968881]],
  tritanopia: [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.3039]],
};
const hex = (h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16) / 255);
const lin = (c) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
const simulate = (rgbLin, m) => (m ? m.map((row) => Math.min(1, Math.max(0, row[0] * rgbLin[0] + row[1] * rgbLin[1] + row[2] * rgbLin[2]))) : rgbLin);
const luminance = (l) => 0.2126 * l[0] + 0.7152 * l[1] + 0.0722 * l[2];
function lab(l) {
  const X = (0.4124 * l[0] + 0.3576 * l[1] + 0.1805 * l[2]) / 0.95047;
  const Y = 0.2126 * l[0] + 0.7152 * l[1] + 0.0722 * l[2];
  const Z = (0.0193 * l[0] + 0.1192 * l[1] + 0.9505 * l[2]) / 1.08883;
  const f = (t) => (t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 * t + 16) / 116);
  return [116 * f(Y) - 16, 500 * (f(X) - f(Y)), 200 * (f(Y) - f(Z))];
}
const dE = (a, b) => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
export const contrast = (a, b) => {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
};
/** sRGB interpolation between stops, as MapLibre's `interpolate` does for colours. */
function ramp(stops, n = 21) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const t = (i / (n - 1)) * (stops.length - 1);
    const k = Math.min(stops.length - 2, Math.floor(t));
    const a = hex(stops[k]), b = hex(stops[k + 1]), u = t - k;
    out.push(a.map((v, j) => lin(v + (b[j] - v) * u)));
  }
  return out;
}

export async function checkPalette() {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const PAL = JSON.parse(await readFile(path.join(here, '..', 'src', 'palette.json'), 'utf8'));
  const results = [];
  const visions = { normal: null, ...MACHADO };
  const land = lin3(PAL.land);
  function lin3(h) {
    return hex(h).map(lin);
  }
  for (const [scale, classes] of [['stations', PAL.stations], ['emerging', PAL.emerging], ['flows', PAL.flows], ['timeline', PAL.timeline], ['treatment_funnel', PAL.treatment_funnel]]) {
    const names = Object.keys(classes);
    for (const [vision, m] of Object.entries(visions)) {
      let worst = Infinity, pair = '';
      for (let i = 0; i < names.length; i++) {
        for (let j = i + 1; j < names.length; j++) {
          const d = dE(lab(simulate(lin3(classes[names[i]]), m)), lab(simulate(lin3(classes[names[j]]), m)));
          if (d < worst) (worst = d), (pair = `${names[i]}/${names[j]}`);
        }
      }
      results.push({ name: `${scale} classes apart in ${vision} vision (min ΔE ${worst.toFixed(1)}, ${pair})`, ok: worst >= 15 });
    }
    for (const n of names) {
      if (PAL.receding.includes(n) || scale === 'timeline') continue;
      const c = contrast(lin3(classes[n]), land);
      results.push({ name: `${scale}.${n} contrast with the land ${c.toFixed(2)} ≥ 3`, ok: c >= 3 });
    }
  }
  // Issue 15: the funnel outlines stand apart from every rate class they are drawn on; the
  // person's journeys from the other marks beside them (journeys, flows, stations).
  const apart = (name, a, others) => {
    for (const [vision, m] of Object.entries(visions)) {
      let worst = Infinity, which = '';
      for (const [n, c] of Object.entries(others)) {
        const d = dE(lab(simulate(lin3(a), m)), lab(simulate(lin3(c), m)));
        if (d < worst) (worst = d), (which = n);
      }
      results.push({ name: `${name} apart from the marks around it in ${vision} vision (min ΔE ${worst.toFixed(1)}, ${which})`, ok: worst >= 15 });
    }
  };
  const rateClasses = Object.fromEntries(PAL.treatment_rate.map((c, k) => [`rate class ${k}`, c]));
  for (const n of ['above', 'below']) apart(`treatment_funnel.${n}`, PAL.treatment_funnel[n], rateClasses);
  apart('person.line', PAL.person.line, { journeys: PAL.timeline.selected, ...Object.fromEntries(Object.entries(PAL.flows).map(([k, v]) => [`flows.${k}`, v])), ...PAL.stations });
  const pc = contrast(lin3(PAL.person.line), land);
  results.push({ name: `person.line contrast with the land ${pc.toFixed(2)} ≥ 3`, ok: pc >= 3 });
  const hc = contrast(lin3(PAL.treatment_nodata), land);
  results.push({ name: `treatment_nodata hatch contrast with the land ${hc.toFixed(2)} ≥ 3`, ok: hc >= 3 });
  for (const key of ['forces_net', 'forces_imports', 'forces_exports', 'treatment_rate']) {
    for (const [vision, m] of Object.entries(visions)) {
      const L = ramp(PAL[key]).map((l) => lab(simulate(l, m))[0]);
      // Diverging: lightness rises to the middle and falls after it; sequential: one direction.
      const mid = (L.length - 1) / 2;
      const diverging = PAL[key].length === 3;
      const dir = Math.sign(L[L.length - 1] - L[0]);
      let ok = true;
      for (let i = 1; i < L.length; i++) ok &&= diverging ? (i <= mid ? L[i] > L[i - 1] : L[i] < L[i - 1]) : Math.sign(L[i] - L[i - 1]) === dir;
      const span = Math.max(...L) - Math.min(...L);
      results.push({ name: `${key} lightness monotonic in ${vision} vision (span ${span.toFixed(0)} L*)`, ok: ok && span >= 30 });
    }
  }
  return results;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await checkPalette();
  for (const x of r) console.log(`${x.ok ? 'ok  ' : 'FAIL'} ${x.name}`);
  const failed = r.filter((x) => !x.ok).length;
  console.log(`${r.length - failed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
