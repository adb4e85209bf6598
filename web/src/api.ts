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

export function parseTable(text: string): Table {
  const rows: string[][] = [];
  let row: string[] = [], cell = '', q = false;
  // Lines without quotes (nearly all) are split whole; a quoted cell is read character by
  // character (it may hold commas, doubled quotes or line breaks).
  for (let i = 0; i < text.length; i++) {
    if (!q && !cell && !row.length) {
      let end = text.indexOf('\n', i);
      if (end < 0) end = text.length;
      const line = text.slice(i, end > i && text[end - 1] === '\r' ? end - 1 : end);
      if (!line.includes('"')) {
        rows.push(line.split(','));
        i = end;
        continue;
      }
    }
    const c = text[i];
    if (q) {
      if (c === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (c === '"') q = false;
      else cell += c;
    } else if (c === '"') q = true;
    else if (c === ',') row.push(cell), (cell = '');
    else if (c === '\n') row.push(cell), rows.push(row), (row = []), (cell = '');
    else if (c !== '\r') cell += c;
  }
  if (cell || row.length) row.push(cell), rows.push(row);
  const [head = [], ...body] = rows;
  const columns = new Map<string, (string | number)[]>();
  head.forEach((k, j) => {
    const col: (string | number)[] = new Array(body.length);
    for (let i = 0; i < body.length; i++) {
      const v = body[i][j] ?? '';
      const n = v === '' ? NaN : Number(v);
      col[i] = Number.isNaN(n) ? v : n;
    }
    columns.set(k, col);
  });
  return { columns };
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
