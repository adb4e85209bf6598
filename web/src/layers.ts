// The map: a style built from our GeoJSON and the journeys' vector tiles (journeys.ts), all
// from the server (no sprites; label glyphs are built from Noto Sans by scripts/glyphs.mjs and
// served from /assets/glyphs), the layers, their legends and toggles.
import * as maplibregl from 'maplibre-gl';
import type { FC, Table } from './api';
import PAL from './palette.json';
import { FLOW_LAYERS } from './flows';
import { LABEL_LAYERS, LABEL_SOURCES } from './labels';
import { sameOriginAuth } from './auth';
import { num, withAlpha } from './format';

const EMPTY: FC = { type: 'FeatureCollection', features: [] };
export const SOURCES = ['forces', 'rail', 'flows', 'hotspots', 'journeys', 'corridors'] as const;
export type SourceId = (typeof SOURCES)[number];
/** The GeoJSON sources: the journeys are vector tiles, added for the roles that may read them
 * (see journeys.ts), and so is the track (below). */
const GEOJSON_SOURCES = SOURCES.filter((s) => s !== 'journeys' && s !== 'rail');
/** The track as the server's vector tiles (OGC API – Tiles, `/collections/rail/tiles`): clipped
 * and simplified to each tile's pixels on the server, so the page never holds the 210,000
 * vertices of the GB track (as GeoJSON they were 4.9 MB to parse, copy to MapLibre's worker and
 * tile there on every first load, about 1.4 s of the first map on the test machine). The tiles
 * are unfiltered (geometry and the section's id): each filter's counts come as feature state,
 * from the rail CSV. From zoom 15 (the map's deepest) a tile is the whole surveyed chain. */
const RAIL_SOURCE = {
  type: 'vector',
  tiles: [`${location.origin}/collections/rail/tiles/WebMercatorQuad/{z}/{x}/{y}`],
  minzoom: 0,
  maxzoom: 15,
  promoteId: { rail: 'section' },
};
/** The layer of a source's tiles that feature state goes to (the vector ones name one). */
export const SOURCE_LAYER: Partial<Record<SourceId, string>> = { rail: 'rail' };
/** Where a feature's state goes: its source and, for tiles, its layer. */
export const stateOf = (source: SourceId, id: string | number): maplibregl.FeatureIdentifier =>
  SOURCE_LAYER[source] ? { source, sourceLayer: SOURCE_LAYER[source], id } : { source, id };
export type ForceMetric = 'net' | 'imports' | 'exports';
/** What sizes the station circles (`size` in the URL): `count` is the hotspot measure's
 * count (stops by default; `journeys` in older links means it too). */
export const STATION_MEASURES = ['count', 'children', 'rate_per_million'] as const;
export type StationMeasure = (typeof STATION_MEASURES)[number];
/** The hotspot CSV column holding a measure's count (`all` is `journeys`). */
export const measureField = (measure: string): string => (!measure ? 'stops' : measure === 'all' ? 'journeys' : measure);
/** The station property a size choice draws, for the hotspot measure. */
export const sizeField = (size: StationMeasure, measure: string): string => (size === 'count' ? measureField(measure) : size);

