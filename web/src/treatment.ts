// Issue 15's treatment view: force areas coloured by a chosen rate (recognised as victim,
// safeguarding referred, NRM referred, arrested, charged, NFA) for a chosen group, each force's
// funnel position as its outline, and a funnel plot beside the map (x = encounters, log scale;
// y = rate; the national rate and its exact binomial 95 % and 99.8 % limits as curves; each
// force a point). Data from `/api/treatment`, fetched only while the view is open. A viewer gets
// what the server publishes: a suppressed count or rate is drawn as nothing (hatched on the
// map, listed under the plot).
import * as maplibregl from 'maplibre-gl';
import { getJson, isAbort, type Params } from './api';
import { escapeHtml as h } from './filters';
import { st } from './layers';
import PAL from './palette.json';
import { num as fmtNum } from './format';

export const RATES = ['recognised_as_victim', 'safeguarding_referred', 'nrm_referred', 'arrested', 'charged', 'nfa'] as const;
export type Rate = (typeof RATES)[number];
export const RATE_LABEL: Record<Rate, string> = {
  recognised_as_victim: 'recognised as a victim',
  safeguarding_referred: 'safeguarding referred',
  nrm_referred: 'NRM referred',
  arrested: 'arrested',
  charged: 'charged',
  nfa: 'no further action',
};
export const GROUPS = ['children', 'adults', 'vulnerable_adults', 'all'] as const;
export const BYS = ['source_force', 'origin_force', 'destination_force', 'exporting_force'] as const;
export type Position = 'above_99.8' | 'above_95' | 'within' | 'below_95' | 'below_99.8';
/** Feature-state codes of the positions (`tr_pos`); 9: not placed (suppressed). */
const POS_CODE: Record<Position, number> = { 'above_99.8': 2, above_95: 1, within: 0, below_95: -1, 'below_99.8': -2 };
const POS_LABEL: Record<Position, string> = {
  'above_99.8': 'above the 99.8 % limit',
  above_95: 'above the 95 % limit',
  within: 'within the limits',
  below_95: 'below the 95 % limit',
  'below_99.8': 'below the 99.8 % limit',
};

export interface Row {
  key: string;
  name: string;
  encounters: number | null;
  persons: number | null;
  rates: Record<Rate, number | null>;
  funnel: Record<Rate, { position: Position | null; limits_95: [number, number] | null; limits_99_8: [number, number] | null }>;
  [k: string]: unknown;
}
export interface Answer {
  by: string;
  group: string;
  national: { encounters: number | null; rates: Record<Rate, number | null> };
  rows: Row[];
}
export interface View {
  rate: Rate;
  group: (typeof GROUPS)[number];
  by: (typeof BYS)[number];
}

// ---------------------------------------------------------------- exact binomial limits
// The same computation as the server's (src/layers/treatment.rs `funnel`): the distribution
// function of Binomial(n, p) summed from the probabilities computed from the mode outwards, and
// the quantile min { r : P(Y <= r) >= q }. The browser test checks the page's limits at every
// force's n against the server's.

/** ln Γ(x) (Lanczos, g = 7, n = 9; relative error below 1e-15 for x > 0). */
function lnGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

export const LEVELS = [0.001, 0.025, 0.975, 0.999];

/** The 0.001, 0.025, 0.975 and 0.999 quantiles (counts) of Binomial(n, p). */
export function quantiles(n: number, p: number): number[] {
  p = Math.min(1, Math.max(0, p));
  const pmf = new Float64Array(n + 1);
  if (p <= 0) pmf[0] = 1;
  else if (p >= 1) pmf[n] = 1;
  else {
    const mode = Math.min(n, Math.floor((n + 1) * p));
    pmf[mode] = Math.exp(lnGamma(n + 1) - lnGamma(mode + 1) - lnGamma(n - mode + 1) + mode * Math.log(p) + (n - mode) * Math.log1p(-p));
    const odds = p / (1 - p);
    for (let k = mode; k < n; k++) {
      const next = pmf[k] * ((n - k) / (k + 1)) * odds;
      if (next === 0) break;
      pmf[k + 1] = next;
    }
    for (let k = mode; k >= 1; k--) {
      const prev = (pmf[k] * (k / (n - k + 1))) / odds;
      if (prev === 0) break;
      pmf[k - 1] = prev;
    }
  }
  let acc = 0;
  for (let k = 0; k <= n; k++) pmf[k] = Math.min(1, (acc += pmf[k]));
  return LEVELS.map((q) => {
    const qq = q * (1 - 4 * Number.EPSILON);
    let lo = 0, hi = n + 1; // first index with cdf >= qq
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (pmf[mid] < qq) lo = mid + 1;
      else hi = mid;
    }
    return Math.min(lo, n);
  });
}

