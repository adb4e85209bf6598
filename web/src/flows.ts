// Force-to-force flows that read: each cross-border pair drawn as a curve bending to its
// right (so A→B and B→A never overlap) with an arrowhead (a filled triangle) two thirds along it
// (direction with no legend), width by journeys; the top N by default, a minimum count.
//
// Flows aggregated by zoom (as flowmap.blue does): the force areas' anchor points are clustered
// hierarchically (complete-linkage agglomerative clustering by great-circle distance, cut at one
// diameter per zoom level: deterministic, from the geography alone), and below zoom 8 the map
// draws group-to-group flows whose counts are the exact sums of the force-to-force flows between
// the two groups' forces; flows within a group are not drawn (its popup gives their total). The
// groups split as you zoom in, to single forces from zoom 8. Hovering a force (or choosing it)
// highlights its group's flows out, in or both.
//
// Geometry is sent once: every pair the page has seen, at every level (curve, arrowheads in
// four sizes per zoom band, and a node for each group of several forces; the force level, two
// thirds of it, when the map first reaches zoom 8). A filter change only
// sets feature state (journeys, width, arrow size, shown, highlight): no source is re-sent, so
// MapLibre re-tiles nothing and redraws once. Paint expressions read that state and never
// change (a changed data-driven expression re-tiles the whole source).
import * as maplibregl from 'maplibre-gl';
import type { FC } from './api';
import PAL from './palette.json';
import { escapeHtml } from './filters';
import { num, withAlpha } from './format';

/** Zoom levels where the flows change level: below LEVEL_ZOOMS[0] (the national view) level 0,
 * the coarsest groups; from the last, level 3: force to force. Whole levels, since the layers'
 * filters see the tile's zoom (floor of the map's). */
export const LEVEL_ZOOMS = [6, 7, 8];
/** The complete-linkage diameter (km between member forces' anchors, at most) of a group at
 * levels 0, 1 and 2. Between merge heights of the 45 GB force areas (89 | 103, 57 | 62, 31 |
 * 37 km), so 45 forces make 19, 31 and 42 groups (London's: 4, 3, 2 forces). */
export const CLUSTER_KM = [96, 60, 34];
/** The top N at the national view (level 0); times these at levels 1, 2 and 3. */
export const TOP_MULT = [1, 2, 4, 4];
export const FORCE_LEVEL = LEVEL_ZOOMS.length;
/** The level drawn at a zoom. */
export const levelAt = (zoom: number) => LEVEL_ZOOMS.filter((z) => zoom >= z).length;
const LEVEL_EXPR: maplibregl.ExpressionSpecification = ['step', ['zoom'], 0, ...LEVEL_ZOOMS.flatMap((z, i) => [z, i + 1])];

/** Zoom bands of the arrowheads: band i is drawn from ARROW_BANDS[i] (the first from 0) to the
 * next; band i < 3 is level i, bands 3… are the force level. */
export const ARROW_BANDS = [0, 5.5, 6.5, 7.5, 8.5, 9.5, 10.5, 11.5];
const BAND_EXPR: maplibregl.ExpressionSpecification = ['step', ['zoom'], 0, ...ARROW_BANDS.slice(1).flatMap((z, i) => [z, i + 1])];
/** The arrow bands drawn at a level. */
const bandsOf = (level: number) => (level < FORCE_LEVEL ? [level] : ARROW_BANDS.map((_, b) => b).filter((b) => b >= FORCE_LEVEL));
/** Arrowhead lengths (px) of the four sizes; a flow takes the smallest at least twice its width + 5 px. */
export const ARROW_PX = [10, 15, 21, 27];
/** The line width (px) of a flow of `j` journeys when the largest has `m`. */
export const flowWidth = (j: number, m: number) => 0.6 + (10.4 * Math.max(0, j)) / Math.max(1, m);
export const arrowSize = (w: number) => {
  const k = ARROW_PX.findIndex((px) => px >= 2 * w + 5);
  return k < 0 ? ARROW_PX.length - 1 : k;
};