export function createMap(container: string): maplibregl.Map {
  const style: maplibregl.StyleSpecification = {
    version: 8,
    glyphs: `${location.origin}/assets/glyphs/{fontstack}/{range}.pbf`,
    transition: { duration: 0, delay: 0 }, // redraw at once on a filter change
    // Forces and rail keep their geometry for the session; filtered counts arrive as feature state.
    sources: Object.fromEntries([
      ...GEOJSON_SOURCES.map((s) => [s, { type: 'geojson', data: EMPTY, ...(STATE_KEY[s] ? { promoteId: STATE_KEY[s] } : {}) }]),
      ...LABEL_SOURCES.map((s) => [s, { type: 'geojson', data: EMPTY }]),
      ['rail', RAIL_SOURCE],
    ]) as any,
    layers: [
      { id: 'background', type: 'background', paint: { 'background-color': PAL.sea } },
      { id: 'forces-fill', type: 'fill', source: 'forces', paint: { 'fill-color': forceColor('net'), 'fill-opacity': ['interpolate', ['linear'], ['zoom'], 6, 0.85, 11, 0.4] } },
      { id: 'forces-line', type: 'line', source: 'forces', paint: { 'line-color': '#777', 'line-width': 0.6 } },
      {
        id: 'rail-line',
        type: 'line',
        source: 'rail',
        'source-layer': 'rail',
        layout: { 'line-cap': 'round', 'line-join': 'round' },
        paint: { 'line-color': RAIL_COLOR, 'line-width': RAIL_WIDTH, 'line-opacity': 0.8 },
      },
      {
        // station-to-station corridors by line direction (hub → market), along the track; off at first
        id: 'corridors-line',
        type: 'line',
        source: 'corridors',
        layout: { 'line-cap': 'round', 'line-join': 'round', visibility: 'none' },
        paint: { 'line-color': '#01857a', 'line-opacity': 0.7, 'line-width': 1 },
      },
      // the journeys' line layer goes here (journeys.ts adds it under the flows)
      ...FLOW_LAYERS,
      {
        id: 'hotspots-circle',
        type: 'circle',
        source: 'hotspots',
        // Counts are feature state (filters cannot read it): a station with none has radius 0.
        // Radius and colour are set by styleStations; the insignificant ones recede (paler, smaller).
        paint: {
          'circle-color': STATION_COLOR,
          'circle-radius': stationRadius('stops'),
          'circle-stroke-color': '#222',
          'circle-stroke-width': ['case', ['==', st('gi'), 0], 0, 0.6],
          // (no circle-opacity: the colour's alpha, STATION_COLOR)
        },
      },
      {
        id: 'selected-station',
        type: 'circle',
        source: 'hotspots',
        filter: ['==', ['get', 'crs'], ''],
        paint: { 'circle-radius': 16, 'circle-color': 'rgba(0,0,0,0)', 'circle-stroke-color': '#000', 'circle-stroke-width': 2.5 },
      },
      ...LABEL_LAYERS,
    ],
  };
  return new maplibregl.Map({
    container,
    style,
    bounds: [[-8.2, 49.9], [1.8, 58.7]],
    attributionControl: { compact: true, customAttribution: ATTRIBUTION },
    maxZoom: 15,
    // Labels appear at once: a fade keeps the map repainting (not idle) for 300 ms after each change.
    fadeDuration: 0,
    // the sign-in with the map's own requests (the journeys' tiles), to this origin only
    transformRequest: sameOriginAuth,
  });
}

export const ATTRIBUTION = 'Force areas: ONS, OGL v3.0, contains OS data © Crown copyright 2020 · Stations: ORR, NaPTAN, OGL v3.0, contains OS data © Crown copyright 2022 · Track: Network Rail, OGL v3.0; geometry raileasyuk, CC-BY-SA-4.0 · Journeys: SYNTHETIC · Labels: Noto Sans, SIL OFL 1.1';

export const STATE_KEY: Partial<Record<SourceId, string>> = { forces: 'code', rail: 'section', hotspots: 'crs' };

/** Filtered counts (a CSV table) onto features whose geometry is already on the map: numbers as
 * they are, `true`/`false` as 1/0, into the features' properties at once (the panels, popups and
 * the table read them there); and what the paint reads of them besides the measure drawn
 * (DRAWN: the stations' Gi* class) as feature state, by the function returned (so the page can
 * push the state in the frame that draws the rest). Only what changed is pushed: each feature
 * whose state changes has its paint recomputed on the next frame. A column is read if any cell
 * is a number (a viewer's suppressed counts are empty cells, drawn as 0) or `true`/`false`; a
 * feature without a row gets 0 in each. */
export function applyCounts(id: 'forces' | 'rail' | 'hotspots', fc: FC, table: Table): (map: maplibregl.Map) => void {
  const key = STATE_KEY[id]!;
  const feats = fc.features;
  const rowOf = new Map<string, number>();
  (table.columns.get(key) ?? []).forEach((k, i) => rowOf.set(String(k), i));
  const row = feats.map((f) => rowOf.get(String(f.properties![key])) ?? -1);
  // a column at a time (one property name per loop)
  for (const [n, col] of table.columns) {
    if (n === key) continue;
    const bool = col.some((c) => c === 'true' || c === 'false');
    if (!bool && !col.some((c) => typeof c === 'number')) continue;
    for (let i = 0; i < feats.length; i++) {
      const c = row[i] < 0 ? undefined : col[row[i]];
      feats[i].properties![n] = bool ? (c === 'true' ? 1 : 0) : typeof c === 'number' ? c : 0;
    }
  }
  const drawn = DRAWN[id];
  const states: [string, Record<string, number>][] = [];
  if (drawn) {
    const [name, of] = drawn;
    let last = drawnPushed.get(id);
    if (!last) drawnPushed.set(id, (last = new Map()));
    for (const f of feats) {
      const p = f.properties!;
      const v = of(p);
      if (last.get(p[key]) === v) continue;
      last.set(p[key], v);
      states.push([p[key], { [name]: v }]);
    }
  }
  return (map) => {
    for (const [k, state] of states) setState(map, id, k, state);
  };
}
/** What the paint reads of a source's counts as feature state, besides the measure drawn
 * (which setScaled pushes as its drawn size): a state name and its value from a feature's
 * counts. The stations' colour, stroke and recession read one class, `gi` (1 a significant hot
 * spot, −1 a significant cold spot, 0 not significant), which a filter change alters for few
 * stations, where their `gi_z` changes for every one. */