/** The limits on the rate scale (quantile / n), rounded to 6 places as the server writes them. */
export function limits(n: number, p: number): { limits_95: [number, number]; limits_99_8: [number, number] } {
  const q = quantiles(n, p).map((r) => Math.round((r / n) * 1e6) / 1e6);
  return { limits_95: [q[1], q[2]], limits_99_8: [q[0], q[3]] };
}

// ---------------------------------------------------------------- state

const $ = (id: string) => document.getElementById(id) as HTMLElement;
const pct = (v: number | null | undefined) => (v == null ? 'suppressed' : `${(v * 100).toFixed(1)} %`);
const num = (v: number | null | undefined) => (v == null ? 'suppressed' : fmtNum(v));

let map: maplibregl.Map;
let onSelect: (code: string) => void = () => {};
let onClose: () => void = () => {};
let open = false;
let answer: Answer | null = null;
let breaks: number[] = [];
let hover = '';
let seq = 0;
export const view: View = { rate: 'recognised_as_victim', group: 'children', by: 'source_force' };

/** The test handle's view of the treatment state. */
export const debug = {
  get open() {
    return open;
  },
  get answer() {
    return answer;
  },
  get breaks() {
    return breaks;
  },
  get hover() {
    return hover;
  },
  /** the force codes drawn as points in the plot */
  points: [] as string[],
  limits,
  generation: 0,
};

export function active(): boolean {
  return open;
}

/** Reads the view from the URL (`view=treatment&rate=…&group=…&by=…`). */
export function fromUrl(q: URLSearchParams): boolean {
  const pick = <T extends string>(v: string | null, all: readonly T[], d: T) => (all.includes(v as T) ? (v as T) : d);
  view.rate = pick(q.get('rate'), RATES, 'recognised_as_victim');
  view.group = pick(q.get('group'), GROUPS, 'children');
  view.by = pick(q.get('by'), BYS, 'source_force');
  return q.get('view') === 'treatment';
}

/** The view's URL parameters (defaults left out) while it is open. */
export function urlParams(): Record<string, string> {
  if (!open) return {};
  const v: Record<string, string> = { view: 'treatment' };
  if (view.rate !== 'recognised_as_victim') v.rate = view.rate;
  if (view.group !== 'children') v.group = view.group;
  if (view.by !== 'source_force') v.by = view.by;
  return v;
}

/** Wires the panel's controls. `select`: open a force (fly to it, its popup); `close`: the
 * view closed (restore the choropleth); `changed`: a control changed (for the URL). */
export function init(m: maplibregl.Map, hooks: { select: (code: string) => void; close: () => void; changed: () => void }) {
  map = m;
  onSelect = hooks.select;
  onClose = hooks.close;
  const opt = (all: readonly string[], label: (s: string) => string) => all.map((v) => `<option value="${v}">${h(label(v))}</option>`).join('');
  const rate = $('tr-rate') as HTMLSelectElement, group = $('tr-group') as HTMLSelectElement, by = $('tr-by') as HTMLSelectElement;
  rate.innerHTML = opt(RATES, (r) => RATE_LABEL[r as Rate]);
  group.innerHTML = opt(GROUPS, (g) => g.replace('_', ' '));
  by.innerHTML = opt(BYS, (b) => b.replace('_', ' '));
  rate.value = view.rate;
  group.value = view.group;
  by.value = view.by;
  rate.addEventListener('change', () => {
    view.rate = rate.value as Rate;
    draw(); // the answer has every rate: no request
    hooks.changed();
  });
  for (const [el, k] of [[group, 'group'], [by, 'by']] as const) {
    el.addEventListener('change', () => {
      (view as any)[k] = el.value;
      hooks.changed();
      refresh(lastParams);
    });
  }
  $('treatment-close').addEventListener('click', () => setOpen(false));
}

