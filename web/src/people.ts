// Issue 15's people list, for analysts and admins: `/api/people` (people seen on several
// journeys; a preset for children moved through several forces), paged; a person's journeys
// (`/api/people/{psn}`) drawn in date order on the map, numbered, with arrows, in a colour of
// their own, and the summary beside them. Every request carries the reason for access
// (X-Justification) and is audited by the server. Fetched only while the panel is open; the
// pseudonym of an opened person is not put in the URL (it would go to the browser history).
import * as maplibregl from 'maplibre-gl';
import { getJson, isAbort, type FC, type Params } from './api';
import { escapeHtml as h } from './filters';
import PAL from './palette.json';
import { num } from './format';

export const GROUPS = ['all', 'children', 'adults', 'vulnerable_adults'] as const;
export const PAGE = 25;

export interface Person {
  person: string;
  child: boolean;
  journeys: number;
  forces: string[];
  first_seen: string;
  last_seen: string;
  age_bands: string[];
  roles: string[];
  victim_statuses: string[];
  safeguarding_referrals: number;
  nrm_referrals: number;
  arrests: number;
  missing_episodes: number;
  signals: string[];
}
interface List {
  numberMatched: number;
  numberReturned: number;
  people: Person[];
}

export const SIGNAL_LABEL: Record<string, string> = {
  new_force_last_90_days: 'new force in the last 90 days',
  shortening_intervals: 'shortening intervals',
  role_escalation: 'role escalation',
  repeated_missing_episodes: 'repeated missing episodes',
  arrested_never_referred: 'arrested, never referred',
};

const $ = (id: string) => document.getElementById(id) as HTMLElement;
const EMPTY: FC = { type: 'FeatureCollection', features: [] };

let map: maplibregl.Map;
let reason: () => string = () => '';
let setReason: (r: string) => void = () => {};
let changed: () => void = () => {};
let forceName: (code: string) => string = (c) => c;
let open = false;
let params: Params = {};
let seq = 0;
export const query = { group: 'all' as (typeof GROUPS)[number], min_journeys: 2, min_forces: 1, offset: 0 };
let list: List | null = null;
let person: (FC & { person: Person }) | null = null;

/** The test handle's view of the panel. */
export const debug = {
  get open() {
    return open;
  },
  get list() {
    return list;
  },
  get person() {
    return person;
  },
  /** the query of the list shown */
  listFor: '',
  generation: 0,
};

export function active(): boolean {
  return open;
}

/** Reads the panel's state from the URL (`view=people&people_group=…&min_journeys=…&min_forces=…`). */
export function fromUrl(q: URLSearchParams): boolean {
  const g = q.get('people_group') ?? '';
  query.group = (GROUPS as readonly string[]).includes(g) ? (g as (typeof GROUPS)[number]) : 'all';
  query.min_journeys = clampInt(q.get('min_journeys'), 2);
  query.min_forces = clampInt(q.get('min_forces'), 1);
  return q.get('view') === 'people';
}
const clampInt = (v: string | null, d: number) => Math.max(1, Math.min(1000, Math.floor(Number(v)) || d));

export function urlParams(): Record<string, string> {
  if (!open) return {};
  const v: Record<string, string> = { view: 'people' };
  if (query.group !== 'all') v.people_group = query.group;
  if (query.min_journeys !== 2) v.min_journeys = String(query.min_journeys);
  if (query.min_forces !== 1) v.min_forces = String(query.min_forces);
  return v;
}