const DRAWN: Partial<Record<'forces' | 'rail' | 'hotspots', [string, (p: Record<string, any>) => number]>> = {
  hotspots: ['gi', (p) => (p.significant === 1 ? (p.gi_z > 0 ? 1 : -1) : 0)],
};
/** The DRAWN states last pushed, by source, then by feature. */
const drawnPushed = new Map<string, Map<unknown, number>>();
/** Feature states gathered while `batched` runs, by source and feature. */
let gathering: Map<SourceId, Map<string | number, Record<string, number>>> | null = null;
/** A feature's state, pushed at once, or gathered while `batched` runs. */
function setState(map: maplibregl.Map, id: SourceId, key: string | number, state: Record<string, number>) {
  if (!gathering) return void map.setFeatureState(stateOf(id, key), state);
  let byKey = gathering.get(id);
  if (!byKey) gathering.set(id, (byKey = new Map()));
  const s = byKey.get(key);
  if (s) Object.assign(s, state);
  else byKey.set(key, { ...state });
}
/** How many features' state the last `batched` pushed (the browser test reports it). */
export const statesPushed = { last: 0 };
/** Runs `f`, gathering the feature states it sets (applyCounts' pushes, setScaled) and pushing
 * them at its end, one `setFeatureState` per feature whatever number of steps set its keys: each
 * call costs MapLibre a merge of the state and an update of the map (a filter change may set a
 * station's Gi* class and its drawn size in two steps: one call for both). */
export function batched<T>(map: maplibregl.Map, f: () => T): T {
  if (gathering) return f();
  gathering = new Map();
  try {
    return f();
  } finally {
    const g = gathering;
    gathering = null;
    statesPushed.last = 0;
    for (const [id, byKey] of g) {
      for (const [k, s] of byKey) map.setFeatureState(stateOf(id, k), s);
      statesPushed.last += byKey.size;
    }
  }
}
export const st = (k: string): maplibregl.ExpressionSpecification => ['coalesce', ['feature-state', k], 0];
/** The drawn sizes last pushed as state (setScaled pushes only changes), by source and
 * measure, then by feature. */
const scaledPushed = new Map<string, Map<unknown, number>>();

/** A measure over its largest, as drawn: the step of a source's size that a map can show.
 * A filter change alters nearly every station's and section's count, and MapLibre recomputes
 * the paint of each feature whose state changes in the next frame (at the national view most of
 * a redraw's frame); a count that changes in a way no one can see (under a quarter pixel) is
 * not pushed. Stations: the circle's radius is the root of the scaled value times a cap of at
 * most 16 px, kept at 1.5 px or more; the root is drawn in steps of 1/64 (a quarter pixel at
 * the largest cap, a ninth of one at the national view's 7 px), and every root under 6/64 is
 * drawn at the 1.5 px floor at every zoom, so it is one step. Track: the width is 0.5 px plus
 * 8.5 px times the scaled value, drawn in steps of 1/34 (a quarter pixel), a section with any
 * journeys at least one step (its colour says it has some). Forces (45 areas, a colour ramp):
 * as computed. A zero stays zero: no circle, the empty track's colour. */
export const drawnStep: Record<'forces' | 'rail' | 'hotspots', (s: number) => number> = {
  forces: (s) => s,
  rail: (s) => (s <= 0 ? 0 : Math.max(1, Math.round(s * 34)) / 34),
  hotspots: (s) => {
    if (s <= 0) return 0;
    const r = Math.max(6, Math.round(Math.sqrt(s) * 64)) / 64;
    return r * r;
  },
};

