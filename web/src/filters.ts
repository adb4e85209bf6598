// Filter state: the form, the URL query string (shareable, restored on load) and the
// query parameters of /api/*.
import type { Params } from './api';

/**
 * The server's closed vocabularies (`GET /api/vocabulary`, the words of its report schema and
 * parameters): the form's choices. Set once at start-up, before the form is bound.
 */
export interface Vocabulary {
  age_band: string[];
  child_age_band: string[];
  role: string[];
  mode: string[];
  /** What the station hotspots count (`measure`; the server's default is stops). */
  measure: string[];
  day: string[];
}
let vocab: Vocabulary = { age_band: [], child_age_band: [], role: [], mode: [], measure: [], day: [] };

export function setVocabulary(v: Vocabulary) {
  vocab = v;
}

/** `f` without words the server does not know (a hand-edited link). */
export function known(f: Filters): Filters {
  const keep = (xs: string[], all: string[]) => xs.filter((x) => all.includes(x));
  return {
    ...f,
    age_band: keep(f.age_band, vocab.age_band),
    role: keep(f.role, vocab.role),
    mode: keep(f.mode, vocab.mode),
    days: keep(f.days, vocab.day),
    measure: vocab.measure.includes(f.measure) ? f.measure : '',
  };
}

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
  f.measure = q.get('measure') ?? '';
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
  fill($('f-age'), vocab.age_band);
  fill($('f-role'), vocab.role);
  fill($('f-mode'), vocab.mode);
  fill($('f-days'), vocab.day);
  fill($('f-measure'), vocab.measure);
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
    f.age_band = vocab.child_age_band.slice();
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
