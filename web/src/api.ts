// Fetching from the linesmap server (same origin): the sign-in token, progress indicator,
// stale-request cancellation and parameter feature detection against /openapi.
import { authHeaders, unauthorized } from './auth';

export type Params = Record<string, string>;
export interface FC {
  type: 'FeatureCollection';
  features: GeoJSON.Feature[];
  numberMatched?: number;
}

let inFlight = 0;
const listeners: ((n: number) => void)[] = [];
export function onProgress(f: (n: number) => void) {
  listeners.push(f);
}
function bump(d: number) {
  inFlight += d;
  listeners.forEach((f) => f(inFlight));
}

// Parameters each GET path declares in /openapi; a parameter the running server does not
// know (e.g. `line` or `station` before the server gains them) is dropped rather than sent,
// since unknown parameters are 400.
let declared: Map<string, Set<string>> | null = null;
/** `param (path)` pairs left out since the last reset. */
export const dropped = new Set<string>();

export async function loadOpenApi(): Promise<void> {
  try {
    const r = await fetch('/openapi');
    const doc = await r.json();
    declared = new Map();
    for (const [path, ops] of Object.entries<any>(doc.paths ?? {})) {
      const names = new Set<string>();
      for (const p of ops.get?.parameters ?? []) {
        if (p.name) names.add(p.name);
        else if (p.$ref) {
          const ref = p.$ref.split('/').pop();
          const def = doc.components?.parameters?.[ref];
          if (def?.name) names.add(def.name);
        }
      }
      declared.set(path, names);
    }
  } catch {
    declared = null; // send everything
  }
}

export function supports(path: string, name: string): boolean {
  const set = declared?.get(path);
  return !set || set.has(name);
}

/** The first path the server's /openapi declares that `test` accepts (e.g. a path template). */
export function declaredPath(test: (path: string) => boolean): string | undefined {
  return declared ? [...declared.keys()].find(test) : undefined;
}

export function url(path: string, params: Params): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === '' || v == null) continue;
    if (!supports(path, k)) {
      dropped.add(`${k} (${path})`);
      continue;
    }
    q.set(k, v);
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

const controllers = new Map<string, AbortController>();

/** GET JSON. Requests sharing a `key` cancel the previous one still in flight. */
export function getJson<T = any>(path: string, params: Params = {}, key?: string, headers: Record<string, string> = {}): Promise<T> {
  return get(path, params, key, false, headers) as Promise<T>;
}

/** A CSV download by column: each column's cells in row order, numbers parsed (an empty cell
 * stays ''). Columns, not an object per row: the page reads a column at a time into the
 * features (layers.ts applyCounts), and 2,568 stations × 28 columns as objects cost a filter
 * change about 15 ms to build and as much again to read. */
export interface Table {
  columns: Map<string, (string | number)[]>;
}

/** GET a CSV download (`format=csv`) as a Table. */
export async function getTable(path: string, params: Params = {}, key?: string): Promise<Table> {
  return parseTable((await get(path, { ...params, format: 'csv' }, key, true)) as string);
}

/** Reads CSV text into columns. A line without quotes (nearly all) is read cell by cell in
 * place: a cell of digits with an optional sign and point (at most 15 digits, 22 after the
 * point) is computed from its characters, exactly as `Number` reads it (the digits as a whole
 * number and one division by a power of ten, both exact, so the quotient is the correctly
 * rounded value), and any other cell is sliced and read by `Number` (kept as text if not a
 * number). No array of strings per line and no string per number: a filter change reads the
 * stations' 2,568 rows × 28 cells, and their garbage was a tenth of what the redraw allocated.
 * A line with quotes is read character by character (a quoted cell may hold commas, doubled
 * quotes or line breaks). A row shorter than the header has '' in its missing cells; cells
 * beyond the header are dropped. */