let lastParams: Params = {};

export function setOpen(on: boolean, params?: Params) {
  if (on === open) return;
  open = on;
  $('treatment').hidden = !on;
  $('treatment-open').setAttribute('aria-pressed', String(on));
  if (on) {
    addLayers();
    if (params) refresh(params);
  } else {
    for (const l of ['treatment-hatch', 'treatment-outline', 'treatment-hover']) if (map.getLayer(l)) map.setLayoutProperty(l, 'visibility', 'none');
    answer = null;
    onClose();
  }
}

/** Fetches the treatment table for the journey filters (only while open) and draws it. */
export async function refresh(params: Params) {
  lastParams = params;
  if (!open) return;
  const s = ++seq;
  $('tr-status').textContent = 'loading…';
  try {
    const a = await getJson<Answer>('/api/treatment', { ...params, by: view.by, group: view.group }, 'treatment');
    if (s !== seq || !open) return;
    answer = a;
    draw();
  } catch (e) {
    if (!isAbort(e)) $('tr-status').textContent = (e as Error).message;
  }
}

function addLayers() {
  if (!map.getLayer('treatment-hatch')) {
    if (!map.hasImage('tr-hatch')) map.addImage('tr-hatch', hatchImage());
    // above the force fill, below the force borders: suppressed forces hatched, the outline by
    // funnel position, a wide border on the hovered force
    map.addLayer({ id: 'treatment-hatch', type: 'fill', source: 'forces', paint: { 'fill-pattern': 'tr-hatch', 'fill-opacity': ['case', ['==', st('tr_class'), -1], 1, 0] } }, 'forces-line');
    map.addLayer({
      id: 'treatment-outline',
      type: 'line',
      source: 'forces',
      paint: {
        'line-color': ['case', ['>', st('tr_pos'), 0], PAL.treatment_funnel.above, PAL.treatment_funnel.below],
        'line-width': ['match', st('tr_pos'), [2, -2], 3.5, [1, -1], 2, 0],
        'line-offset': ['match', st('tr_pos'), [2, -2], 1.75, [1, -1], 1, 0],
      },
    }, 'rail-line');
    map.addLayer({ id: 'treatment-hover', type: 'line', source: 'forces', filter: ['==', ['get', 'code'], ''], paint: { 'line-color': PAL.treatment_funnel.hover, 'line-width': 4 } }, 'rail-line');
  }
  for (const l of ['treatment-hatch', 'treatment-outline', 'treatment-hover']) map.setLayoutProperty(l, 'visibility', 'visible');
}

/** 8 × 8 diagonal hatch (RGBA) for the suppressed forces. */
function hatchImage(size = 8) {
  const data = new Uint8Array(size * size * 4);
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(PAL.treatment_nodata.slice(i, i + 2), 16));
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) if ((x + y) % size < 2) data.set([r, g, b, 255], (y * size + x) * 4);
  return { width: size, height: size, data };
}

/** A step for `max / 5` of 1, 2 or 5 times a power of ten. */
function niceStep(max: number): number {
  const raw = Math.max(max, 1e-6) / 5;
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((k) => k * p).find((s) => s >= raw)!;
}

/** Four breaks (five classes of equal width) between the smallest and the largest drawn
 * rate, rounded to a tenth of a percent. */
export function classBreaks(rates: number[]): number[] {
  const lo = rates.length ? Math.min(...rates) : 0, hi = rates.length ? Math.max(...rates) : 1;
  return [1, 2, 3, 4].map((k) => Math.round((lo + (k * (hi - lo)) / 5) * 1000) / 1000);
}

/** The rate class (0..4) of a rate for the current breaks; -1 for a suppressed rate. */
export function classOf(rate: number | null): number {
  if (rate == null) return -1;
  let k = 0;
  while (k < breaks.length && rate >= breaks[k]) k++;
  return k;
}

/** Rows that are force areas on the map (BTP is a recording force, not an area). */
const onMap = (r: Row) => r.key !== 'BTP';