export function init(
  m: maplibregl.Map,
  hooks: { reason: () => string; setReason: (r: string) => void; changed: () => void; forceName: (code: string) => string },
) {
  map = m;
  reason = hooks.reason;
  setReason = hooks.setReason;
  changed = hooks.changed;
  forceName = hooks.forceName;
  const group = $('pp-group') as HTMLSelectElement;
  group.innerHTML = GROUPS.map((g) => `<option value="${g}">${g.replace('_', ' ')}</option>`).join('');
  const mj = $('pp-min-journeys') as HTMLInputElement, mf = $('pp-min-forces') as HTMLInputElement;
  const set = () => {
    group.value = query.group;
    mj.value = String(query.min_journeys);
    mf.value = String(query.min_forces);
  };
  set();
  const read = () => {
    query.group = group.value as (typeof GROUPS)[number];
    query.min_journeys = clampInt(mj.value, 2);
    query.min_forces = clampInt(mf.value, 1);
    query.offset = 0;
    changed();
    refresh(params);
  };
  $('pp-form').addEventListener('change', read);
  $('pp-form').addEventListener('submit', (e) => {
    e.preventDefault();
    read();
  });
  $('pp-preset').addEventListener('click', () => {
    // children moved through several forces
    query.group = 'children';
    query.min_journeys = 2;
    query.min_forces = 2;
    set();
    read();
  });
  $('pp-prev').addEventListener('click', () => page(-1));
  $('pp-next').addEventListener('click', () => page(1));
  $('pp-back').addEventListener('click', () => showList());
  $('people-close').addEventListener('click', () => setOpen(false));
  $('pp-why').addEventListener('submit', (e) => {
    e.preventDefault();
    setReason(($('pp-why-text') as HTMLInputElement).value);
    if (reason()) refresh(params);
  });
}

function page(d: number) {
  if (!list) return;
  const next = query.offset + d * PAGE;
  if (next < 0 || next >= list.numberMatched) return;
  query.offset = next;
  refresh(params);
}

export function setOpen(on: boolean, p?: Params) {
  if (on === open) return;
  open = on;
  $('people').hidden = !on;
  $('people-open').setAttribute('aria-pressed', String(on));
  if (on) {
    addLayers();
    if (p) refresh(p);
  } else {
    list = null;
    clearPerson();
  }
  changed();
}

/** An arrowhead as a signed-distance-field image (tinted by `icon-color`), pointing along +x. */
function arrowImage(size = 32): { width: number; height: number; data: Uint8Array } {
  const tri = [[size * 0.2, size * 0.15], [size * 0.88, size / 2], [size * 0.2, size * 0.85]];
  const data = new Uint8Array(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const px = x + 0.5, py = y + 0.5;
      let d = Infinity, inside = true;
      for (let k = 0; k < 3; k++) {
        const [ax, ay] = tri[k], [bx, by] = tri[(k + 1) % 3];
        const ex = bx - ax, ey = by - ay;
        const t = Math.max(0, Math.min(1, ((px - ax) * ex + (py - ay) * ey) / (ex * ex + ey * ey)));
        d = Math.min(d, Math.hypot(ax + t * ex - px, ay + t * ey - py));
        if (ex * (py - ay) - ey * (px - ax) < 0) inside = false;
      }
      const v = Math.max(0, Math.min(255, Math.round(255 - 255 * ((inside ? -d : d) / 8 + 0.25))));
      data.set([0, 0, 0, v], (y * size + x) * 4);
    }
  }
  return { width: size, height: size, data };
}

function addLayers() {
  if (map.getSource('person')) return;
  // the flows draw their arrowheads as fills now: the person's route arrows bring their own image
  if (!map.hasImage('person-arrow')) map.addImage('person-arrow', arrowImage(), { sdf: true });
  map.addSource('person', { type: 'geojson', data: EMPTY });
  map.addSource('person-labels', { type: 'geojson', data: EMPTY });
  const before = map.getLayer('force-labels') ? 'force-labels' : undefined;
  map.addLayer({ id: 'person-casing', type: 'line', source: 'person', layout: { 'line-cap': 'round', 'line-join': 'round' }, paint: { 'line-color': '#fff', 'line-width': 6, 'line-opacity': 0.9 } }, before);
  map.addLayer({ id: 'person-line', type: 'line', source: 'person', layout: { 'line-cap': 'round', 'line-join': 'round' }, paint: { 'line-color': PAL.person.line, 'line-width': 3 } }, before);
  map.addLayer({
    id: 'person-arrow',
    type: 'symbol',
    source: 'person',
    layout: { 'symbol-placement': 'line', 'symbol-spacing': 90, 'icon-image': 'person-arrow', 'icon-size': 0.55, 'icon-allow-overlap': true, 'icon-rotation-alignment': 'map' },
    paint: { 'icon-color': PAL.person.line, 'icon-halo-color': '#fff', 'icon-halo-width': 1 },
  }, before);
  map.addLayer({
    id: 'person-number',
    type: 'symbol',
    source: 'person-labels',
    layout: { 'text-field': ['to-string', ['get', 'order']], 'text-font': ['NotoSans-Bold'], 'text-size': 12, 'text-max-width': 14, 'text-allow-overlap': true, 'text-ignore-placement': true },
    paint: { 'text-color': '#fff', 'text-halo-color': PAL.person.line, 'text-halo-width': 3 },
  });
}

