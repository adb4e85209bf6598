// Names on the map, in glyphs built from Noto Sans (scripts/glyphs.mjs) and served by the
// server. Force names on the areas (bold, the busiest first); station names in two layers:
// the stations with the most of the current measure first (at most 60 points in their own
// source, the only one re-sent on a filter change, and only when they change), then by ORR
// footfall from zoom 8. MapLibre drops labels that would collide, in
// priority order (`symbol-sort-key`: lower first), so more names appear as you zoom in.
import * as maplibregl from 'maplibre-gl';
import type { FC } from './api';

export const FONT = { regular: ['NotoSans-Regular'], bold: ['NotoSans-Bold'] };
export const LABEL_SOURCES = ['force-labels', 'top-names'] as const;
/** Stations labelled by the current counts: this many at zoom < 6, more as you zoom in. */
export const TOP_LABELS: [number, number][] = [[0, 15], [6, 30], [7, 60]];
const HALO = { 'text-halo-color': 'rgba(255,255,255,0.9)', 'text-halo-width': 1.4 };

// Later layers are placed first: station names by the current counts win over force names,
// which win over station names by footfall.
export const LABEL_LAYERS: maplibregl.LayerSpecification[] = [
  {
    id: 'force-labels',
    type: 'symbol',
    source: 'force-labels',
    maxzoom: 10,
    layout: {
      'text-field': ['get', 'name'],
      'text-font': FONT.bold,
      'text-size': ['interpolate', ['linear'], ['zoom'], 5, 10, 9, 14],
      'text-transform': 'uppercase',
      'text-letter-spacing': 0.06,
      'text-max-width': 7,
      'symbol-sort-key': ['get', 'rank'],
    },
    paint: { 'text-color': '#55606e', 'text-halo-color': 'rgba(255,255,255,0.75)', 'text-halo-width': 1.2, 'text-opacity': ['interpolate', ['linear'], ['zoom'], 8, 1, 10, 0.4] },
  },
  {
    id: 'station-labels',
    type: 'symbol',
    source: 'hotspots',
    minzoom: 8,
    layout: {
      'text-field': ['get', 'name'],
      'text-font': FONT.regular,
      'text-size': ['interpolate', ['linear'], ['zoom'], 8, 10, 12, 13],
      'text-variable-anchor': ['left', 'right', 'top', 'bottom'],
      'text-radial-offset': 0.6,
      'text-max-width': 9,
      'symbol-sort-key': ['-', 0, ['coalesce', ['get', 'entries_exits_2019_20'], 0]],
    },
    paint: { 'text-color': '#333', ...HALO },
  },
  {
    id: 'station-labels-top',
    type: 'symbol',
    source: 'top-names', // main.ts sendNames
    filter: ['all', ['==', ['get', 'kind'], 'name'], ['<=', ['get', 'rank'], ['step', ['zoom'], TOP_LABELS[0][1], ...TOP_LABELS.slice(1).flat()]]],
    layout: {
      'text-field': ['get', 'name'],
      'text-font': FONT.bold,
      'text-size': ['interpolate', ['linear'], ['zoom'], 5, 10.5, 10, 13],
      'text-variable-anchor': ['left', 'right', 'top', 'bottom'],
      'text-radial-offset': 0.7,
      'text-max-width': 9,
      'symbol-sort-key': ['get', 'rank'],
    },
    paint: { 'text-color': '#1a1a1a', ...HALO },
  },
];

/** Signed area and centroid of a ring (lon/lat treated as plane coordinates: enough to place a name). */
function ringCentroid(r: number[][]): { a: number; c: number[] } {
  let a = 0, x = 0, y = 0;
  for (let i = 0; i < r.length - 1; i++) {
    const k = r[i][0] * r[i + 1][1] - r[i + 1][0] * r[i][1];
    a += k;
    x += (r[i][0] + r[i + 1][0]) * k;
    y += (r[i][1] + r[i + 1][1]) * k;
  }
  return { a: a / 2, c: a ? [x / (3 * a), y / (3 * a)] : r[0] };
}

/** Where a force's name goes: the centroid of its largest polygon, or when that falls outside
 * (a crescent, a coast), the middle of the widest crossing of the polygon on that parallel. */
export function labelPoint(g: GeoJSON.Geometry): number[] {
  const polys = g.type === 'Polygon' ? [g.coordinates] : g.type === 'MultiPolygon' ? g.coordinates : [];
  let best: number[][][] | null = null, bestA = -1;
  for (const p of polys) {
    const a = Math.abs(ringCentroid(p[0]).a);
    if (a > bestA) (bestA = a), (best = p);
  }
  if (!best) return [0, 0];
  const c = ringCentroid(best[0]).c;
  const xs: number[] = [];
  for (const ring of best) {
    for (let i = 0; i < ring.length - 1; i++) {
      const [x1, y1] = ring[i], [x2, y2] = ring[i + 1];
      if ((y1 <= c[1]) !== (y2 <= c[1])) xs.push(x1 + ((c[1] - y1) * (x2 - x1)) / (y2 - y1));
    }
  }
  xs.sort((p, q) => p - q);
  let inside = false, widest: number[] | null = null;
  for (let i = 0; i + 1 < xs.length; i += 2) {
    if (c[0] >= xs[i] && c[0] <= xs[i + 1]) inside = true;
    if (!widest || xs[i + 1] - xs[i] > widest[1] - widest[0]) widest = [xs[i], xs[i + 1]];
  }
  return inside || !widest ? c : [(widest[0] + widest[1]) / 2, c[1]];
}

/** Force name points, ranked by the journeys they import and export (set once, at load: the
 * names stay put while the filters change). */
export function forceLabels(forces: FC): FC {
  const ranked = forces.features
    .map((f) => ({ f, n: (Number(f.properties?.imports) || 0) + (Number(f.properties?.exports) || 0) }))
    .sort((a, b) => b.n - a.n || String(a.f.properties?.name).localeCompare(String(b.f.properties?.name)));
  return {
    type: 'FeatureCollection',
    features: ranked.map(({ f }, i) => ({
      type: 'Feature',
      geometry: { type: 'Point', coordinates: labelPoint(f.geometry) },
      properties: { code: f.properties?.code, name: f.properties?.name, rank: i + 1 },
    })),
  };
}

/** The stations with the most of `measure` (as published: a viewer's suppressed counts are 0),
 * ranked; at most the last step of TOP_LABELS. */
export function topStationLabels(stations: FC, measure: string): FC {
  const n = TOP_LABELS[TOP_LABELS.length - 1][1];
  const top = stations.features
    .filter((f) => Number(f.properties?.[measure]) > 0)
    .sort((a, b) => b.properties![measure] - a.properties![measure] || (b.properties!.entries_exits_2019_20 ?? 0) - (a.properties!.entries_exits_2019_20 ?? 0))
    .slice(0, n);
  return {
    type: 'FeatureCollection',
    features: top.map((f, i) => ({ type: 'Feature', geometry: f.geometry, properties: { kind: 'name', crs: f.properties!.crs, name: f.properties!.name, rank: i + 1 } })),
  };
}