const fs = (k: string): maplibregl.ExpressionSpecification => ['coalesce', ['feature-state', k], 0];
// hl: 0 nothing highlighted, 1 out of the highlighted group, 2 into it, 3 faded
/** A flow's colour with its opacity as the alpha (`a`: by hl 0, 1 and 2, 3), transparent when
 * `drawn` is false: one paint property that reads feature state where a colour and an opacity
 * were two (each is evaluated again over every vertex of every flow whose state changed, in the
 * frame after a filter change), for the same pixels (MapLibre draws the premultiplied colour
 * times the opacity). */
const colour = (drawn: maplibregl.ExpressionSpecification, a: [number, number, number, number]): maplibregl.ExpressionSpecification => [
  'case', drawn,
  ['match', fs('hl'), 0, withAlpha(PAL.flows.base, a[0]), 1, withAlpha(PAL.flows.out, a[1]), 2, withAlpha(PAL.flows.in, a[2]), 3, withAlpha(PAL.flows.base, a[3]), withAlpha(PAL.flows.base, a[1])],
  'rgba(0,0,0,0)',
];
const shown: maplibregl.ExpressionSpecification = ['==', fs('shown'), 1];
const shownAnd = (v: maplibregl.ExpressionSpecification | number): maplibregl.ExpressionSpecification => ['case', shown, v, 0];

export const FLOW_LAYERS: maplibregl.LayerSpecification[] = [
  {
    id: 'flows-line',
    type: 'line',
    source: 'flows',
    filter: ['all', ['==', ['get', 'kind'], 'flow'], ['==', ['get', 'level'], LEVEL_EXPR]],
    layout: { 'line-cap': 'round', 'line-join': 'round' },
    // width (px) and whether it is among the pairs shown: feature state set per filter
    paint: { 'line-color': colour(shown, [0.6, 0.9, 0.9, 0.12]), 'line-width': shownAnd(fs('w')) },
  },
  {
    // Arrowheads are small triangles built with the curves (a fill, not a symbol layer). A
    // triangle has a size on the ground, so each is built per zoom band, sized in pixels at the
    // band's middle, in the four ARROW_PX sizes; a flow's state `sc` shows the one for its width.
    id: 'flows-arrow',
    type: 'fill',
    source: 'flows',
    filter: ['all', ['==', ['get', 'kind'], 'arrow'], ['==', ['get', 'band'], BAND_EXPR]],
    paint: { 'fill-color': colour(['all', shown, ['==', fs('sc'), ['get', 'size']]], [0.85, 1, 1, 0.15]) },
  },
  {
    // a group of several forces: a ringed dot at its anchor (its popup lists the forces)
    id: 'flows-node',
    type: 'circle',
    source: 'flows',
    filter: ['all', ['==', ['get', 'kind'], 'node'], ['==', ['get', 'level'], LEVEL_EXPR]],
    paint: {
      'circle-radius': ['case', ['==', fs('hl'), 1], 6.5, 4.5],
      'circle-color': PAL.flows.base,
      'circle-stroke-color': '#ffffff',
      'circle-stroke-width': 1.5,
      'circle-opacity': 0.9,
    },
  },
];

export interface FlowView {
  top: number;
  min: number;
  force: string; // highlighted force ('' none)
  dir: 'out' | 'in' | 'both';
}

// Web Mercator in units of the world (0..1), for bending and for the arrow's screen angle.
const merc = ([lon, lat]: number[]) => [(lon + 180) / 360, (1 - Math.log(Math.tan(Math.PI / 4 + (lat * Math.PI) / 360)) / Math.PI) / 2];
const unmerc = ([x, y]: number[]) => [x * 360 - 180, (Math.atan(Math.sinh(Math.PI * (1 - 2 * y))) * 180) / Math.PI];

/** The curve from a to b (lon/lat): a quadratic Bézier in Mercator whose control point is off
 * the chord's middle, to the right of the direction of travel, by a fifth of its length. */