/** Sets each feature's `key` over the largest (absolute, at least 1), in the steps the map draws
 * (`drawnStep`), as feature state `<key>_s` and returns that largest. Paint scaled to the current
 * data reads `<key>_s`, so its expression never changes with the filters: a changed data-driven
 * paint expression makes MapLibre re-tile the whole source in its worker (the track's thousands
 * of sections on every filter change), while feature state only repaints. The counts themselves
 * are the features' properties in the page (panels, popups, the table), not state. */
export function setScaled(map: maplibregl.Map, id: 'forces' | 'rail' | 'hotspots', fc: FC, key: string): number {
  const m = max(fc, key);
  const k = STATE_KEY[id]!;
  const step = drawnStep[id];
  let last = scaledPushed.get(`${id}/${key}`);
  if (!last) scaledPushed.set(`${id}/${key}`, (last = new Map()));
  for (const f of fc.features) {
    const p = f.properties!;
    const scaled = step((Number(p[key]) || 0) / m);
    if (last.get(p[k]) === scaled) continue;
    last.set(p[k], scaled);
    setState(map, id, p[k], { [`${key}_s`]: scaled });
  }
  return m;
}

/** Force areas by `metric` (scaled state: −1..1 for net, 0..1 for imports or exports). */
function forceColor(metric: ForceMetric): maplibregl.ExpressionSpecification {
  if (metric === 'net') return ['interpolate', ['linear'], st('net_s'), -1, PAL.forces_net[0], 0, PAL.forces_net[1], 1, PAL.forces_net[2]];
  const [lo, hi] = metric === 'imports' ? PAL.forces_imports : PAL.forces_exports;
  return ['interpolate', ['linear'], st(`${metric}_s`), 0, lo, 1, hi];
}
const RAIL_WIDTH: maplibregl.ExpressionSpecification = ['interpolate', ['linear'], st('journeys_s'), 0, 0.5, 1, 9];
const RAIL_COLOR: maplibregl.ExpressionSpecification = ['case', ['>', st('journeys_s'), 0], '#1a1a1a', '#8a8a8a'];
/** Circle area by `field` (scaled state), capped by zoom; with `gi`, the insignificant smaller. */
function stationRadius(field: string, gi = true): maplibregl.ExpressionSpecification {
  const r = (cap: number): maplibregl.ExpressionSpecification => [
    'case', ['>', st(`${field}_s`), 0],
    ['max', 1.5, ['*', cap, ['sqrt', st(`${field}_s`)], gi ? ['case', ['==', st('gi'), 0], 0.7, 1] : 1]], 0,
  ];
  return ['interpolate', ['linear'], ['zoom'], 5, r(7), 8, r(11), 11, r(16)];
}
// A station circle's fill opacity is its colour's alpha (0.9, the insignificant and the
// emerging style's no pattern 0.45), not `circle-opacity`: each paint property that reads feature
// state is evaluated again for every station whose state changed in the frame after a filter
// change (MapLibre's paint arrays; at the national view 2,568 of them), and the circle drawn is
// the same (see format.ts withAlpha).
const STATION_COLOR: maplibregl.ExpressionSpecification = [
  'case',
  ['==', st('gi'), 1], withAlpha(PAL.stations.hot, 0.9),
  ['==', st('gi'), -1], withAlpha(PAL.stations.cold, 0.9),
  withAlpha(PAL.stations.insignificant, 0.45),
];
/** The properties the worker tiles, per source, where its layers read only some (the key its
 * feature state is addressed by, names, a sort key): every count is feature state, or stays in
 * the page's own copy for the panels. MapLibre decodes a tile feature's properties again for
 * every feature whose state changes, in the frame after each filter change: the stations' 19
 * properties made that decoding a fifth of a redraw's frame. */
const TILED: Partial<Record<SourceId, readonly string[]>> = {
  hotspots: ['crs', 'name', 'entries_exits_2019_20'],
  forces: ['code', 'name'],
};

export function setData(map: maplibregl.Map, id: SourceId, fc: FC) {
  const keep = TILED[id];
  const sent: FC = keep
    ? { type: 'FeatureCollection', features: fc.features.map((f) => ({ type: 'Feature', id: f.id, geometry: f.geometry, properties: Object.fromEntries(keep.map((k) => [k, f.properties?.[k]])) })) }
    : fc;
  (map.getSource(id) as maplibregl.GeoJSONSource).setData(sent as any);
}

export const max = (fc: FC, k: string) => Math.max(1, ...fc.features.map((f) => Math.abs(Number(f.properties?.[k]) || 0)));