function draw() {
  if (!answer) return;
  const a = answer;
  const rate = view.rate;
  const rates = a.rows.map((r) => r.rates[rate]).filter((v): v is number => v != null);
  breaks = classBreaks(rates);
  const byCode = new Map(a.rows.map((r) => [r.key, r]));
  // every force area: those without a row have no encounters of the group
  for (const code of forceCodes()) {
    const r = byCode.get(code);
    const v = r?.rates[rate] ?? null;
    const pos = r?.funnel[rate]?.position;
    map.setFeatureState({ source: 'forces', id: code }, { tr_class: r ? classOf(v) : -1, tr_pos: pos ? POS_CODE[pos] : 9 });
  }
  map.setPaintProperty('forces-fill', 'fill-color', ['match', st('tr_class'), ...PAL.treatment_rate.flatMap((c, k) => [k, c]), PAL.land] as any);
  legend(a);
  plot(a);
  const suppressed = a.rows.filter((r) => r.rates[rate] == null || r.encounters == null);
  $('tr-status').innerHTML =
    `${h(a.group.replace('_', ' '))} by ${h(a.by.replace('_', ' '))}: national ${pct(a.national.rates[rate])} of ${num(a.national.encounters)} encounters.` +
    (suppressed.length ? ` <span class="tr-supp">Not drawn (counts suppressed or none): ${suppressed.map((r) => h(r.name)).join(', ')}.</span>` : '');
  debug.generation++;
}

let codes: string[] = [];
/** The force codes of the map (set by main from the forces collection). */
export function setForces(c: string[]) {
  codes = c;
}
function forceCodes(): string[] {
  return codes;
}

/** A legend swatch: fill, optional hatch, optional outline (SVG attributes: the CSP allows no inline style). */
function sw(fill: string, hatch = '', outline = ''): string {
  const stripes = hatch ? [0, 5, 10].map((x) => `<line x1="${x}" y1="12" x2="${x + 8}" y2="0" stroke="${hatch}" stroke-width="1.5"/>`).join('') : '';
  return `<svg class="sw" width="18" height="12" aria-hidden="true"><rect x="1" y="1" width="16" height="10" fill="${fill}" stroke="${outline || '#777'}" stroke-width="${outline ? 2.5 : 0.6}"/>${stripes}</svg>`;
}

function legend(a: Answer) {
  const rate = view.rate;
  const cls = PAL.treatment_rate
    .map((c, k) => {
      const lo = breaks[k - 1], hi = breaks[k];
      const label = lo == null ? `below ${pct(hi)}` : hi == null ? `${pct(lo)} or more` : `${pct(lo)} to below ${pct(hi)}`;
      return `<div data-class="${k}">${sw(c)}${label}</div>`;
    })
    .join('');
  $('tr-legend').innerHTML = `<div class="tr-title">${h(RATE_LABEL[rate])} (share of ${h(a.group.replace('_', ' '))} encounters)</div>${cls}
    <div>${sw(PAL.land, PAL.treatment_nodata)}suppressed or no encounters (hatched; not drawn in the plot)</div>
    <div>${sw(PAL.land, '', PAL.treatment_funnel.above)}outline: above the 95 % limit (thick: 99.8 %)</div>
    <div>${sw(PAL.land, '', PAL.treatment_funnel.below)}outline: below the 95 % limit (thick: 99.8 %)</div>
    <div>${sw(PAL.land, '', PAL.treatment_funnel.hover)}the force hovered in the plot or on the map</div>`;
}

// ---------------------------------------------------------------- funnel plot

const W = 380, H = 260, ML = 44, MR = 10, MT = 10, MB = 34;