export function curve(a: number[], b: number[], n = 24): { line: number[][]; arrow: number[]; angle: number } {
  const [ax, ay] = merc(a), [bx, by] = merc(b);
  const dx = bx - ax, dy = by - ay;
  // Mercator y grows southwards, so (−dy, dx) is to the right of travel on the screen.
  const cx = (ax + bx) / 2 - dy * 0.2, cy = (ay + by) / 2 + dx * 0.2;
  const at = (t: number) => {
    const u = 1 - t;
    return [u * u * ax + 2 * u * t * cx + t * t * bx, u * u * ay + 2 * u * t * cy + t * t * by];
  };
  const line = Array.from({ length: n + 1 }, (_, i) => unmerc(at(i / n)));
  const t = 0.66, u = 1 - t;
  const tx = 2 * u * (cx - ax) + 2 * t * (bx - cx), ty = 2 * u * (cy - ay) + 2 * t * (by - cy);
  // the angle turns clockwise from east on the screen: screen y is Mercator y.
  return { line, arrow: unmerc(at(t)), angle: (Math.atan2(ty, tx) * 180) / Math.PI };
}

/** An arrowhead: a triangle whose centroid is `at` (Mercator), pointing along `angle` (degrees,
 * clockwise from east on the screen), `len` long and `len` × 0.8 wide (Mercator units). */
export function arrowTriangle(at: number[], angle: number, len: number): number[][] {
  const a = (angle * Math.PI) / 180;
  const ux = Math.cos(a), uy = Math.sin(a); // along
  const vx = -uy, vy = ux; // across
  const w = len * 0.4;
  // the centroid is a third of the way from the base to the tip
  const tip = [at[0] + (ux * len * 2) / 3, at[1] + (uy * len * 2) / 3];
  const b = [at[0] - (ux * len) / 3, at[1] - (uy * len) / 3];
  return [tip, [b[0] + vx * w, b[1] + vy * w], [b[0] - vx * w, b[1] - vy * w], tip].map(unmerc);
}

// ------------------------------------------------------------------ clustering

/** Great-circle distance (km) on the mean Earth sphere. */
export function km(a: number[], b: number[]): number {
  const r = Math.PI / 180;
  const h = Math.sin(((b[1] - a[1]) * r) / 2) ** 2 + Math.cos(a[1] * r) * Math.cos(b[1] * r) * Math.sin(((b[0] - a[0]) * r) / 2) ** 2;
  return 2 * 6371.0088 * Math.asin(Math.min(1, Math.sqrt(h)));
}

export interface Group {
  level: number;
  index: number;
  /** force codes, sorted */
  members: string[];
  /** where its flows start and end: the mean of its members' anchors (lon, lat) */
  at: number[];
}
export interface Clustering {
  /** groups per level, ordered by their first member; the last level one per force */
  levels: Group[][];
  /** per level: a force's group index */
  of: Map<string, number>[];
  /** each force's anchor point */
  anchors: Map<string, number[]>;
}

/** Complete-linkage agglomerative clustering of the forces' anchor points: repeatedly merge the
 * two groups whose farthest members are nearest (ties: the first pair in code order), and keep
 * the partition reached before the first merge taller than each CLUSTER_KM. Complete linkage
 * never merges lower after higher, so the levels nest: each group splits into whole groups of
 * the next level. */
