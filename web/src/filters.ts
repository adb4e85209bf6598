// Filter state: the form, the URL query string (shareable, restored on load) and the
// query parameters of /api/*.
import type { Params } from './api';

export const AGE_BANDS = ['under_10', '10-12', '13-14', '15-17', '18-24', '25-34', '35_plus', 'unknown'];
export const CHILD_BANDS = ['under_10', '10-12', '13-14', '15-17'];
export const ROLES = ['runner', 'line_holder', 'controller', 'cuckooed_occupant', 'customer', 'facilitator', 'associate'];
export const MODES = ['rail', 'coach', 'bus', 'car', 'private_hire', 'taxi', 'on_foot', 'unknown'];
/** What the station hotspots count (`measure`; the server's default is stops). */
export const MEASURES = ['stops', 'boardings', 'alightings', 'interchanges', 'encounters', 'on_route', 'all'];
export const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

export interface Filters {
  from: string;
  to: string;
  age_band: string[];
  role: string[];
  mode: string[];
  exporting_force: string;
  line: string;
  /** local hours H-H (e.g. 22-02) and days (mon..sun): every journey endpoint takes them */
  hours: string;
  days: string[];
  /** the hotspot measure: sent to the hotspot requests only (see hotspotParams) */
  measure: string;
}

const LISTS = ['age_band', 'role', 'mode', 'days'] as const;
const SCALARS = ['from', 'to', 'exporting_force', 'line', 'hours'] as const;

export function empty(): Filters {
  return { from: '', to: '', age_band: [], role: [], mode: [], exporting_force: '', line: '', hours: '', days: [], measure: '' };
}

export function fromUrl(search = location.search): Filters {
  const q = new URLSearchParams(search);
  const f = empty();
  for (const k of SCALARS) f[k] = q.get(k) ?? '';
  for (const k of LISTS) f[k] = (q.get(k) ?? '').split(',').filter(Boolean);
  f.measure = MEASURES.includes(q.get('measure') ?? '') ? (q.get('measure') as string) : '';
  return f;
}

/** Parameters for the hotspot requests: the filters and the measure. */
export function hotspotParams(f: Filters): Params {
  return f.measure ? { ...apiParams(f), measure: f.measure } : apiParams(f);
}

/** Parameters for /api/* endpoints (from/to). Empty values are left out. */
export function apiParams(f: Filters): Params {
  const p: Params = {};
  for (const k of SCALARS) if (f[k]) p[k] = f[k];
  for (const k of LISTS) if (f[k].length) p[k] = f[k].join(',');
  return p;
}

export function toUrl(f: Filters, extra: Params = {}) {
  const q = new URLSearchParams({ ...hotspotParams(f), ...extra });
  const s = q.toString();
  history.replaceState(null, '', s ? `?${s}` : location.pathname);
}

/** Binds the filter form in index.html; calls `changed` with the new state. */
export function bindForm(initial: Filters, forces: { code: string; name: string }[], changed: (f: Filters) => void) {
  const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
  const fill = (sel: HTMLSelectElement, values: string[]) => {
    sel.innerHTML = values.map((v) => `<option value="${v}">${v}</option>`).join('');
  };
  fill($('f-age'), AGE_BANDS);
  fill($('f-role'), ROLES);
  fill($('f-mode'), MODES);
  fill($('f-days'), DAYS);
  fill($('f-measure'), MEASURES);
  const exp = $<HTMLSelectElement>('f-export');
  exp.innerHTML =
    '<option value="">any force</option>' +
    forces
      .slice()
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((x) => `<option value="${x.code}">${escapeHtml(x.name)}</option>`)
      .join('');

  const set = (f: Filters) => {
    $<HTMLInputElement>('f-from').value = f.from;
    $<HTMLInputElement>('f-to').value = f.to;
    $<HTMLInputElement>('f-line').value = f.line;
    exp.value = f.exporting_force;
    $<HTMLInputElement>('f-hours').value = f.hours;
    $<HTMLSelectElement>('f-measure').value = f.measure || 'stops';
    const sel = (id: string, vals: string[]) => {
      for (const o of Array.from($<HTMLSelectElement>(id).options)) o.selected = vals.includes(o.value);
    };
    sel('f-age', f.age_band);
    sel('f-role', f.role);
    sel('f-mode', f.mode);
    sel('f-days', f.days);
  };
  const read = (): Filters => {
    const multi = (id: string) =>
      Array.from($<HTMLSelectElement>(id).selectedOptions).map((o) => o.value);
    return {
      from: $<HTMLInputElement>('f-from').value,
      to: $<HTMLInputElement>('f-to').value,
      line: $<HTMLInputElement>('f-line').value.trim(),
      exporting_force: exp.value,
      age_band: multi('f-age'),
      role: multi('f-role'),
      mode: multi('f-mode'),
      // an unfinished hours entry is left out rather than refused by the server
      hours: /^([01]?[0-9]|2[0-3])-([01]?[0-9]|2[0-3])$/.test($<HTMLInputElement>('f-hours').value.trim())
        ? $<HTMLInputElement>('f-hours').value.trim()
        : '',
      days: multi('f-days'),
      measure: $<HTMLSelectElement>('f-measure').value === 'stops' ? '' : $<HTMLSelectElement>('f-measure').value,
    };
  };
  set(initial);
  const form = $<HTMLFormElement>('filters');
  form.addEventListener('change', () => changed(read()));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    changed(read());
  });
  $('f-children').addEventListener('click', () => {
    const f = read();
    f.age_band = CHILD_BANDS.slice();
    set(f);
    changed(f);
  });
  $('f-reset').addEventListener('click', () => {
    set(empty());
    changed(empty());
  });
  return { set };
}

export function escapeHtml(s: unknown): string {
  return String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
