// Force-to-force flows that read: each cross-border pair drawn as a curve bending to its
// right (so A→B and B→A never overlap) with an arrowhead two thirds along it (direction with no
// legend), width by journeys; the top N by default, a minimum count, more pairs as you zoom in
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
    paint: { 'line-color': PAL.flows.base, 'line-opacity': 0.6, 'line-width': 1 },
  },
  {
    id: 'flows-arrow',
    type: 'symbol',
    source: 'flows',
    filter: ['==', ['get', 'kind'], 'arrow'],
    layout: {
      'icon-image': 'flow-arrow',
      'icon-rotate': ['get', 'angle'],
      'icon-rotation-alignment': 'map',
      'icon-allow-overlap': true,
      'icon-ignore-placement': true,
      'icon-size': 0.5,
    },
    paint: { 'icon-color': PAL.flows.base, 'icon-opacity': 0.85 },
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
  // icon-rotate turns clockwise from the icon's own direction (east): screen y is Mercator y.
  return { line, arrow: unmerc(at(t)), angle: (Math.atan2(ty, tx) * 180) / Math.PI };
}

/** The server's straight flows as curves (`kind: 'flow'`) and arrowheads (`kind: 'arrow'`),
 * cross-border only, ranked by journeys (rank 1 the largest; a viewer's suppressed pairs are not
 * listed by the server at all). The map's `flows` source also carries the station names by
 * count (`kind: 'name'`, labels.ts): one source re-sent per filter means one re-tiling and one
 * repaint, which in software WebGL is most of a redraw. */
export function flowFeatures(fc: FC): FC {
  const cross = fc.features
    .filter((f) => f.properties?.origin_force !== f.properties?.destination_force && typeof f.properties?.journeys === 'number')
    .sort((x, y) => y.properties!.journeys - x.properties!.journeys || String(x.id).localeCompare(String(y.id)));
  const lines: GeoJSON.Feature[] = [], arrows: GeoJSON.Feature[] = [];
  cross.forEach((f, i) => {
    const [a, b] = (f.geometry as GeoJSON.LineString).coordinates;
    const c = curve(a, b);
    const properties = { ...f.properties, rank: i + 1 };
    // Drawn smallest first, so the main corridors lie on top.
    lines.unshift({ type: 'Feature', id: i + 1, geometry: { type: 'LineString', coordinates: c.line }, properties: { ...properties, kind: 'flow' } });
    arrows.unshift({ type: 'Feature', geometry: { type: 'Point', coordinates: c.arrow }, properties: { ...properties, kind: 'arrow', angle: c.angle } });
  });
  return { type: 'FeatureCollection', features: [...lines, ...arrows] };
}

/** An arrowhead pointing east as a signed distance field (MapLibre's convention: the edge at
 * 191 of 255, 8 px of falloff), so its colour follows `icon-color`. */
export function arrowImage(size = 32): { width: number; height: number; data: Uint8Array } {
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

/** Width by journeys, the filters of the view, the highlight. Returns the legend's HTML. */
export function styleFlows(map: maplibregl.Map, drawn: FC, v: FlowView): string {
  if (!map.hasImage('flow-arrow')) map.addImage('flow-arrow', arrowImage(), { sdf: true });
  const m = Math.max(1, ...drawn.features.filter((f) => f.properties?.kind === 'flow').map((f) => f.properties?.journeys ?? 0));
  const w: maplibregl.ExpressionSpecification = ['interpolate', ['linear'], ['get', 'journeys'], 0, 0.6, m, 11];
  map.setPaintProperty('flows-line', 'line-width', w);
  map.setLayoutProperty('flows-arrow', 'icon-size', ['interpolate', ['linear'], ['get', 'journeys'], 0, 0.35, m, 1.1]);
  const shown: maplibregl.ExpressionSpecification = [
    'all',
    ['>=', ['get', 'journeys'], v.min],
    ['<=', ['get', 'rank'], ['step', ['zoom'], v.top, ...ZOOM_STEPS.flatMap(([z, k]) => [z, v.top * k])]],
  ];
  map.setFilter('flows-line', ['all', ['==', ['get', 'kind'], 'flow'], shown]);
  map.setFilter('flows-arrow', ['all', ['==', ['get', 'kind'], 'arrow'], shown]);
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
  map.setPaintProperty('flows-arrow', 'icon-color', color);
  map.setPaintProperty('flows-arrow', 'icon-opacity', v.force ? ['case', ['any', out, inn], 1, 0.15] : 0.85);
}