function plot(a: Answer) {
  const svg = $('tr-plot') as unknown as SVGSVGElement;
  const rate = view.rate;
  const p0 = a.national.rates[rate];
  const pts = a.rows.filter((r) => r.encounters != null && r.encounters > 0 && r.rates[rate] != null);
  debug.points = pts.map((r) => r.key);
  if (!pts.length || p0 == null) {
    svg.innerHTML = `<text x="${W / 2}" y="${H / 2}" text-anchor="middle" class="tr-empty">nothing to draw (no published counts)</text>`;
    return;
  }
  const ns = pts.map((r) => r.encounters!);
  const x0 = Math.max(1, Math.min(...ns) / 1.5), x1 = Math.max(...ns) * 1.5;
  const lx = (n: number) => ML + ((Math.log10(n) - Math.log10(x0)) / (Math.log10(x1) - Math.log10(x0))) * (W - ML - MR);
  // curves: the limits at about 90 sizes from the smallest force to the largest axis value
  const sizes = [...new Set(Array.from({ length: 90 }, (_, i) => Math.round(10 ** (Math.log10(x0) + (i / 89) * (Math.log10(x1) - Math.log10(x0))))))].filter((n) => n >= 1);
  const curves = sizes.map((n) => ({ n, q: quantiles(n, p0).map((r) => r / n) }));
  // y: the points' range and a tenth either side, in tenths (the curves are clipped to it)
  const rs = pts.map((r) => r.rates[rate]!).concat(p0);
  const ymin = Math.max(0, Math.floor((Math.min(...rs) - 0.1) * 10 + 1e-9) / 10);
  const ymax = Math.min(1, Math.ceil((Math.max(...rs) + 0.1) * 10 - 1e-9) / 10);
  const ly = (v: number) => MT + (1 - (v - ymin) / (ymax - ymin)) * (H - MT - MB);
  const line = (k: number) => curves.map((c) => `${lx(c.n).toFixed(1)},${ly(Math.max(ymin - 0.05, Math.min(ymax + 0.05, c.q[k]))).toFixed(1)}`).join(' ');
  const yt = niceStep(ymax - ymin);
  const yticks = Array.from({ length: Math.floor((ymax - ymin) / yt + 1e-9) + 1 }, (_, i) => ymin + i * yt);
  const xticks: number[] = [];
  for (let d = 10 ** Math.floor(Math.log10(x0)); d <= x1; d *= 10) for (const k of [1, 2, 5]) if (k * d >= x0 && k * d <= x1) xticks.push(k * d);
  const cls = (r: Row) => {
    const pos = r.funnel[rate]?.position;
    return pos?.startsWith('above') ? 'above' : pos?.startsWith('below') ? 'below' : 'within';
  };
  const FILL = { above: PAL.treatment_funnel.above, below: PAL.treatment_funnel.below, within: '#ffffff' };
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.innerHTML = `<defs><clipPath id="tr-clip"><rect x="${ML}" y="${MT}" width="${W - ML - MR}" height="${H - MT - MB}"/></clipPath></defs>
    ${yticks.map((v) => `<line class="grid" x1="${ML}" x2="${W - MR}" y1="${ly(v)}" y2="${ly(v)}"/><text class="tick" x="${ML - 4}" y="${ly(v) + 3}" text-anchor="end">${Math.round(v * 100)} %</text>`).join('')}
    ${xticks.map((v) => `<text class="tick" x="${lx(v)}" y="${H - MB + 13}" text-anchor="middle">${num(v)}</text>`).join('')}
    <text class="axis" x="${(ML + W - MR) / 2}" y="${H - 4}" text-anchor="middle">encounters (log scale)</text>
    <g clip-path="url(#tr-clip)">
      <polyline class="l998" points="${line(0)}"/><polyline class="l998" points="${line(3)}"/>
      <polyline class="l95" points="${line(1)}"/><polyline class="l95" points="${line(2)}"/>
      <line class="nat" x1="${ML}" x2="${W - MR}" y1="${ly(p0)}" y2="${ly(p0)}"/>
    </g>
    <line class="frame" x1="${ML}" x2="${ML}" y1="${MT}" y2="${H - MB}"/><line class="frame" x1="${ML}" x2="${W - MR}" y1="${H - MB}" y2="${H - MB}"/>
    ${pts
      .map((r) => {
        const x = lx(r.encounters!), y = ly(r.rates[rate]!);
        const label = `${r.name}: ${pct(r.rates[rate])} of ${num(r.encounters)} encounters, ${POS_LABEL[r.funnel[rate]?.position ?? 'within']}`;
        const shape = onMap(r) ? `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="4.5"/>` : `<rect x="${(x - 5).toFixed(1)}" y="${(y - 5).toFixed(1)}" width="10" height="10"/><text class="btp" x="${(x + 7).toFixed(1)}" y="${(y + 3).toFixed(1)}">BTP</text>`;
        return `<g class="pt ${cls(r)}" data-code="${h(r.key)}" data-position="${h(r.funnel[rate]?.position ?? '')}" fill="${FILL[cls(r)]}" stroke="#333" tabindex="0" role="button" aria-label="${h(label)}"><title>${h(label)}</title>${shape}</g>`;
      })
      .join('')}
    <circle id="tr-ring" r="9" fill="none" stroke="${PAL.treatment_funnel.hover}" stroke-width="3" pointer-events="none" visibility="hidden"/>`;
  const kl = (c: string) => `<svg width="22" height="8" aria-hidden="true"><line class="${c}" x1="0" y1="4" x2="22" y2="4"/></svg>`;
  const kp = (c: string) => `<svg width="10" height="10" aria-hidden="true"><circle cx="5" cy="5" r="4" fill="${c}" stroke="#333"/></svg>`;
  $('tr-key').innerHTML = `${kl('nat')} national ${pct(p0)} ${kl('l95')} 95 % ${kl('l998')} 99.8 % limits (exact binomial, Spiegelhalter 2005);
    ${kp(FILL.above)} above ${kp(FILL.within)} within ${kp(FILL.below)} below the 95 % limit; ■ BTP (a recording force, not an area: in the plot only)`;
  for (const g of Array.from(svg.querySelectorAll<SVGGElement>('g.pt'))) {
    const code = g.dataset.code!;
    g.addEventListener('mouseenter', () => setHover(code));
    g.addEventListener('mouseleave', () => setHover(''));
    g.addEventListener('focus', () => setHover(code));
    g.addEventListener('blur', () => setHover(''));
    g.addEventListener('click', () => onSelect(code));
    g.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        onSelect(code);
      }
    });
  }
  setHover(hover);
}