export function parseTable(text: string): Table {
  if (!text) return { columns: new Map() };
  const head: string[] = [];
  let i = quotedRow(text, 0, head);
  const cols: (string | number)[][] = head.map(() => []);
  const nc = cols.length;
  const row: string[] = [];
  // the next quote at or after `i` (Infinity if none): a line holds one if it is before its end
  let quote = -1;
  while (i < text.length) {
    if (quote < i) {
      quote = text.indexOf('"', i);
      if (quote < 0) quote = Infinity;
    }
    let end = text.indexOf('\n', i);
    if (end < 0) end = text.length;
    const stop = end > i && text.charCodeAt(end - 1) === 13 ? end - 1 : end;
    let j = 0;
    if (quote >= stop) {
      let a = i;
      for (; j < nc; j++) {
        let b = text.indexOf(',', a);
        if (b < 0 || b > stop) b = stop;
        cols[j].push(cell(text, a, b));
        if (b === stop) {
          j++;
          break;
        }
        a = b + 1;
      }
      i = end + 1;
    } else {
      row.length = 0;
      i = quotedRow(text, i, row);
      for (; j < nc && j < row.length; j++) cols[j].push(value(row[j]));
    }
    for (; j < nc; j++) cols[j].push('');
  }
  return { columns: new Map(head.map((k, j) => [k, cols[j]])) };
}

/** 10^0 … 10^22, every one exact in a double. */
const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);

/** The cell `text[a..b)`: a number if it reads as one, else its text ('' if empty). */
function cell(text: string, a: number, b: number): string | number {
  if (a === b) return '';
  let k = a;
  const neg = text.charCodeAt(k) === 45;
  if (neg) k++;
  let m = 0, digits = 0, frac = -1;
  for (; k < b; k++) {
    const c = text.charCodeAt(k);
    if (c >= 48 && c <= 57) {
      m = m * 10 + (c - 48);
      digits++;
      if (frac >= 0) frac++;
    } else if (c === 46 && frac < 0) frac = 0;
    else break;
  }
  if (k === b && digits > 0 && digits <= 15 && frac <= 22) {
    const v = frac > 0 ? m / POW10[frac] : m;
    return neg ? -v : v;
  }
  return value(text.slice(a, b));
}

/** A cell's text as a number if `Number` reads it as one ('' stays ''). */
function value(v: string): string | number {
  if (v === '') return v;
  const n = Number(v);
  return Number.isNaN(n) ? v : n;
}

/** Reads one row from `i` character by character into `out` (quotes, doubled quotes, commas
 * and line breaks inside quotes) and returns where the next row starts. */
function quotedRow(text: string, i: number, out: string[]): number {
  let cell = '', q = false;
  for (; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (c === '"') q = false;
      else cell += c;
    } else if (c === '"') q = true;
    else if (c === ',') out.push(cell), (cell = '');
    else if (c === '\n') break;
    else if (c !== '\r') cell += c;
  }
  out.push(cell);
  return i + 1;
}

async function get(path: string, params: Params, key: string | undefined, text: boolean, headers: Record<string, string> = {}): Promise<unknown> {
  const u = url(path, params);
  let ctl: AbortController | undefined;
  if (key) {
    controllers.get(key)?.abort();
    ctl = new AbortController();
    controllers.set(key, ctl);
  }
  bump(1);
  try {
    const r = await fetch(u, { signal: ctl?.signal, headers: { Accept: text ? 'text/csv' : 'application/json', ...authHeaders(), ...headers } });
    if (r.status === 401) unauthorized();
    if (!r.ok) {
      const body = await r.json().catch(() => null);
      throw new Error(body?.message ? `${body.code}: ${body.message}` : `HTTP ${r.status} for ${u}`);
    }
    return text ? await r.text() : await r.json();
  } finally {
    bump(-1);
    if (key && controllers.get(key) === ctl) controllers.delete(key);
  }
}

export function isAbort(e: unknown): boolean {
  return e instanceof DOMException && e.name === 'AbortError';
}

/** Downloads `path?params` as a file (with the sign-in header, which a plain link cannot send). */
export async function download(path: string, params: Params, filename: string): Promise<void> {
  const u = url(path, params);
  bump(1);
  try {
    const r = await fetch(u, { headers: authHeaders() });
    if (r.status === 401) unauthorized();
    if (!r.ok) {
      const body = await r.json().catch(() => null);
      throw new Error(body?.message ? `${body.code}: ${body.message}` : `HTTP ${r.status} for ${u}`);
    }
    const blob = await r.blob();
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = filename;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
  } finally {
    bump(-1);
  }
}
