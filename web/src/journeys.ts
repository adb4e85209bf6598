// The journeys layer (issue 19): Mapbox Vector Tiles from the server's OGC API – Tiles
// endpoint for the journeys collection, drawn at every zoom. The server applies the filters
// (the tile URL carries them as query parameters, named as the page's other requests name them)
// and aggregates: at low zoom the journeys that follow the same route are one feature with
// `journeys` and `children` counts; at high zoom each journey is a feature with its `id`.
// A role that may not read journeys (viewer) gets no source at all.
import * as maplibregl from 'maplibre-gl';
import { declaredPath, getJson, url, type Params } from './api';
import { num } from './format';

export const SOURCE = 'journeys';
export const LAYER = 'journeys-line';
/** The tileset metadata (OGC API – Tiles) of the journeys collection. */
export const TILESET_PATH = '/collections/journeys/tiles/WebMercatorQuad';

export interface Tileset {
  /** the tile URL on this page's origin, MapLibre's `{z}/{x}/{y}`, without the filters */
  template: string;
  /** query parameters the server's template itself carries (kept under the filters) */
  fixed: Params;
  minzoom: number;
  maxzoom: number;
  /** the OpenAPI path of the tile operation (to leave out parameters it does not declare) */
  apiPath: string;
}

/** Reads the tileset metadata: the tile URL template (its `rel=item` link; OGC's variables
 * `{tileMatrix}`, `{tileCol}`, `{tileRow}` or XYZ's `{z}`, `{x}`, `{y}`, mapped by name, not by
 * position) and the zoom range (`tileMatrixSetLimits`, or the layer's `minTileMatrix` /
 * `maxTileMatrix`). The template's path is taken on this page's origin: the page is served by
 * the server it draws, so no tile request leaves it. */
export async function fetchTileset(): Promise<Tileset> {
  const ts = await getJson<any>(TILESET_PATH, {}, 'journeys-tileset');
  const links: any[] = ts.links ?? [];
  const link =
    links.find((l) => l.rel === 'item' && /mapbox-vector-tile|mvt/.test(String(l.type ?? ''))) ?? links.find((l) => l.rel === 'item');
  if (!link?.href) throw new Error(`${TILESET_PATH}: no tile URL template (a link with rel "item")`);
  // the braces may be percent-encoded in an absolute URL: work on the text
  const href = String(link.href).replace(/%7B/gi, '{').replace(/%7D/gi, '}');
  const noOrigin = href.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '');
  const [path, query = ''] = noOrigin.split('?');
  const template = path.replace('{tileMatrix}', '{z}').replace('{tileCol}', '{x}').replace('{tileRow}', '{y}');
  if (!['{z}', '{x}', '{y}'].every((v) => template.includes(v))) throw new Error(`${TILESET_PATH}: the tile URL template ${href} lacks a zoom, column or row`);
  const zs: number[] = (ts.tileMatrixSetLimits ?? []).map((l: any) => Number(l.tileMatrix)).filter(Number.isFinite);
  const layer = (ts.layers ?? []).find((l: any) => l.id === 'journeys') ?? ts.layers?.[0] ?? {};
  const num = (v: unknown, d: number) => (v != null && Number.isFinite(Number(v)) ? Number(v) : d);
  const maxzoom = zs.length ? Math.max(...zs) : num(layer.maxTileMatrix, num(ts.maxzoom, 14));
  const minzoom = zs.length ? Math.min(...zs) : num(layer.minTileMatrix, num(ts.minzoom, 0));
  const apiPath =
    declaredPath((p) => /^\/collections\/(journeys|\{[^}]+\})\/tiles\/(WebMercatorQuad|\{[^}]+\})\/\{[^}]+\}\/\{[^}]+\}\/\{[^}]+\}$/.test(p)) ??
    path;
  return { template: location.origin + template, fixed: Object.fromEntries(new URLSearchParams(query)), minzoom, maxzoom, apiPath };
}

/** The tile URL for the filters (the form's API parameters: from, to, age_band, …). */
export function tileUrl(ts: Tileset, params: Params): string {
  const q = url(ts.apiPath, { ...ts.fixed, ...params }).split('?')[1];
  return q ? `${ts.template}?${q}` : ts.template;
}

/** Width and opacity by `journeys` on a log scale (1, 10, 100, 1,000, 10,000 journeys along a
 * route), a little wider with children. Fixed expressions: a filter changes the tile URL only. */
const LOG_JOURNEYS: maplibregl.ExpressionSpecification = ['log10', ['max', 1, ['coalesce', ['get', 'journeys'], 1]]];
const WIDTH: maplibregl.ExpressionSpecification = [
  '+',
  ['interpolate', ['linear'], LOG_JOURNEYS, 0, 1, 1, 2, 2, 3.5, 3, 5.5, 4, 8],
  ['case', ['>', ['coalesce', ['get', 'children'], 0], 0], 0.6, 0],
];
const OPACITY: maplibregl.ExpressionSpecification = ['interpolate', ['linear'], LOG_JOURNEYS, 0, 0.4, 2, 0.65, 3, 0.85];
export const COLOR = '#e66101';

/** Adds the source and its line layer under `beforeId` (the flows: at the national view the
 * routes lie under the force-to-force summary, over the track). */
export function add(map: maplibregl.Map, ts: Tileset, params: Params, visible: boolean, beforeId?: string) {
  map.addSource(SOURCE, { type: 'vector', tiles: [tileUrl(ts, params)], minzoom: 0, maxzoom: ts.maxzoom });
  map.addLayer(
    {
      id: LAYER,
      type: 'line',
      source: SOURCE,
      'source-layer': 'journeys',
      layout: { visibility: visible ? 'visible' : 'none' },
      paint: { 'line-color': COLOR, 'line-width': WIDTH, 'line-opacity': OPACITY },
    },
    beforeId && map.getLayer(beforeId) ? beforeId : undefined,
  );
}