export function clusterForces(anchors: Map<string, number[]>): Clustering {
  const codes = [...anchors.keys()].sort();
  const pts = codes.map((c) => anchors.get(c)!);
  const d = pts.map((a) => pts.map((b) => km(a, b)));
  let groups: number[][] = codes.map((_, i) => [i]);
  const link = (g: number[], h: number[]) => Math.max(...g.flatMap((i) => h.map((j) => d[i][j])));
  const cuts = CLUSTER_KM.map((t, level) => ({ t, level })).sort((a, b) => a.t - b.t);
  const parts: number[][][] = [];
  for (let c = 0; c < cuts.length; ) {
    let best: { h: number; i: number; j: number } | null = null;
    for (let i = 0; i < groups.length; i++)
      for (let j = i + 1; j < groups.length; j++) {
        const h = link(groups[i], groups[j]);
        if (!best || h < best.h) best = { h, i, j };
      }
    for (; c < cuts.length && (!best || best.h > cuts[c].t); c++) parts[cuts[c].level] = groups.map((g) => [...g]);
    if (!best) break;
    groups[best.i] = [...groups[best.i], ...groups[best.j]].sort((a, b) => a - b);
    groups.splice(best.j, 1);
  }
  parts[FORCE_LEVEL] = codes.map((_, i) => [i]);
  const levels = parts.map((gs, level) =>
    gs
      .sort((a, b) => a[0] - b[0])
      .map((g, index) => ({
        level,
        index,
        members: g.map((i) => codes[i]),
        at: [g.reduce((s, i) => s + pts[i][0], 0) / g.length, g.reduce((s, i) => s + pts[i][1], 0) / g.length],
      })),
  );
  const of = levels.map((gs) => new Map(gs.flatMap((g) => g.members.map((m) => [m, g.index] as [string, number]))));
  return { levels, of, anchors };
}

// ------------------------------------------------------------------ counts per level

/** A pair of groups at a level: `level:origin>destination` (group indices). */
export const pairKey = (level: number, o: number, d: number) => `${level}:${o}>${d}`;
const parseKey = (k: string) => {
  const [level, rest] = k.split(':');
  const [o, d] = rest.split('>');
  return { level: Number(level), o: Number(o), d: Number(d) };
};

export interface FlowRow {
  origin_force: string;
  destination_force: string;
  journeys: number | null;
}
export interface FlowCounts {
  /** cross-group pairs: journeys summed over their force pairs, and how many force pairs */
  pairs: Map<string, { j: number; n: number }>;
  /** per level and group (`level:index`): journeys between its forces (not drawn) */
  within: Map<string, number>;
  /** the largest pair's journeys per level */
  max: number[];
}

/** The server's force-to-force rows summed into group pairs at every level. Rows within one
 * force are left out (never drawn); a viewer's rows are the published ones (rounded, none under
 * the threshold), so the sums are of published counts. */
export function flowCounts(rows: FlowRow[], cl: Clustering): FlowCounts {
  // summed under numeric keys (level, origin, destination), named once at the end
  const G = 1024;
  const sums = new Map<number, { j: number; n: number }>();
  const inside = new Map<number, number>();
  for (const r of rows) {
    if (r.origin_force === r.destination_force || typeof r.journeys !== 'number') continue;
    for (let level = 0; level < cl.of.length; level++) {
      const o = cl.of[level].get(r.origin_force), d = cl.of[level].get(r.destination_force);
      if (o === undefined || d === undefined) continue;
      if (o === d) inside.set(level * G + o, (inside.get(level * G + o) ?? 0) + r.journeys);
      else {
        const k = (level * G + o) * G + d;
        const p = sums.get(k);
        if (p) (p.j += r.journeys), (p.n += 1);
        else sums.set(k, { j: r.journeys, n: 1 });
      }
    }
  }
  const pairs = new Map<string, { j: number; n: number }>();
  const max = cl.levels.map(() => 0);
  for (const [k, p] of sums) {
    const level = Math.floor(k / (G * G));
    pairs.set(pairKey(level, Math.floor(k / G) % G, k % G), p);
    max[level] = Math.max(max[level], p.j);
  }
  const within = new Map([...inside].map(([k, j]) => [`${Math.floor(k / G)}:${k % G}`, j] as [string, number]));
  return { pairs, within, max };
}

// ------------------------------------------------------------------ geometry, sent once

export interface FlowGeometry {
  fc: FC;
  /** feature id of each pair key (its curve and arrowheads share it, so one state sets all) */
  ids: Map<string, number>;
  /** per id: level, origin and destination group */
  pairs: Map<number, { level: number; o: number; d: number }>;
}
/** Node ids: NODE_ID + level × 1000 + group index (pair ids count from 1). */
const NODE_ID = 1_000_000;