/** Highlights a force in the plot and on the map ('' for none). */
export function setHover(code: string) {
  hover = code;
  if (!open) return;
  for (const g of Array.from(document.querySelectorAll<SVGGElement>('#tr-plot g.pt'))) {
    const on = g.dataset.code === code;
    g.classList.toggle('hl', on);
    g.setAttribute('stroke', on ? PAL.treatment_funnel.hover : '#333');
  }
  // a ring over every point (moving the point itself would take the keyboard focus from it)
  const g = document.querySelector<SVGGElement>('#tr-plot g.pt.hl');
  const ring = document.getElementById('tr-ring');
  if (ring) {
    const c = g?.querySelector('circle, rect') as SVGGraphicsElement | null;
    const b = c?.getBBox();
    ring.setAttribute('visibility', b ? 'visible' : 'hidden');
    if (b) (ring.setAttribute('cx', String(b.x + b.width / 2)), ring.setAttribute('cy', String(b.y + b.height / 2)));
  }
  if (map.getLayer('treatment-hover')) map.setFilter('treatment-hover', ['==', ['get', 'code'], code]);
}

/** Hovering the map: the force under the pointer ('' for none). */
export function hoverFromMap(code: string) {
  if (open && code !== hover) setHover(code);
}

/** The treatment lines of a force's popup (while the view is open). */
export function popupSection(code: string): string {
  if (!open || !answer) return '';
  const r = answer.rows.find((x) => x.key === code);
  const rate = view.rate;
  if (!r) return `<div class="pop tr-pop"><em>No ${h(answer.group.replace('_', ' '))} encounters recorded ${h(answer.by.replace('_', ' '))}.</em></div>`;
  const f = r.funnel[rate];
  return `<div class="pop tr-pop"><b>${h(RATE_LABEL[rate])}</b> (${h(answer.group.replace('_', ' '))}, ${h(answer.by.replace('_', ' '))})
    <table class="kv"><tr><th>rate</th><td>${pct(r.rates[rate])}</td></tr><tr><th>count</th><td>${num(r[rate] as number | null)} of ${num(r.encounters)} encounters</td></tr>
    <tr><th>persons</th><td>${num(r.persons)}</td></tr>
    <tr><th>funnel</th><td>${f?.position ? h(POS_LABEL[f.position]) : 'not placed (suppressed)'}</td></tr>
    ${f?.limits_95 ? `<tr><th>95 % limits</th><td>${pct(f.limits_95[0])} – ${pct(f.limits_95[1])}</td></tr><tr><th>99.8 % limits</th><td>${pct(f.limits_99_8![0])} – ${pct(f.limits_99_8![1])}</td></tr>` : ''}
    <tr><th>national</th><td>${pct(answer.national.rates[rate])}</td></tr></table></div>`;
}