/** Points the source at the tiles for new filters (MapLibre reloads the tiles in view, keeping
 * the old ones drawn until the new arrive; a hidden layer loads none). False if unchanged. */
export function setFilters(map: maplibregl.Map, ts: Tileset, params: Params): boolean {
  const src = map.getSource(SOURCE) as maplibregl.VectorTileSource | undefined;
  if (!src) return false;
  const u = tileUrl(ts, params);
  if (src.tiles?.[0] === u) return false;
  src.setTiles([u]);
  return true;
}

/** Hides the routes drawn when the filters (`params`) select other journeys than the source's
 * tiles: they are another filter's until the new tiles are in (setFilters, then `show` once
 * they are). Hidden by the layer's opacity, not its visibility: MapLibre answers any layout
 * change (visibility included) by parsing every tile in view again in its one worker, about a
 * megabyte of routes at the national view that the change's names then waited behind; a layer
 * at opacity 0 is not drawn and costs nothing. True if they are hidden (now, or still from an
 * earlier change whose routes have not followed yet). */
export function hideStale(map: maplibregl.Map, ts: Tileset, params: Params): boolean {
  const src = map.getSource(SOURCE) as maplibregl.VectorTileSource | undefined;
  if (!src) return false;
  if (stale(map)) return true;
  if (map.getLayoutProperty(LAYER, 'visibility') === 'none' || src.tiles?.[0] === tileUrl(ts, params)) return false;
  map.setPaintProperty(LAYER, 'line-layer-opacity', 0);
  return true;
}

/** Routes hidden as stale are also dropped before the camera moves (a zoom to the filtered
 * extent): a layer merely transparent would load the old filter's tiles for the new view. */
export function park(map: maplibregl.Map) {
  if (stale(map)) map.setLayoutProperty(LAYER, 'visibility', 'none');
}

/** Whether the routes are hidden as stale (by hideStale: the only opacity 0 of the layer). */
const stale = (map: maplibregl.Map) => !!map.getLayer(LAYER) && map.getPaintProperty(LAYER, 'line-layer-opacity') === 0;

/** Takes back hideStale (and park): the layer opaque again, and visible if `on` (the layer's
 * toggle). */
export function show(map: maplibregl.Map, on: boolean) {
  if (!map.getLayer(LAYER)) return;
  map.setPaintProperty(LAYER, 'line-layer-opacity', 1);
  if (on) map.setLayoutProperty(LAYER, 'visibility', 'visible');
}

/** Whether the routes are drawn (the layer on, and not hidden as stale). */
export function shown(map: maplibregl.Map): boolean {
  return !!map.getLayer(LAYER) && map.getLayoutProperty(LAYER, 'visibility') !== 'none' && !stale(map);
}

/** A rendered feature's route key: the journey's id (a single journey) or the feature id the
 * server gives an aggregate (its route), so that a route clipped into several tiles counts once. */
export function routeKey(f: maplibregl.MapGeoJSONFeature): string {
  const id = f.properties?.id;
  if (id != null && id !== '') return `j:${id}`;
  return f.id != null ? `r:${f.id}` : `p:${JSON.stringify(f.properties)}`;
}

/** The journeys drawn in view: distinct routes, their `journeys` and `children` summed. */
export function rendered(map: maplibregl.Map): { routes: number; journeys: number; children: number; features: number; singles: number } {
  if (!map.getLayer(LAYER)) return { routes: 0, journeys: 0, children: 0, features: 0, singles: 0 };
  const fs = map.queryRenderedFeatures({ layers: [LAYER] });
  const seen = new Map<string, maplibregl.MapGeoJSONFeature>();
  for (const f of fs) if (!seen.has(routeKey(f))) seen.set(routeKey(f), f);
  let journeys = 0, children = 0, singles = 0;
  for (const f of seen.values()) {
    journeys += Number(f.properties?.journeys) || 0;
    children += Number(f.properties?.children) || 0;
    if (f.properties?.id != null) singles++;
  }
  return { routes: seen.size, journeys, children, features: fs.length, singles };
}

/** A single journey (its details come from /api/journeys/{id}) or an aggregate (its counts). */
export const isSingle = (p: Record<string, any>): boolean => p?.id != null && p.id !== '';

export function aggregatePopup(p: Record<string, any>): string {
  const n = Number(p.journeys) || 0;
  const c = Number(p.children) || 0;
  return `<div class="pop"><b>${num(n)} ${n === 1 ? 'journey' : 'journeys'}</b> (${num(c)} ${c === 1 ? 'child' : 'children'}) follow this route
    <div><small>with the current filters; zoom in to pick a single journey</small></div></div>`;
}

export function legend(btpOnly: boolean): string {
  return `<svg width="160" height="14"><line x1="2" y1="7" x2="50" y2="7" stroke="${COLOR}" stroke-width="1" opacity="0.4"/>
    <line x1="58" y1="7" x2="100" y2="7" stroke="${COLOR}" stroke-width="3.5" opacity="0.65"/><line x1="108" y1="7" x2="156" y2="7" stroke="${COLOR}" stroke-width="8" opacity="0.85"/></svg>
    <div class="ramp-l"><span>1</span><span>100</span><span>10,000 journeys</span></div>
    <div>routes at every zoom, width by the journeys that follow them (wider with children); filtered on the server${btpOnly ? '; BTP-sourced journeys only' : ''}</div>`;
}