/** Fetches the list (or the open person) for the journey filters, while the panel is open. */
export async function refresh(p: Params) {
  params = p;
  if (!open) return;
  if (!reason()) {
    $('pp-why').hidden = false;
    $('pp-status').textContent = 'A reason for access is needed: person-level reads are audited.';
    return;
  }
  $('pp-why').hidden = true;
  if (person) return openPerson(person.person.person);
  const s = ++seq;
  $('pp-status').textContent = 'loading…';
  try {
    const l = await getJson<List>('/api/people', { ...p, group: query.group, min_journeys: String(query.min_journeys), min_forces: String(query.min_forces), limit: String(PAGE), offset: String(query.offset) }, 'people', { 'X-Justification': reason() });
    if (s !== seq || !open) return;
    list = l;
    debug.listFor = `group=${query.group}&min_journeys=${query.min_journeys}&min_forces=${query.min_forces}&offset=${query.offset}`;
    renderList();
  } catch (e) {
    if (!isAbort(e)) $('pp-status').textContent = (e as Error).message;
  }
}

const forcesText = (codes: string[]) => codes.map(forceName).join(' → ');

function renderList() {
  const l = list!;
  const body = $('pp-body');
  body.innerHTML = l.people
    .map((x) => `<tr tabindex="0" data-psn="${h(x.person)}"><td>${h(x.person)}${x.child ? ' <span class="child">child</span>' : ''}</td><td class="n">${x.journeys}</td>
      <td class="n" title="${h(forcesText(x.forces))}">${x.forces.length}</td><td>${h(x.first_seen)}<br>${h(x.last_seen)}</td>
      <td class="n">${x.safeguarding_referrals}</td><td class="n">${x.nrm_referrals}</td><td class="n">${x.arrests}</td>
      <td>${x.signals.map((s) => `<span class="sig">${h(SIGNAL_LABEL[s] ?? s)}</span>`).join(' ')}</td></tr>`)
    .join('') || '<tr><td colspan="8"><em>nobody matches</em></td></tr>';
  for (const tr of Array.from(body.querySelectorAll<HTMLTableRowElement>('tr[data-psn]'))) {
    const go = () => openPerson(tr.dataset.psn!);
    tr.addEventListener('click', go);
    tr.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        go();
      }
    });
  }
  const from = l.numberReturned ? query.offset + 1 : 0;
  $('pp-status').textContent = `${from}–${query.offset + l.numberReturned} of ${num(l.numberMatched)} people`;
  ($('pp-prev') as HTMLButtonElement).disabled = query.offset === 0;
  ($('pp-next') as HTMLButtonElement).disabled = query.offset + l.numberReturned >= l.numberMatched;
  $('pp-list').hidden = false;
  $('pp-person').hidden = true;
  debug.generation++;
}

function showList() {
  clearPerson();
  if (list) renderList();
  else refresh(params);
}

function clearPerson() {
  person = null;
  if (map.getSource('person')) {
    (map.getSource('person') as maplibregl.GeoJSONSource).setData(EMPTY as any);
    (map.getSource('person-labels') as maplibregl.GeoJSONSource).setData(EMPTY as any);
  }
}

/** Midpoint (by vertices' path length) of a line: where its number goes. */
function midpoint(g: GeoJSON.Geometry): [number, number] | null {
  const c = g.type === 'LineString' ? g.coordinates : g.type === 'MultiLineString' ? g.coordinates.flat() : g.type === 'Point' ? [g.coordinates] : [];
  if (!c.length) return null;
  const d = [0];
  for (let i = 1; i < c.length; i++) d.push(d[i - 1] + Math.hypot(c[i][0] - c[i - 1][0], c[i][1] - c[i - 1][1]));
  const half = d[d.length - 1] / 2;
  const i = Math.max(0, d.findIndex((x) => x >= half));
  return [c[i][0], c[i][1]];
}

/** "1–3, 7" for [1, 2, 3, 7] (sorted numbers). */
export function ranges(n: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < n.length; i++) {
    let j = i;
    while (j + 1 < n.length && n[j + 1] === n[j] + 1) j++;
    out.push(j > i ? `${n[i]}–${n[j]}` : String(n[i]));
    i = j;
  }
  return out.join(', ');
}