/** Curves, arrowheads and group nodes for `keys` (drawn in that order: the first lowest). */
export function flowGeometry(cl: Clustering, keys: string[]): FlowGeometry {
  const lines: GeoJSON.Feature[] = [], arrows: GeoJSON.Feature[] = [], nodes: GeoJSON.Feature[] = [];
  const ids = new Map<string, number>();
  const pairs = new Map<number, { level: number; o: number; d: number }>();
  keys.forEach((k, i) => {
    const id = i + 1;
    const { level, o, d } = parseKey(k);
    const [go, gd] = [cl.levels[level][o], cl.levels[level][d]];
    ids.set(k, id);
    pairs.set(id, { level, o, d });
    const c = curve(go.at, gd.at);
    const properties: Record<string, any> = {
      level,
      key: k,
      origin_forces: go.members.join(','),
      destination_forces: gd.members.join(','),
      // a single force's code (its flow popup asks the server for the whole row)
      origin_force: go.members.length === 1 ? go.members[0] : '',
      destination_force: gd.members.length === 1 ? gd.members[0] : '',
    };
    lines.push({ type: 'Feature', id, geometry: { type: 'LineString', coordinates: c.line }, properties: { ...properties, kind: 'flow' } });
    const at = merc(c.arrow);
    for (const band of bandsOf(level)) {
      const z = band === 0 ? 5 : ARROW_BANDS[band] + 0.5; // the scale at the band's middle (the national view: 5)
      ARROW_PX.forEach((px, size) =>
        arrows.push({
          type: 'Feature',
          id,
          geometry: { type: 'Polygon', coordinates: [arrowTriangle(at, c.angle, px / (512 * 2 ** z))] },
          properties: { ...properties, kind: 'arrow', band, size, angle: c.angle, lon: c.arrow[0], lat: c.arrow[1] },
        }),
      );
    }
  });
  cl.levels.forEach((gs, level) => {
    for (const g of gs) {
      if (g.members.length < 2) continue;
      nodes.push({ type: 'Feature', id: NODE_ID + level * 1000 + g.index, geometry: { type: 'Point', coordinates: g.at }, properties: { kind: 'node', level, group: g.index, members: g.members.join(',') } });
    }
  });
  return { fc: { type: 'FeatureCollection', features: [...lines, ...arrows, ...nodes] }, ids, pairs };
}

/** The geometry's keys plus any pair of `counts` below level `upTo` it lacks, smallest first (so
 * the main corridors lie on top), or null when it has them all. */
export function missingKeys(geo: FlowGeometry | null, counts: FlowCounts, upTo: number): string[] | null {
  const extra = [...counts.pairs.keys()].filter((k) => !geo?.ids.has(k) && parseKey(k).level < upTo);
  if (!extra.length) return null;
  const j = (k: string) => counts.pairs.get(k)?.j ?? 0;
  return [...(geo ? [...geo.ids.keys()] : []), ...extra.sort((a, b) => j(a) - j(b) || a.localeCompare(b))];
}

// ------------------------------------------------------------------ state per filter

export type FlowState = { shown: number; j: number; w: number; sc: number; rank: number; hl: number };

/** Each pair's state for the counts and view: journeys, rank within its level, shown (among the
 * level's top N × TOP_MULT, at least the minimum), width and arrow size (by the level's largest),
 * and the highlight. */
export function flowStates(geo: FlowGeometry, counts: FlowCounts, v: FlowView, cl: Clustering): Map<number, FlowState> {
  const ranked = [...counts.pairs.entries()].sort((a, b) => b[1].j - a[1].j || a[0].localeCompare(b[0]));
  const rank = new Map<string, number>();
  const seen = cl.levels.map(() => 0);
  for (const [k] of ranked) rank.set(k, ++seen[parseKey(k).level]);
  const hl = highlightStates(geo, v, cl);
  const out = new Map<number, FlowState>();
  for (const [k, id] of geo.ids) {
    const { level } = geo.pairs.get(id)!;
    const j = counts.pairs.get(k)?.j ?? 0;
    const r = rank.get(k) ?? 0;
    const w = flowWidth(j, counts.max[level]);
    const shown = j > 0 && r <= v.top * TOP_MULT[level] && j >= v.min ? 1 : 0;
    out.set(id, { shown, j, w, sc: arrowSize(w), rank: r, hl: hl.get(id) ?? 0 });
  }
  return out;
}

