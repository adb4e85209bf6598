// Force-to-force flows that read: each cross-border pair drawn as a curve bending to its
// right (so A→B and B→A never overlap) with an arrowhead (a filled triangle) two thirds along it
// (direction with no legend), width by journeys; the top N by default, a minimum count, more pairs as you zoom in
// (the national view shows the main corridors); a force hovered (or chosen in the form)
// highlights its flows out, in or both.
import * as maplibregl from 'maplibre-gl';
import type { FC } from './api';
import PAL from './palette.json';

export const FLOW_LAYERS: maplibregl.LayerSpecification[] = [
  {
    id: 'flows-line',
    type: 'line',
    source: 'flows',
    filter: ['==', ['get', 'kind'], 'flow'],
    layout: { 'line-cap': 'round', 'line-join': 'round' },
    // each flow's width by journeys (flowWidth, set by flowFeatures)
    paint: { 'line-color': PAL.flows.base, 'line-opacity': 0.6, 'line-width': ['get', 'width'] },
  },
  {
    // Arrowheads are small triangles built with the curves (a fill, not a symbol layer: symbol
    // layout and placement on a source re-sent per filter was most of a redraw in software
    // WebGL). A triangle has a size on the ground, so each is built once per zoom band, sized
    // in pixels at the band's middle, and the filter shows the band of the current zoom.
    id: 'flows-arrow',
    type: 'fill',
    source: 'flows',
    filter: ['==', ['get', 'kind'], 'arrow'],
    paint: { 'fill-color': PAL.flows.base, 'fill-opacity': 0.85 },
  },
];

/** How many pairs are drawn at a zoom: `top` at the national view (zoom < 6), twice that to
 * zoom 7, four times beyond (filters take zoom at whole levels). */
export const ZOOM_STEPS: [number, number][] = [[6, 2], [7, 4]];

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

/** Zoom bands of the arrowheads: band i is drawn from ARROW_BANDS[i] (the first from 0) to the next. */
export const ARROW_BANDS = [0, 5.5, 6.5, 7.5, 8.5, 9.5, 10.5, 11.5];
/** The line width (px) of a flow of `j` journeys when the largest has `m` (styleFlows). */
export const flowWidth = (j: number, m: number) => 0.6 + (10.4 * Math.max(0, j)) / Math.max(1, m);

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

/** The server's straight flows as curves (`kind: 'flow'`) and arrowheads (`kind: 'arrow'`, one
 * triangle per zoom band of ARROW_BANDS, with its `band` and the arrow's centre `lon`, `lat` and
 * `angle`), cross-border only, ranked by journeys (rank 1 the largest; a viewer's suppressed
 * pairs are not listed by the server at all). */
export function flowFeatures(fc: FC): FC {
  const cross = fc.features
    .filter((f) => f.properties?.origin_force !== f.properties?.destination_force && typeof f.properties?.journeys === 'number')
    .sort((x, y) => y.properties!.journeys - x.properties!.journeys || String(x.id).localeCompare(String(y.id)));
  const m = Math.max(1, ...cross.map((f) => f.properties!.journeys));
  const lines: GeoJSON.Feature[] = [], arrows: GeoJSON.Feature[] = [];
  cross.forEach((f, i) => {
    const [a, b] = (f.geometry as GeoJSON.LineString).coordinates;
    const c = curve(a, b);
    const properties = { ...f.properties, rank: i + 1 };
    // Drawn smallest first, so the main corridors lie on top.
    // its width (px) in the data, so the layer's expression stays the same from filter to filter
    lines.unshift({ type: 'Feature', id: i + 1, geometry: { type: 'LineString', coordinates: c.line }, properties: { ...properties, kind: 'flow', width: flowWidth(f.properties!.journeys, m) } });
    // about twice the line's width long, 9 px at least
    const px = Math.max(9, 2 * flowWidth(f.properties!.journeys, m) + 5);
    const at = merc(c.arrow);
    ARROW_BANDS.forEach((z0, band) => {
      const z = band === 0 ? 5 : z0 + 0.5; // the scale at the band's middle (the national view: 5)
      arrows.unshift({
        type: 'Feature',
        geometry: { type: 'Polygon', coordinates: [arrowTriangle(at, c.angle, px / (512 * 2 ** z))] },
        properties: { ...properties, kind: 'arrow', band, angle: c.angle, lon: c.arrow[0], lat: c.arrow[1] },
      });
    });
  });
  return { type: 'FeatureCollection', features: [...lines, ...arrows] };
}

/** Width by journeys, the filters of the view, the highlight. Returns the legend's HTML. */
export function styleFlows(map: maplibregl.Map, drawn: FC, v: FlowView): string {
  const m = Math.max(1, ...drawn.features.filter((f) => f.properties?.kind === 'flow').map((f) => f.properties?.journeys ?? 0));
  const shown: maplibregl.ExpressionSpecification = [
    'all',
    ['>=', ['get', 'journeys'], v.min],
    ['<=', ['get', 'rank'], ['step', ['zoom'], v.top, ...ZOOM_STEPS.flatMap(([z, k]) => [z, v.top * k])]],
  ];
  map.setFilter('flows-line', ['all', ['==', ['get', 'kind'], 'flow'], shown]);
  const band: maplibregl.ExpressionSpecification = ['step', ['zoom'], 0, ...ARROW_BANDS.slice(1).flatMap((z, i) => [z, i + 1])];
  map.setFilter('flows-arrow', ['all', ['==', ['get', 'kind'], 'arrow'], ['==', ['get', 'band'], band], shown]);
  highlight(map, v);
  const n = drawn.features.filter((f) => f.properties?.kind === 'flow').length;
  return `<svg width="160" height="22" aria-hidden="true"><path d="M4 18 Q 60 0 120 14" fill="none" stroke="${PAL.flows.base}" stroke-width="4" opacity=".7"/>
    <path d="M112 8 L126 15 L112 20 Z" fill="${PAL.flows.base}"/></svg>
    <div class="ramp-l"><span>curves bend right, arrow to the destination</span></div>
    <div class="ramp-l"><span>width: journeys, max ${m.toLocaleString('en-GB')}</span><span>${n} pairs</span></div>
    <div class="key"><span class="dot out"></span>out of the highlighted force <span class="dot in"></span>into it</div>`;
}

/** Colours the highlighted force's flows out and in; the rest fade. */
export function highlight(map: maplibregl.Map, v: FlowView) {
  const out: any = v.dir !== 'in' ? ['==', ['get', 'origin_force'], v.force] : false;
  const inn: any = v.dir !== 'out' ? ['==', ['get', 'destination_force'], v.force] : false;
  const color: any = v.force ? ['case', out, PAL.flows.out, inn, PAL.flows.in, PAL.flows.base] : PAL.flows.base;
  const opacity: any = v.force ? ['case', ['any', out, inn], 0.9, 0.12] : 0.6;
  map.setPaintProperty('flows-line', 'line-color', color);
  map.setPaintProperty('flows-line', 'line-opacity', opacity);
  map.setPaintProperty('flows-arrow', 'fill-color', color);
  map.setPaintProperty('flows-arrow', 'fill-opacity', v.force ? ['case', ['any', out, inn], 1, 0.15] : 0.85);
}