/** Choropleth of the forces by `metric`, scaled to the current data. */
export function styleForces(map: maplibregl.Map, fc: FC, metric: ForceMetric): string {
  const m = setScaled(map, 'forces', fc, metric);
  map.setPaintProperty('forces-fill', 'fill-color', forceColor(metric));
  if (metric === 'net') {
    return `<div class="ramp net"></div>
      <div class="ramp-l"><span>${-m} (imports)</span><span>0</span><span>+${m} (exports)</span></div>`;
  }
  return `<div class="ramp ${metric}"></div>
    <div class="ramp-l"><span>0</span><span>${m} ${metric}</span></div>`;
}

/** Rail sections: width by journeys. */
export function styleRail(map: maplibregl.Map, fc: FC): string {
  const m = setScaled(map, 'rail', fc, 'journeys');
  return `<svg width="160" height="18"><line x1="2" y1="9" x2="50" y2="9" stroke="#8a8a8a" stroke-width="0.5"/>
    <line x1="58" y1="9" x2="100" y2="9" stroke="#1a1a1a" stroke-width="3"/><line x1="108" y1="9" x2="156" y2="9" stroke="#1a1a1a" stroke-width="9"/></svg>
    <div class="ramp-l"><span>0</span><span>${Math.round(m / 3)}</span><span>${m} journeys</span></div>`;
}

/** Station circles: area by `field` (a count of the hotspot measure as published, children, or
 * the rate; scaled state, see `setScaled`), capped by zoom so that no circle is larger than it
 * needs to be; colour by Gi* significance, the insignificant paler and smaller (`gi`; the
 * emerging style colours them itself, see emerging.ts). */
export function styleStations(map: maplibregl.Map, fc: FC, field: string, gi = true) {
  const m = setScaled(map, 'hotspots', fc, field);
  map.setPaintProperty('hotspots-circle', 'circle-radius', stationRadius(field, gi));
  if (gi) map.setPaintProperty('hotspots-circle', 'circle-color', STATION_COLOR);
  return m;
}

/** Corridors (hub station → market station by line direction): width by journeys. */
export function styleCorridors(map: maplibregl.Map, fc: FC): string {
  if (!fc.features.length) return '<em>none (loaded while the layer is on)</em>';
  const m = max(fc, 'journeys');
  map.setPaintProperty('corridors-line', 'line-width', ['interpolate', ['linear'], ['coalesce', ['get', 'journeys'], 0], 0, 0.5, m, 8]);
  return `<svg width="160" height="18"><line x1="2" y1="9" x2="70" y2="9" stroke="#01857a" stroke-width="1"/>
    <line x1="86" y1="9" x2="156" y2="9" stroke="#01857a" stroke-width="8" opacity=".7"/></svg>
    <div class="ramp-l"><span>few</span><span>${m} journeys (top ${fc.features.length} corridors)</span></div>`;
}

/** What a size choice draws, in words, for the hotspot measure. */
export function measureLabel(size: StationMeasure, measure: string): string {
  const f = measureField(measure);
  if (size === 'children') return 'children';
  if (size === 'rate_per_million') return `${f === 'journeys' ? 'journeys' : f} per million entries and exits`;
  return f === 'journeys' ? 'journeys (all)' : f;
}

/** The size part of the station legend. */
export const sizeLegend = (m: number, label: string) => `<div class="ramp-l"><span>area: ${label}, max ${num(m)}</span></div>`;

export function hotspotLegend(m: number, label: string): string {
  // Colours come from classes: the page's CSP allows no inline styles.
  const dot = (c: string, t: string) => `<div><span class="dot ${c}"></span>${t}</div>`;
  return (
    dot('hot', 'hot spot (significant, Gi* z &gt; 0)') +
    dot('cold', 'cold spot (significant, z &lt; 0)') +
    dot('insig', 'not significant (paler, smaller)') +
    sizeLegend(m, label)
  );
}

export const LAYER_IDS: Record<SourceId, string[]> = {
  forces: ['forces-fill', 'forces-line', 'force-labels'],
  rail: ['rail-line'],
  flows: FLOW_LAYERS.map((l) => l.id),
  hotspots: ['hotspots-circle', 'selected-station', 'station-labels', 'station-labels-top'],
  journeys: ['journeys-line'],
  corridors: ['corridors-line'],
};

export function setVisible(map: maplibregl.Map, id: SourceId, on: boolean) {
  // (a viewer's map has no journeys layer)
  for (const l of LAYER_IDS[id]) if (map.getLayer(l)) map.setLayoutProperty(l, 'visibility', on ? 'visible' : 'none');
}