async function openPerson(psn: string) {
  const s = ++seq;
  $('pp-status').textContent = 'loading…';
  try {
    const fc = await getJson<FC & { person: Person }>(`/api/people/${encodeURIComponent(psn)}`, params, 'people', { 'X-Justification': reason() });
    if (s !== seq || !open) return;
    person = fc;
    // the journeys in the server's (date) order, numbered from 1
    const lines: FC = { type: 'FeatureCollection', features: fc.features.map((f, i) => ({ ...f, properties: { ...f.properties, order: i + 1 } })) };
    // journeys along the same route share a midpoint: one label lists their numbers ("1–3, 7")
    const at = new Map<string, { c: [number, number]; n: number[] }>();
    for (const f of lines.features) {
      const m = f.geometry ? midpoint(f.geometry) : null;
      if (!m) continue;
      const k = `${m[0].toFixed(4)},${m[1].toFixed(4)}`;
      if (!at.has(k)) at.set(k, { c: m, n: [] });
      at.get(k)!.n.push(f.properties!.order);
    }
    const labels: FC = {
      type: 'FeatureCollection',
      features: [...at.values()].map(({ c, n }) => ({ type: 'Feature', geometry: { type: 'Point', coordinates: c }, properties: { order: ranges(n) } }) as GeoJSON.Feature),
    };
    (map.getSource('person') as maplibregl.GeoJSONSource).setData(lines as any);
    (map.getSource('person-labels') as maplibregl.GeoJSONSource).setData(labels as any);
    renderPerson(fc);
    fit(lines);
    debug.generation++;
  } catch (e) {
    if (!isAbort(e)) $('pp-status').textContent = (e as Error).message;
  }
}

function fit(fc: FC) {
  let w = 180, s = 90, e = -180, n = -90;
  const visit = (c: any): void => {
    if (typeof c[0] === 'number') {
      (w = Math.min(w, c[0])), (e = Math.max(e, c[0])), (s = Math.min(s, c[1])), (n = Math.max(n, c[1]));
    } else c.forEach(visit);
  };
  for (const f of fc.features) if (f.geometry && 'coordinates' in f.geometry) visit(f.geometry.coordinates);
  if (w <= e) map.fitBounds([[w, s], [e, n]], { padding: { top: 60, bottom: 130, left: 560, right: 60 }, maxZoom: 11, duration: 600 });
}

function renderPerson(fc: FC & { person: Person }) {
  const x = fc.person;
  const row = (k: string, v: string) => `<tr><th>${k}</th><td>${v}</td></tr>`;
  $('pp-summary').innerHTML = `<h3>${h(x.person)}${x.child ? ' <span class="child">child</span>' : ''}</h3>
    <table class="kv">
    ${row('journeys', String(x.journeys))}
    ${row('seen', `${h(x.first_seen)} to ${h(x.last_seen)}`)}
    ${row('forces (first seen first)', h(forcesText(x.forces)))}
    ${row('age bands', h(x.age_bands.join(', ')))}
    ${row('roles', h(x.roles.join(', ')))}
    ${row('victim statuses', h(x.victim_statuses.join(', ')))}
    ${row('safeguarding referrals', String(x.safeguarding_referrals))}
    ${row('NRM referrals', String(x.nrm_referrals))}
    ${row('arrests', String(x.arrests))}
    ${row('missing episodes', String(x.missing_episodes))}
    ${row('signals', x.signals.map((s) => h(SIGNAL_LABEL[s] ?? s)).join(', ') || 'none')}
    </table>
    <h4>Journeys in order (numbered on the map)</h4>
    <ol class="pp-journeys">${fc.features
      .map((f) => {
        const p = f.properties ?? {};
        return `<li>${h(p.date)}: ${h(forceName(p.origin_force))} → ${h(forceName(p.destination_force))} <small>${h(p.mode)}, ${h(p.report_id)}</small></li>`;
      })
      .join('')}</ol>`;
  $('pp-status').textContent = `${fc.features.length} journeys of ${x.person}`;
  $('pp-list').hidden = true;
  $('pp-person').hidden = false;
  ($('pp-back') as HTMLButtonElement).focus();
}