/** Each pair's highlight (0 none, 1 out of the force's group, 2 into it, 3 faded) and each
 * node's (1 the force's group), at every level. */
export function highlightStates(geo: FlowGeometry, v: FlowView, cl: Clustering): Map<number, number> {
  const out = new Map<number, number>();
  for (const [id, p] of geo.pairs) {
    const g = v.force ? cl.of[p.level].get(v.force) : undefined;
    if (g === undefined) out.set(id, 0);
    else out.set(id, v.dir !== 'in' && p.o === g ? 1 : v.dir !== 'out' && p.d === g ? 2 : 3);
  }
  cl.levels.forEach((gs, level) => {
    const g = v.force ? cl.of[level].get(v.force) : undefined;
    for (const x of gs) if (x.members.length > 1) out.set(NODE_ID + level * 1000 + x.index, g === x.index ? 1 : 0);
  });
  return out;
}

/** The level of a pair's or a group node's feature id. */
export const levelOf = (geo: FlowGeometry, id: number): number => geo.pairs.get(id)?.level ?? Math.floor((id - NODE_ID) / 1000);

/** Pushes states to the map, only those that changed since the last push; with `level`, only
 * those of that level's pairs and nodes (`geo` tells their levels). `last` holds what was
 * pushed, updated in place (a filter change compares every pair's state: no objects but the
 * differences sent). */
export function pushStates(map: maplibregl.Map, states: Map<number, Partial<FlowState>>, last: Map<number, Partial<FlowState>>, level?: number, geo?: FlowGeometry) {
  for (const [id, s] of states) {
    if (level !== undefined && geo && levelOf(geo, id) !== level) continue;
    const was = last.get(id);
    let diff: Record<string, number> | null = null;
    for (const k in s) {
      const v = s[k as keyof FlowState] as number;
      if (was?.[k as keyof FlowState] !== v) (diff ??= {})[k] = v;
    }
    if (!diff) continue;
    map.setFeatureState({ source: 'flows', id }, diff);
    if (was) Object.assign(was, diff);
    else last.set(id, { ...s });
  }
}

// ------------------------------------------------------------------ words

/** A group's short name: its busiest member (by `weight`) and how many more. */
export function groupName(g: Group, name: (code: string) => string, weight: (code: string) => number): string {
  if (g.members.length === 1) return name(g.members[0]);
  const first = [...g.members].sort((a, b) => weight(b) - weight(a) || a.localeCompare(b))[0];
  return `${name(first)} + ${g.members.length - 1}`;
}

/** The legend's HTML at a zoom. */
export function flowLegend(cl: Clustering, counts: FlowCounts, states: Map<number, FlowState>, geo: FlowGeometry, v: FlowView, zoom: number, published: boolean): string {
  const level = levelAt(zoom);
  let n = 0;
  for (const [id, s] of states) if (s.shown && geo.pairs.get(id)?.level === level) n++;
  const m = counts.max[level];
  const groups = cl.levels[level].length;
  const grouped = level < FORCE_LEVEL
    ? `<div class="ramp-l"><span>forces joined into ${groups} groups (•) at this zoom; flows within a group are not drawn; zoom in to split them</span></div>`
    : '<div class="ramp-l"><span>force to force</span></div>';
  return `<svg width="160" height="22" aria-hidden="true"><path d="M4 18 Q 60 0 120 14" fill="none" stroke="${PAL.flows.base}" stroke-width="4" opacity=".7"/>
    <path d="M112 8 L126 15 L112 20 Z" fill="${PAL.flows.base}"/></svg>
    <div class="ramp-l"><span>curves bend right, arrow to the destination</span></div>
    ${grouped}
    <div class="ramp-l"><span>width: journeys, max ${num(m)}</span><span>${n} pairs</span></div>
    ${published && level < FORCE_LEVEL ? '<div class="ramp-l"><span>a group flow sums the published (rounded) force-to-force counts; pairs under the threshold are not published</span></div>' : ''}
    <div class="key"><span class="dot out"></span>out of the highlighted ${level < FORCE_LEVEL ? 'group' : 'force'} <span class="dot in"></span>into it</div>`;
}

