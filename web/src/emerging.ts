// Emerging hot spots as a station style (issue 16): each station coloured by its category
// from /api/hotspots/emerging (fetched only while this style is on). The 17 categories are
// drawn in the 7 classes of palette.json's `emerging` (all that stay apart under the
// colour-blindness check); the legend and the station panel name the category itself.
import * as maplibregl from 'maplibre-gl';
import { getJson, type FC, type Params } from './api';
import { escapeHtml as h } from './filters';
import PAL from './palette.json';
import { num, withAlpha } from './format';

export type EmergingClass = keyof typeof PAL.emerging;
export type StationStyle = 'gi' | 'emerging';
export const INTERVALS = ['month', 'week'] as const;
export type Interval = (typeof INTERVALS)[number];

/** The classes in legend order, each with its categories (the server's spellings) and what
 * they share. */
export const CLASSES: { id: EmergingClass; label: string; categories: string[] }[] = [
  { id: 'hot_growing', label: 'hot, new or growing', categories: ['new_hot_spot', 'consecutive_hot_spot', 'intensifying_hot_spot'] },
  { id: 'hot_lasting', label: 'hot most periods', categories: ['persistent_hot_spot', 'diminishing_hot_spot'] },
  { id: 'hot_intermittent', label: 'hot on and off, or in the past', categories: ['sporadic_hot_spot', 'oscillating_hot_spot', 'historical_hot_spot'] },
  { id: 'cold_growing', label: 'cold, new or growing', categories: ['new_cold_spot', 'consecutive_cold_spot', 'intensifying_cold_spot'] },
  { id: 'cold_lasting', label: 'cold most periods', categories: ['persistent_cold_spot', 'diminishing_cold_spot'] },
  { id: 'cold_intermittent', label: 'cold on and off, or in the past', categories: ['sporadic_cold_spot', 'oscillating_cold_spot', 'historical_cold_spot'] },
  { id: 'no_pattern', label: 'no pattern (receding)', categories: ['no_pattern'] },
];

export const classOf = (category: string): EmergingClass => CLASSES.find((c) => c.categories.includes(category))?.id ?? 'no_pattern';

/** The stations' emerging results by CRS: category, trend_z, trend_p. */
export type EmergingRow = { category: string; trend_z: number; trend_p: number };
export type EmergingAnswer = { byCrs: Map<string, EmergingRow>; periods: string[]; interval: Interval };

export async function fetchEmerging(filters: Params, interval: Interval): Promise<EmergingAnswer> {
  const fc = await getJson<FC & { periods?: string[] }>('/api/hotspots/emerging', { ...filters, interval }, 'emerging');
  const byCrs = new Map<string, EmergingRow>();
  for (const f of fc.features) {
    const p = f.properties ?? {};
    byCrs.set(String(p.crs), { category: String(p.category), trend_z: Number(p.trend_z), trend_p: Number(p.trend_p) });
  }
  return { byCrs, periods: fc.periods ?? [], interval };
}

/** Each station's class as feature state `emerging` (stations the answer lacks: no_pattern). */
export function applyEmerging(map: maplibregl.Map, stations: FC, e: EmergingAnswer) {
  for (const f of stations.features) {
    const crs = String(f.properties!.crs);
    const cls = classOf(e.byCrs.get(crs)?.category ?? 'no_pattern');
    map.setFeatureState({ source: 'hotspots', id: crs }, { emerging: cls });
  }
}

/** The circle colour (its alpha the fill's opacity: format.ts `withAlpha`) and stroke for the
 * emerging style (no_pattern recedes). */
export function paint(map: maplibregl.Map) {
  const cls: maplibregl.ExpressionSpecification = ['to-string', ['coalesce', ['feature-state', 'emerging'], 'no_pattern']];
  const fill = (id: EmergingClass) => withAlpha(PAL.emerging[id], id === 'no_pattern' ? 0.45 : 0.9);
  map.setPaintProperty('hotspots-circle', 'circle-color', ['match', cls, ...CLASSES.flatMap((c) => [c.id, fill(c.id)]), fill('no_pattern')] as any);
  map.setPaintProperty('hotspots-circle', 'circle-stroke-width', ['case', ['==', cls, 'no_pattern'], 0, 0.6]);
}

/** The Gi* style's stroke (as layers.ts creates it; its colour is set again by styleStations). */
export function unpaint(map: maplibregl.Map, st: (k: string) => maplibregl.ExpressionSpecification) {
  map.setPaintProperty('hotspots-circle', 'circle-stroke-width', ['case', ['==', st('gi'), 0], 0, 0.6]);
}

/** The legend: every class with its colour, and every category in it with its stations. */
export function legend(e: EmergingAnswer): string {
  const n = new Map<string, number>();
  for (const r of e.byCrs.values()) n.set(r.category, (n.get(r.category) ?? 0) + 1);
  const dot = (c: EmergingClass) => `<svg width="12" height="12" class="em-dot"><circle cx="6" cy="6" r="5" fill="${PAL.emerging[c]}" stroke="#333" stroke-width="0.6"/></svg>`;
  const rows = CLASSES.map(
    (c) => `<div class="em-class" data-class="${c.id}">${dot(c.id)}<b>${h(c.label)}</b>: ${c.categories
      .map((k) => `<span class="em-cat" data-category="${k}">${k} ${num(n.get(k) ?? 0)}</span>`)
      .join(', ')}</div>`,
  ).join('');
  const span = e.periods.length ? `${e.periods.length} ${e.interval}s from ${h(e.periods[0])}` : `no ${e.interval}s`;
  return `${rows}<div class="ramp-l"><span>emerging pattern over ${span}: stations per category</span></div>`;
}

/** The station panel's rows: category, class, trend. */
export function panelRows(e: EmergingAnswer | null, crs: string): string {
  if (!e) return '';
  const r = e.byCrs.get(crs);
  if (!r) return `<tr><th>emerging pattern</th><td colspan="3">not in the answer</td></tr>`;
  const cls = CLASSES.find((c) => c.id === classOf(r.category))!;
  const num = (x: number, d: number) => (Number.isFinite(x) ? x.toFixed(d) : '–');
  return `<tr class="em-row"><th>emerging pattern (${e.interval})</th><td colspan="3"><span class="em-category">${h(r.category)}</span> <small>(${h(cls.label)})</small></td></tr>
    <tr><th>trend (Mann–Kendall)</th><td colspan="3">trend_z <span class="em-trend-z">${num(r.trend_z, 2)}</span>, trend_p <span class="em-trend-p">${num(r.trend_p, 4)}</span></td></tr>`;
}