const esc = escapeHtml;
const PUBLISHED_NOTE = '<p><small>Sums of the published force-to-force counts (each rounded to a multiple of 5; pairs under the threshold are not published, so not summed).</small></p>';

export interface Names {
  name: (code: string) => string;
  weight: (code: string) => number;
}

/** A group's popup: its forces, its flows out and in (to and from the other groups at its
 * level, by journeys) and the journeys between its own forces, which are not drawn. */
export function groupPopup(cl: Clustering, counts: FlowCounts, level: number, index: number, n: Names, published: boolean): string {
  const g = cl.levels[level][index];
  const out: [string, number][] = [], inn: [string, number][] = [];
  for (const [k, p] of counts.pairs) {
    const x = parseKey(k);
    if (x.level !== level) continue;
    if (x.o === index) out.push([groupName(cl.levels[level][x.d], n.name, n.weight), p.j]);
    if (x.d === index) inn.push([groupName(cl.levels[level][x.o], n.name, n.weight), p.j]);
  }
  const sum = (xs: [string, number][]) => xs.reduce((s, [, j]) => s + j, 0);
  const list = (xs: [string, number][]) =>
    xs.length
      ? `<table class="list">${xs
          .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
          .slice(0, 8)
          .map(([name, j]) => `<tr><td>${esc(name)}</td><td class="n">${num(j)}</td></tr>`)
          .join('')}</table>`
      : '<em>none</em>';
  return `<div class="pop group-pop"><b>${esc(groupName(g, n.name, n.weight))}</b> <small>a group of ${g.members.length} forces at this zoom</small>
    <p class="members">${g.members.map((m) => esc(n.name(m))).sort((a, b) => a.localeCompare(b)).join(', ')}</p>
    <table class="kv"><tr><th>flows out</th><td>${num(sum(out))}</td></tr><tr><th>flows in</th><td>${num(sum(inn))}</td></tr>
    <tr><th>between its forces (not drawn)</th><td>${num(counts.within.get(`${level}:${index}`) ?? 0)}</td></tr></table>
    <h4>Flows out (to)</h4>${list(out)}<h4>Flows in (from)</h4>${list(inn)}${published ? PUBLISHED_NOTE : ''}</div>`;
}

/** A group-to-group flow's popup: its journeys and the force-to-force pairs summed. */
export function groupFlowPopup(cl: Clustering, rows: FlowRow[], key: string, counts: FlowCounts, n: Names, published: boolean): string {
  const { level, o, d } = parseKey(key);
  const [go, gd] = [cl.levels[level][o], cl.levels[level][d]];
  const parts = rows
    .filter((r) => typeof r.journeys === 'number' && go.members.includes(r.origin_force) && gd.members.includes(r.destination_force))
    .sort((a, b) => b.journeys! - a.journeys! || a.origin_force.localeCompare(b.origin_force) || a.destination_force.localeCompare(b.destination_force));
  const p = counts.pairs.get(key);
  return `<div class="pop group-pop"><b>${esc(groupName(go, n.name, n.weight))} → ${esc(groupName(gd, n.name, n.weight))}</b>
    <table class="kv"><tr><th>journeys</th><td>${num(p?.j ?? 0)}</td></tr><tr><th>force-to-force pairs summed</th><td>${p?.n ?? 0}</td></tr></table>
    <table class="list">${parts
      .slice(0, 10)
      .map((r) => `<tr><td>${esc(n.name(r.origin_force))} → ${esc(n.name(r.destination_force))}</td><td class="n">${num(r.journeys!)}</td></tr>`)
      .join('')}</table>${parts.length > 10 ? `<small>and ${parts.length - 10} more pairs</small>` : ''}${published ? PUBLISHED_NOTE : ''}</div>`;
}
