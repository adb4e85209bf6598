import 'maplibre-gl/dist/maplibre-gl.css';
import '@fontsource/noto-sans/400.css';
import '@fontsource/noto-sans/700.css';
import './style.css';
import * as maplibregl from 'maplibre-gl';
// MapLibre 6 loads its worker from a separate module: let Vite emit it as an asset.
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url';
import { download, dropped, getJson, getTable, isAbort, loadOpenApi, onProgress, parseTable, url, type FC } from './api';
import * as A from './auth';
import { apiParams, bindForm, escapeHtml, fromUrl, hotspotParams, known, setVocabulary, toUrl, type Filters, type Vocabulary } from './filters';
import * as L from './layers';
import * as P from './panels';
import * as F from './flows';
import * as N from './labels';
import * as B from './briefing';
import * as E from './emerging';
import { Timeline, type Bucket } from './timeline';
import * as T from './treatment';
import * as PP from './people';
import * as J from './journeys';
import { holdDrawing, oneFramePerChange, type OneFrame } from './frames';
import { num } from './format';

const t0 = performance.now();
const $ = (id: string) => document.getElementById(id) as HTMLElement;

let filters: Filters = fromUrl();
let me: A.Me | null = null;
const urlQ = new URLSearchParams(location.search);
const urlMetric = urlQ.get('metric') ?? '';
// issue 15: a link may open the treatment view or the people list (read before their controls are set)
const urlView = T.fromUrl(urlQ) ? 'treatment' : PP.fromUrl(urlQ) ? 'people' : '';
let metric: L.ForceMetric = ['imports', 'exports'].includes(urlMetric) ? (urlMetric as L.ForceMetric) : 'net';
// View settings beside the filters, also in the URL: station size measure, flows shown.
let measure: L.StationMeasure = (L.STATION_MEASURES as readonly string[]).includes(urlQ.get('size') ?? '') ? (urlQ.get('size') as L.StationMeasure) : 'count';
// Station colour: Gi* significance, or the emerging pattern by month or week (`style`, `emerging_interval`).
let stationStyle: E.StationStyle = urlQ.get('style') === 'emerging' ? 'emerging' : 'gi';
let emInterval: E.Interval = urlQ.get('emerging_interval') === 'week' ? 'week' : 'month';
let emerging: E.EmergingAnswer | null = null;
let emergingKey = '';
const flowView: F.FlowView = {
  top: Math.max(5, Math.min(200, Number(urlQ.get('flows_top')) || 25)),
  min: Math.max(0, Number(urlQ.get('flows_min')) || 0),
  force: urlQ.get('flows_force') ?? '',
  dir: (['in', 'out'].includes(urlQ.get('flows_dir') ?? '') ? urlQ.get('flows_dir') : 'both') as F.FlowView['dir'],
};
let hoverForce = '';
// Flows by zoom (flows.ts): the forces' groups per level (from the geography, at start), the
// geometry the map holds (sent once, re-sent only when a pair it lacks appears), this filter's
// counts and states, and the states last pushed to the map.
let flowCl: F.Clustering | null = null;
let flowGeo: F.FlowGeometry | null = null;
let flowCountsNow: F.FlowCounts | null = null;
let flowStatesNow = new Map<number, F.FlowState>();
const flowPushed = new Map<number, Partial<F.FlowState>>();
let flowRowsNow: F.FlowRow[] = [];
/** Levels below this are in the flows' geometry. The first load sends the level its view draws
 * (at the national view level 0: 1,215 of the 7,730 features of levels 0–2 for the 100,000 demo
 * journeys), the other levels below the force level follow once the first load's routes are
 * drawn, and the force level (most of it: 20 arrowheads a pair) when the map first reaches its
 * zoom (sendFlowLevels). */
let flowLevelsSent = 0;
/** View settings for the URL (defaults left out). */
function viewParams(): Record<string, string> {
  const v: Record<string, string> = {};
  if (metric !== 'net') v.metric = metric;
  if (measure !== 'count') v.size = measure;
  if (stationStyle === 'emerging') v.style = 'emerging';
  if (emInterval !== 'month') v.emerging_interval = emInterval;
  if (flowView.top !== 25) v.flows_top = String(flowView.top);
  if (flowView.min) v.flows_min = String(flowView.min);
  if (flowView.force) v.flows_force = flowView.force;
  if (flowView.dir !== 'both') v.flows_dir = flowView.dir;
  return { ...v, ...T.urlParams(), ...PP.urlParams() };
}
let timeline: Timeline | null = null;
let timelineKey = '';
/** Resolves when the map has loaded and holds the force areas: the first load fetches its data
 * meanwhile and waits for this only to apply it. */
let mapReady: Promise<void> = Promise.resolve();
/** The journeys' vector tiles (issue 19): their tileset (tile URL template, zoom range), read
 * at start for the roles that may read journeys, and a promise that resolves when the source
 * is on the map (at once for a viewer, who has none). */
let tileset: J.Tileset | null = null;
let journeysReady: Promise<void> = Promise.resolve();
let lastIdle: Promise<void> = Promise.resolve();
const data: Record<L.SourceId, FC> = Object.fromEntries(L.SOURCES.map((s) => [s, { type: 'FeatureCollection', features: [] }])) as any;

// Debug and test handle.
const debug = {
  map: null as maplibregl.Map | null,
  get filters() {
    return filters;
  },
  data,
  count: null as number | null,
  get me() {
    return me;
  },
  generation: 0, // increments when a full reload has been drawn (map idle)
  journeysGeneration: 0, // increments when the journeys' tiles in view have loaded
  /** issue 19: the journeys' tile source (URL with the filters, zoom range) and what it draws */
  journeys: {
    get tiles() {
      return (debug.map?.getSource(J.SOURCE) as maplibregl.VectorTileSource | undefined)?.tiles ?? null;
    },
    get tileset() {
      return tileset;
    },
    rendered: () => J.rendered(debug.map!),
  },
  timings: {
    firstInteractiveMs: null as number | null,
    lastRedrawMs: null as number | null,
    lastFetchMs: null as number | null,
    lastApplyMs: null as number | null,
    /** features whose state the last change pushed (stations, track sections, forces) */
    get lastStates() {
      return L.statesPushed.last;
    },
    /** the journeys' routes drawn after the rest: from the page's start (first load) or the change */
    firstJourneysMs: null as number | null,
    lastJourneysMs: null as number | null,
  },
  routesGeneration: 0, // increments when the routes of a change (or the first load) are drawn
  errors: [] as string[],
  /** The flows by zoom: the groups of forces per level, this filter's group-pair counts and
   * each drawn pair's state (flows.ts), the level drawn now. */
  get flows() {
    const m = debug.map;
    return flowCl && flowCountsNow && flowGeo
      ? { levels: flowCl.levels, anchors: Object.fromEntries(flowCl.anchors), pairs: Object.fromEntries(flowCountsNow.pairs), within: Object.fromEntries(flowCountsNow.within), level: m ? F.levelAt(m.getZoom()) : 0, shown: [...flowStatesNow].filter(([, s]) => s.shown).length }
      : null;
  },
  get timeline() {
    return timeline ? { buckets: timeline.buckets, sel: timeline.sel, range: timeline.range(), playing: timeline.playing } : null;
  },
  get flowView() {
    return { ...flowView, hover: hoverForce };
  },
  fits: 0, // times the map zoomed to the filtered extent
  /** whether the map draws a change in one frame (frames.ts) */
  oneFrame: null as OneFrame | null,
  briefing: null as null | B.Briefing,
  /** Features of a source as the map holds them in the current view. */
  rendered: (id: L.SourceId) => debug.map!.querySourceFeatures(id, { sourceLayer: L.SOURCE_LAYER[id] }).length,
  /** The station style, and the emerging answer it draws (category, trend by CRS). */
  get stationStyle() {
    return { style: stationStyle, interval: emInterval, field: L.sizeField(measure, filters.measure), emerging: emerging ? Object.fromEntries(emerging.byCrs) : null };
  },
  /** The page's CSV reader (api.ts), for the browser test to hold against its own. */
  parseTable: (text: string) => [...parseTable(text).columns],
  /** issue 15: the treatment view and the people list */
  treatment: T.debug,
  people: PP.debug,
};
(window as any).__linesmap = debug;

onProgress((n) => {
  $('progress').classList.toggle('on', n > 0);
  $('loading').hidden = n === 0;
  document.body.setAttribute('aria-busy', String(n > 0));
  document.body.dataset.loading = n > 0 ? '1' : '';
});

function showError(e: unknown) {
  if (isAbort(e)) return;
  const msg = (e as Error).message ?? String(e);
  debug.errors.push(msg);
  $('error').textContent = msg;
  $('error').hidden = false;
}

function legend(id: string, html: string) {
  $(`legend-${id}`).innerHTML = html;
}

let reloadSeq = 0;
/** Resolves when the change being applied (reloadAll) is: a newer change waits for it. */
let applying: Promise<void> = Promise.resolve();
/** Fetches and draws every layer for the filters. `fit`: zoom to the filtered extent when the
 * change narrowed the journeys (form changes, not the timeline). */
async function reloadAll(map: maplibregl.Map, opts: { fit?: boolean } = {}) {
  const seq = ++reloadSeq;
  const start = performance.now();
  const before = debug.count;
  performance.mark('reload-start');
  $('error').hidden = true;
  dropped.clear();
  toUrl(filters, viewParams());
  const ap = apiParams(filters);
  // Treatment and people: fetched only while their panel is open.
  T.refresh(ap);
  PP.refresh(ap);
  // The timeline: weeks over every filter but the dates, refetched only when those change.
  const { from: _f, to: _t, ...undated } = ap;
  const tKey = JSON.stringify(undated);
  const weekly = tKey === timelineKey ? null : getJson<{ buckets: Bucket[] }>('/api/trends', { ...undated, interval: 'week' }, 'timeline');
  const hp = hotspotParams(filters);
  // A viewer may not export journeys: its export is the station layer it sees.
  const exportCollection = me?.journeys === 'none' ? 'hotspots' : 'journeys';
  $('export').dataset.href = url('/api/export', { collection: exportCollection, format: 'geojson', ...ap });
  $('export').dataset.collection = exportCollection;
  let applied = () => {};
  try {
    // Geometry of forces once; their filtered counts as CSV (a few KB, no geometry). The track
    // is the server's vector tiles (layers.ts): its sections' counts likewise. Stations: their
    // points once, each filter's counts and Gi* as CSV feature state.
    const stationGeometry = data.hotspots.features.length ? null : getJson<FC>('/collections/stations/items', { limit: '10000' });
    const emKey = JSON.stringify([hp, emInterval]);
    const [forceRows, railRows, stations, flows, hotspotRows, top, trends, weeks, corridors, em] = await Promise.all([
      getTable('/api/export', { ...ap, collection: 'forces' }, 'forces'),
      getTable('/api/export', { ...ap, collection: 'rail' }, 'rail'),
      stationGeometry,
      // only what the map draws (the pair and its journeys, no geometry: the page has it); a
      // popup fetches the rest
      getJson<{ rows: F.FlowRow[] }>('/api/flows', { ...ap, format: 'matrix', properties: 'journeys' }, 'flows'),
      getTable('/api/export', { ...hp, collection: 'hotspots' }, 'hotspots'),
      getJson<FC>('/api/hotspots', { ...hp, top: '20', sort: 'gi_z' }, 'top'),
      getJson<{ journeys: number | null }>('/api/trends', { ...ap, interval: 'month' }, 'trends'),
      weekly,
      // corridors only while their layer is on (off at first)
      ($('toggle-corridors') as HTMLInputElement).checked
        ? getJson<FC>('/api/corridors', { ...ap, top: '50' }, 'corridors')
        : Promise.resolve({ type: 'FeatureCollection', features: [] } as FC),
      // emerging categories only while that station style is on
      stationStyle === 'emerging' ? E.fetchEmerging(hp, emInterval) : Promise.resolve(null),
    ]);
    if (seq !== reloadSeq) return;
    performance.mark('reload-fetched');
    debug.timings.lastFetchMs = Math.round(performance.now() - start);
    await mapReady;
    // An older change's apply still running (it gives the worker tasks: see below) ends first,
    // so that two never interleave; this change is then applied only if still the newest.
    await applying;
    if (seq !== reloadSeq) return;
    applying = new Promise((r) => (applied = r));
    const applyStart = performance.now();
    // the track's sections (their ids; the counts go into them below): every section is a row
    // of the CSV, with or without journeys
    const rail = !data.rail.features.length;
    if (rail) data.rail = { type: 'FeatureCollection', features: (railRows.columns.get('section') ?? []).map((section) => ({ type: 'Feature', geometry: null as any, properties: { section } })) };
    if (stations) {
      data.hotspots = stations;
      L.setData(map, 'hotspots', stations);
    }
    // The stations' counts first: their names by count go to the worker as soon as they are
    // known, and it tiles them while the page applies the rest (the frame waits for those tiles).
    const counts = [L.applyCounts('hotspots', data.hotspots, hotspotRows)];
    flowRowsNow = flows.rows;
    flowCountsNow = F.flowCounts(flows.rows, flowCl!);
    // The flows' geometry goes once (every pair seen so far, at the levels sent: see
    // flowLevelsSent); a pair it lacks (a filter only narrows the journeys, so only after new
    // journeys or a first load that was filtered) sends it again.
    if (!flowGeo) flowLevelsSent = Math.max(flowLevelsSent, F.levelAt(map.getZoom()) + 1);
    const keys = F.missingKeys(flowGeo, flowCountsNow, flowLevelsSent);
    if (keys) {
      flowGeo = F.flowGeometry(flowCl!, keys);
      data.flows = flowGeo.fc;
      flowPushed.clear();
      L.setData(map, 'flows', flowGeo.fc);
    }
    // The station names by count (from the counts just read) go to the worker (the only source
    // re-sent on a filter change, and only when the names change); every count, colour and
    // size is feature state, pushed at once below; and the frames wait for the names' tiles, so
    // that one frame draws the whole change (see holdFrames).
    const geometrySent = !!(rail || stations || keys);
    if (!geometrySent) holdFrames(map, true);
    const namesSent = sendNames(map);
    // The worker lays the names out while the page applies the rest, if the page lets it: their
    // data goes to the worker only after this task's synchronous work, their tiles are asked for
    // in a task of this page once the worker answers that it holds the data, and each tile's
    // layout asks this page for its glyphs. So the page waits here for the worker's answer (a
    // few ms; the tiles asked for at once) and gives the worker's glyph requests a task below;
    // otherwise all of it waits for the end of the apply, and the frame 60–110 ms more.
    if (namesSent) await Promise.race([namesSent, new Promise((r) => setTimeout(r, 40))]);
    // An empty layer that stays empty is not sent again (a worker round trip and a repaint).
    if (corridors.features.length || data.corridors.features.length) L.setData(map, 'corridors', corridors);
    data.corridors = corridors;
    counts.push(L.applyCounts('forces', data.forces, forceRows), L.applyCounts('rail', data.rail, railRows));
    if (namesSent) await breathe();
    emerging = em;
    emergingKey = em ? emKey : '';
    // The routes drawn are the previous filter's: hidden in the frame that draws the change (they
    // would misstate the new filter, and at the national view their 19,000 tile features, 220,000
    // points, cost each full repaint about 0.3 s in software WebGL), and shown with the new
    // filter's tiles once the rest is drawn (routesFollow).
    if (tileset && J.hideStale(map, tileset, ap)) routesStale = true;
    // (the counts and the scaled measures gathered: one state push per feature)
    L.batched(map, () => {
      for (const push of counts) push(map);
      if (!T.active()) legend('forces', L.styleForces(map, data.forces, metric));
      legend('rail', L.styleRail(map, data.rail));
      styleStations(map, false);
    });
    if (namesSent) await breathe();
    // the flows of the level drawn at this zoom; the other levels' once the change is drawn
    styleFlowStates(map, F.levelAt(map.getZoom()));
    legend('corridors', L.styleCorridors(map, corridors));
    setFlowMinRange();
    P.renderHotspotTable(top, (f) => pickStation(map, f));
    if (weeks && timeline) {
      timelineKey = tKey;
      timeline.set(weeks.buckets, filters);
    } else timeline?.select(filters);
    debug.count = trends.journeys;
    $('count').textContent = trends.journeys == null ? `fewer than ${me?.disclosure_control.suppressed_below ?? 5} (suppressed)` : num(trends.journeys);
    const ignored = [...dropped];
    $('notice').hidden = !ignored.length;
    $('notice').textContent = ignored.length ? `Not taken by this server, so ignored: ${ignored.join(', ')}` : '';
    const sel = $('station');
    if (!sel.hidden && sel.dataset.crs) {
      const f = data.hotspots.features.find((x) => x.properties?.crs === sel.dataset.crs);
      if (f) P.showStation(f, ap, E.panelRows(emerging, sel.dataset.crs));
    }
    debug.timings.lastApplyMs = Math.round(performance.now() - applyStart);
    performance.mark('reload-applied');
    applied();
    if (!geometrySent) {
      if (namesSent) await tiled(map, 'top-names', namesSent, 800);
      // superseded meanwhile: the newer change draws (a frame now would only delay it)
      holdFrames(map, false, seq === reloadSeq);
      if (seq !== reloadSeq) return;
    }
    if (opts.fit && before != null && trends.journeys != null && trends.journeys < before) fitToFiltered(map);
    let idled: () => void = () => {};
    lastIdle = new Promise((r) => (idled = r));
    const onIdle = () => {
      // the first load's tiles are all in: now draw them, in one frame, and wait for it
      if (releaseDrawing()) {
        map.once('idle', onIdle);
        map.triggerRepaint();
        return;
      }
      if (seq !== reloadSeq) return idled();
      performance.mark('reload-idle');
      // the other flow levels' states, drawn with the routes' frames (none of them is in view)
      pushOtherFlowLevels(map);
      const ms = Math.round(performance.now() - start);
      const first = debug.timings.firstInteractiveMs == null;
      if (first) debug.timings.firstInteractiveMs = Math.round(performance.now() - t0);
      else debug.timings.lastRedrawMs = ms;
      debug.generation++;
      document.body.dataset.ready = '1';
      // The journeys' tiles for these filters once the rest is drawn: the aggregates first (a
      // national tile set of the journeys is about 1 MB that MapLibre's worker would tile
      // ahead of the flows and the names), the routes a moment later; never for a change
      // superseded meanwhile (each tile over a long period costs the server far more than the
      // other requests).
      const journeysNow = () => {
        if (seq !== reloadSeq || !tileset) {
          if (first && seq === reloadSeq) sendFlowLevels(map, F.FORCE_LEVEL);
          return idled();
        }
        routesFollow(map, tileset, ap, first ? t0 : start, first, seq).then(() => {
          // the flows' other levels below the force level, before the map zooms to them
          if (first && seq === reloadSeq) sendFlowLevels(map, F.FORCE_LEVEL);
          idled();
        });
      };
      if (tileset) journeysNow();
      else journeysReady.then(journeysNow);
    };
    map.once('idle', onIdle);
    map.triggerRepaint();
  } catch (e) {
    applied();
    if (releaseDrawing()) map.triggerRepaint();
    holdFrames(map, false);
    if (routesStale && seq === reloadSeq) routesFollow(map, tileset, null, start, false, -1);
    showError(e);
  }
}

/** A task's pause (a timer's, after the tasks already queued: the worker's messages). */
const breathe = () => new Promise<void>((r) => setTimeout(r, 0));

/** Sends the flows' geometry for the levels below `upTo` (with every pair seen so far) if the
 * map lacks some of them, and their feature state. */
function sendFlowLevels(map: maplibregl.Map, upTo: number) {
  if (upTo <= flowLevelsSent || !flowCl || !flowCountsNow) return;
  flowLevelsSent = upTo;
  const keys = F.missingKeys(flowGeo, flowCountsNow, flowLevelsSent);
  if (!keys) return;
  flowGeo = F.flowGeometry(flowCl, keys);
  data.flows = flowGeo.fc;
  flowPushed.clear();
  L.setData(map, 'flows', flowGeo.fc);
  styleFlowStates(map);
}

/** Whether the routes on the map are hidden as another filter's (reloadAll). */
let routesStale = false;
/** Draws the journeys' routes for the filters (`ap`; null: those the source has) once the rest
 * of a change is drawn: adds their source at the first load, points it at the filters' tiles and
 * shows the routes hidden as stale once the new tiles are all in (MapLibre replaces the tiles in
 * place, the old ones drawable until then). Resolves when the routes in view are drawn (the map
 * idle with their tiles in), then records the time from `since` (`firstJourneysMs` for the first
 * load, `lastJourneysMs` after a filter change); at once when no routes are to be drawn (layer
 * off, tiles unchanged). `seq` < 0: after a failed change (the routes the source has shown). */
function routesFollow(map: maplibregl.Map, ts: J.Tileset | null, ap: Record<string, string> | null, since: number, first: boolean, seq: number): Promise<void> {
  const on = ($('toggle-journeys') as HTMLInputElement).checked;
  let load = false;
  let reveal = false;
  if (ts && ap && !map.getSource(J.SOURCE)) {
    J.add(map, ts, ap, on, F.FLOW_LAYERS[0]?.id);
    load = on;
  } else if (ts && ap) load = J.setFilters(map, ts, ap) && on;
  if (routesStale) {
    routesStale = false;
    // (a layer turned off meanwhile loads the new tiles when it is turned on again: no old
    // routes to hide by then)
    if (on) reveal = load = true;
    else J.show(map, false);
  }
  if (!load) return Promise.resolve();
  const current = () => seq === reloadSeq || seq < 0;
  const record = () => {
    // (a newer change may have hidden them again meanwhile: it times its own)
    if (seq === reloadSeq) {
      const ms = Math.round(performance.now() - since);
      if (first) debug.timings.firstJourneysMs = ms;
      else debug.timings.lastJourneysMs = ms;
      debug.routesGeneration++;
    }
  };
  return new Promise((resolve) =>
    map.once('idle', () => {
      if (!reveal || !current()) {
        record();
        return resolve();
      }
      // every new tile in: now the routes, in one frame (after park: their tiles load now)
      J.show(map, true);
      map.once('idle', () => {
        record();
        resolve();
      });
      map.triggerRepaint();
    }),
  );
}

/** Station circles for the chosen size and hotspot measure (feature state already applied),
 * coloured by Gi* or the emerging pattern, and their names (re-sent unless `send` is false:
 * reloadAll has sent them). */
function styleStations(map: maplibregl.Map, send = true) {
  const field = L.sizeField(measure, filters.measure);
  const label = L.measureLabel(measure, filters.measure);
  if (stationStyle === 'emerging' && emerging) {
    E.applyEmerging(map, data.hotspots, emerging);
    E.paint(map);
    const m = L.styleStations(map, data.hotspots, field, false);
    legend('hotspots', E.legend(emerging) + L.sizeLegend(m, label));
  } else {
    E.unpaint(map, L.st);
    legend('hotspots', L.hotspotLegend(L.styleStations(map, data.hotspots, field), label));
  }
  if (send) sendNames(map);
}

/** Switches the station colour (and the emerging interval): fetches the emerging answer when
 * that style is on and the one held is for other filters. */
async function setStationStyle(map: maplibregl.Map) {
  toUrl(filters, viewParams());
  const hp = hotspotParams(filters);
  const key = JSON.stringify([hp, emInterval]);
  if (stationStyle === 'emerging' && emergingKey !== key) {
    try {
      const e = await E.fetchEmerging(hp, emInterval);
      if (JSON.stringify([hotspotParams(filters), emInterval]) !== key) return;
      emerging = e;
      emergingKey = key;
    } catch (e) {
      return showError(e);
    }
  }
  styleStations(map);
  const sel = $('station');
  const f = !sel.hidden && sel.dataset.crs ? data.hotspots.features.find((x) => x.properties?.crs === sel.dataset.crs) : undefined;
  if (f) P.showStation(f, apiParams(filters), E.panelRows(stationStyle === 'emerging' ? emerging : null, sel.dataset.crs!));
  await new Promise((r) => map.once('idle', r));
  debug.generation++;
}

/** The station names by count (at most 60 points, their own source): sent when they change;
 * returns, if they were, the promise that the worker holds them (its tiles then reloading). */
let namesKey = '';
function sendNames(map: maplibregl.Map): Promise<unknown> | null {
  // Names stay by journeys under the `count` size: by the measure (stops by default) they
  // spread over the country and crowd out the force names at the national view.
  const fc = N.topStationLabels(data.hotspots, measure === 'count' ? 'journeys' : measure);
  const key = JSON.stringify(fc.features.map((f) => f.properties?.crs));
  if (key === namesKey) return null;
  namesKey = key;
  // (a failure shows in the map's error event; the caller only waits for the answer)
  return (map.getSource('top-names') as maplibregl.GeoJSONSource).setData(fc as any).catch(() => {});
}

/** Resolves when the worker has tiled a source just sent (`sent`: setData's promise; then every
 * tile in view loaded), or after `cap` ms; at once when its layers are hidden (then it loads no
 * tiles). */
function tiled(map: maplibregl.Map, id: 'top-names', sent: Promise<unknown>, cap: number): Promise<void> {
  if (map.getLayoutProperty('station-labels-top', 'visibility') === 'none') return Promise.resolve();
  return new Promise((resolve) => {
    let finished = false;
    const done = () => {
      if (finished) return;
      finished = true;
      map.off('sourcedata', on);
      clearTimeout(timer);
      resolve();
    };
    // (before the worker's answer the source's tiles are the old names': not waited on)
    let answered = false;
    const on = (e: maplibregl.MapSourceDataEvent) => {
      if (answered && e.sourceId === id && e.tile && map.isSourceLoaded(id)) done();
    };
    const timer = setTimeout(done, cap);
    map.on('sourcedata', on);
    // the tiles may all be in already (laid out while the page applied the rest of the change)
    sent.then(() => {
      answered = true;
      if (map.isSourceLoaded(id)) done();
    });
  });
}

/** Holds MapLibre's frames (`on`) until released (`!on`), then draws one if any was asked for.
 * Each frame repaints the whole map (0.1–0.25 s in software WebGL on the test machine), and
 * MapLibre asks for one on every source event: a filter change drew one for the feature state,
 * one when the names' new data reached the worker and one per batch of their tiles, the first
 * ones showing half of the change. Tiles load without frames, so holding them while the names
 * are tiled leaves one frame to draw it all. */
let heldFrames: { trigger: () => void; wanted: boolean } | null = null;
/** Gives the map's drawing back after the first load (see holdDrawing); true if it was held. */
let releaseDrawing: () => boolean = () => false;
function holdFrames(map: maplibregl.Map, on: boolean, draw = true) {
  if (on && !heldFrames) {
    const trigger = map.triggerRepaint.bind(map);
    const held = { trigger, wanted: false };
    heldFrames = held;
    map.triggerRepaint = () => {
      held.wanted = true;
      return map;
    };
  } else if (!on && heldFrames) {
    const { trigger, wanted } = heldFrames;
    heldFrames = null;
    delete (map as any).triggerRepaint; // the prototype's again
    if (wanted && draw) trigger();
  }
}

/** The flows' feature state for this filter and view (width, arrow size, shown, highlight) and
 * their legend. */
function styleFlowStates(map: maplibregl.Map, level?: number) {
  if (!flowGeo || !flowCountsNow || !flowCl) return;
  flowStatesNow = F.flowStates(flowGeo, flowCountsNow, { ...flowView, force: hoverForce || flowView.force }, flowCl);
  pushFlowStates(map, level);
  flowLegendNow(map);
}
/** The levels whose flow states (flowStatesNow) are on the map, when not all are (see
 * pushFlowStates). */
let flowLevelsPushed: Set<number> | null = null;
/** Pushes the flows' states (flowStatesNow and the nodes' highlight) to the map: every level's,
 * or with `level` that level's alone. A filter change pushes the level drawn at its zoom (at the
 * national view 237 pairs of the 2,366 the map holds once zoomed to every level: each state
 * pushed costs in the push and in the next frame) and the others once it is drawn
 * (pushOtherFlowLevels), or before any frame draws them if the zoom reaches them first (the map's
 * `zoom` event). */
function pushFlowStates(map: maplibregl.Map, level?: number) {
  if (!flowGeo) return;
  F.pushStates(map, flowStatesNow, flowPushed, level, flowGeo);
  F.pushStates(map, nodeStates(), flowPushed, level, flowGeo);
  if (level === undefined) flowLevelsPushed = null;
  else (flowLevelsPushed ??= new Set()).add(level);
}
/** The flow levels a filter change left unpushed (pushFlowStates). */
function pushOtherFlowLevels(map: maplibregl.Map) {
  if (flowLevelsPushed) pushFlowStates(map);
}
/** The group nodes' highlight (the pairs' is in flowStatesNow). */
function nodeStates(): Map<number, Partial<F.FlowState>> {
  const hl = F.highlightStates(flowGeo!, { ...flowView, force: hoverForce || flowView.force }, flowCl!);
  return new Map([...hl].filter(([id]) => !flowGeo!.pairs.has(id)).map(([id, h]) => [id, { hl: h }]));
}
/** Colours the highlighted force's group's flows out and in (every level); the rest fade. */
function highlightFlows(map: maplibregl.Map) {
  if (!flowGeo || !flowCl) return;
  const hl = F.highlightStates(flowGeo, { ...flowView, force: hoverForce || flowView.force }, flowCl);
  for (const [id, h] of hl) {
    const s = flowStatesNow.get(id);
    if (s) s.hl = h;
  }
  F.pushStates(map, new Map([...hl].map(([id, h]) => [id, { hl: h }])), flowPushed);
}
let flowLegendKey = '';
/** The flows legend for the level drawn at this zoom (redrawn when the level changes). */
function flowLegendNow(map: maplibregl.Map, onlyIfLevelChanged = false) {
  if (!flowGeo || !flowCountsNow || !flowCl) return;
  const level = F.levelAt(map.getZoom());
  if (onlyIfLevelChanged && flowLegendKey === String(level)) return;
  flowLegendKey = String(level);
  legend('flows', F.flowLegend(flowCl, flowCountsNow, flowStatesNow, flowGeo, flowView, map.getZoom(), !!me?.disclosure_control.applied));
}
/** Force names and weights (the items' own imports and exports: which member names a group). */
const forceName = (code: string) => data.forces.features.find((f) => f.properties?.code === code)?.properties?.name ?? code;
const forceWeight = (code: string) => {
  const p = data.forces.features.find((f) => f.properties?.code === code)?.properties;
  return (Number(p?.imports) || 0) + (Number(p?.exports) || 0);
};

/** The minimum-count slider runs to the largest pair drawn at any level. */
function setFlowMinRange() {
  const el = $('flow-min') as HTMLInputElement;
  el.max = String(Math.max(1, ...(flowCountsNow?.max ?? []))); // step 1: any count can be the minimum (PageUp/PageDown move a tenth)
}

/** Zooms to the stations the filtered journeys start, end or pass at (their published counts:
 * for a viewer only stations with 5 or more). */
function fitToFiltered(map: maplibregl.Map) {
  let w = 180, s = 90, e = -180, n = -90;
  for (const f of data.hotspots.features) {
    if (!(Number(f.properties?.journeys) > 0)) continue;
    const [x, y] = (f.geometry as GeoJSON.Point).coordinates;
    (w = Math.min(w, x)), (e = Math.max(e, x)), (s = Math.min(s, y)), (n = Math.max(n, y));
  }
  if (w > e) return;
  // Only when the extent is out of view or fills under a quarter of it: a filter that keeps the
  // journeys all over the view does not move the map.
  const v = map.getBounds();
  const out = w < v.getWest() || e > v.getEast() || s < v.getSouth() || n > v.getNorth();
  const share = ((e - w) * (n - s)) / ((v.getEast() - v.getWest()) * (v.getNorth() - v.getSouth()));
  if (!out && share > 0.25) return;
  debug.fits++;
  if (routesStale) J.park(map);
  map.fitBounds([[w, s], [e, n]], { padding: 60, maxZoom: 11, duration: 600 });
}

/** The protective marking: the server's (`serve --marking`, in /api/whoami). */
const marking = () => me?.marking || B.DEFAULT_MARKING;

/** The briefing's facts from the page's current state. */
function briefingFacts(title: string, marking: string): B.Briefing {
  const parts: string[] = [];
  if (filters.age_band.length) parts.push(`age band ${filters.age_band.join(', ')}`);
  if (filters.role.length) parts.push(`role ${filters.role.join(', ')}`);
  if (filters.mode.length) parts.push(`mode ${filters.mode.join(', ')}`);
  if (filters.exporting_force) parts.push(`exporting force ${forceName(filters.exporting_force)}`);
  if (filters.line) parts.push(`line ${filters.line}`);
  const tl = debug.timeline?.buckets ?? [];
  const dates = filters.from || filters.to
    ? `${filters.from || 'the first journey'} to ${filters.to || 'the last journey'}`
    : tl.length ? `whole period, ${tl[0].period_start} to ${tl[tl.length - 1].period_end}` : 'whole period';
  const sup = me?.disclosure_control;
  const pal = B.LEGEND_COLORS;
  const metricColors = metric === 'net' ? pal.forces_net : metric === 'imports' ? pal.forces_imports : pal.forces_exports;
  const legendItems: B.LegendItem[] = [
    { kind: 'ramp', colors: metricColors, label: `Force areas: ${metric === 'net' ? 'net (exports − imports), blue imports more, red exports more' : metric}` },
    { kind: 'line', colors: [pal.flows.base], label: `Force-to-force flows: curves bend right, arrow to the destination, width by journeys; top ${flowView.top} pairs at the national view${flowView.min ? `, at least ${flowView.min} journeys` : ''}` },
    ...(flowCl && F.levelAt(debug.map!.getZoom()) < F.FORCE_LEVEL
      ? [{ kind: 'dot', colors: [pal.flows.base], label: `at this zoom forces are joined into ${flowCl.levels[F.levelAt(debug.map!.getZoom())].length} groups (dots); flows within a group are not drawn${me?.disclosure_control.applied ? '; group flows sum the published force-to-force counts' : ''}` } as B.LegendItem]
      : []),
  ];
  const hf = hoverForce || flowView.force;
  if (hf) {
    legendItems.push({ kind: 'line', colors: [pal.flows.out], label: `flows out of ${forceName(hf)}` });
    legendItems.push({ kind: 'line', colors: [pal.flows.in], label: `flows into ${forceName(hf)}` });
  }
  const sizeLabel = L.measureLabel(measure, filters.measure);
  if (stationStyle === 'emerging' && emerging) {
    for (const c of E.CLASSES) legendItems.push({ kind: 'dot', colors: [pal.emerging[c.id]], label: `stations ${c.label}: ${c.categories.join(', ')}` });
    legendItems.push({ kind: 'dot', colors: [pal.stations.insignificant], label: `emerging pattern by ${emInterval}; circle area by ${sizeLabel}` });
  } else
    legendItems.push(
      { kind: 'dot', colors: [pal.stations.hot], label: 'station hot spot (Gi* significant, z > 0)' },
      { kind: 'dot', colors: [pal.stations.cold], label: 'station cold spot (significant, z < 0)' },
      { kind: 'dot', colors: [pal.stations.insignificant], label: `not significant; circle area by ${sizeLabel}` },
    );
  legendItems.push({ kind: 'line', colors: ['#1a1a1a'], label: 'rail network, width by journeys per section' });
  if (me?.journeys !== 'none' && ($('toggle-journeys') as HTMLInputElement).checked)
    legendItems.push({ kind: 'line', colors: [J.COLOR], label: `journeys along their routes, width by the journeys per route${me?.journeys === 'btp_sourced' ? ' (BTP-sourced only)' : ''}` });
  return {
    title,
    marking,
    dates,
    filters: parts.length ? parts.join('; ') : 'none',
    author: me?.name ? `${me.name} (${me.role})` : 'open demo (no sign-in)',
    note: sup?.applied ? `Disclosure control: counts below ${sup.suppressed_below} are suppressed and the rest rounded to a multiple of ${sup.rounded_to_base}.` : '',
    count: debug.count == null ? 'journeys: suppressed' : `${num(debug.count)} journeys`,
    legend: legendItems,
    attribution: L.ATTRIBUTION,
  };
}

function pickStation(map: maplibregl.Map, f: GeoJSON.Feature) {
  const p = f.properties ?? {};
  map.setFilter('selected-station', ['==', ['get', 'crs'], p.crs]);
  document.querySelectorAll('#hotspots-body tr').forEach((tr) => tr.classList.toggle('on', (tr as HTMLElement).dataset.crs === p.crs));
  const full = data.hotspots.features.find((x) => x.properties?.crs === p.crs) ?? f;
  map.flyTo({ center: (f.geometry as GeoJSON.Point).coordinates as [number, number], zoom: 11, duration: 800 });
  P.showStation(full, apiParams(filters), E.panelRows(stationStyle === 'emerging' ? emerging : null, String(p.crs)));
}

async function main() {
  maplibregl.setWorkerUrl(workerUrl);
  // the form's words come from the server (its vocabularies), fetched beside the OpenAPI document
  const [, vocabulary] = await Promise.all([loadOpenApi(), fetch('/api/vocabulary').then((r) => (r.ok ? (r.json() as Promise<Vocabulary>) : Promise.reject(new Error(`/api/vocabulary: HTTP ${r.status}`))))]);
  setVocabulary(vocabulary);
  filters = known(filters);
  me = await A.establish();
  A.describe(me);
  P.allowPersons(me.person_summaries);
  $('signout').addEventListener('click', A.signOut);
  if (me.journeys === 'none') {
    const cb = $('toggle-journeys') as HTMLInputElement;
    cb.checked = false;
    cb.disabled = true;
    $('legend-journeys').textContent = 'not shown to the viewer role';
  } else {
    legend('journeys', J.legend(me.journeys === 'btp_sourced'));
  }
  // The journeys' tileset, read while the map loads (not for a viewer: no journeys source).
  const tilesetRead =
    me.journeys === 'none'
      ? null
      : J.fetchTileset().catch((e) => {
          showError(e);
          return null;
        });
  $('export').addEventListener('click', () => {
    const b = $('export');
    download(b.dataset.href!, {}, `linesmap-${b.dataset.collection}.geojson`).catch(showError);
  });
  const map = L.createMap('map');
  debug.map = map;
  debug.oneFrame = oneFramePerChange(map);
  // the style in (its sources can take data), not its first frame: that waits for the track's
  // tiles, and the force areas go to the worker meanwhile
  const loaded = new Promise<void>((r) => map.once('style.load', () => r()));
  // The first load is drawn in one frame, once every layer's tiles are in (see holdDrawing).
  releaseDrawing = holdDrawing(map);
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-right');

  let forces: FC;
  try {
    forces = await getJson<FC>('/collections/forces/items', { limit: '100' });
  } catch (e) {
    showError(e);
    return;
  }
  data.forces = forces;
  // The flows' groups of forces per zoom level, from the areas' anchor points (geography only).
  flowCl = F.clusterForces(new Map(forces.features.map((f) => [String(f.properties!.code), N.labelPoint(f.geometry)])));
  const form = bindForm(filters, forces.features.map((f) => ({ code: f.properties!.code, name: f.properties!.name })), (f) => {
    if (JSON.stringify(f) === JSON.stringify(filters)) return; // e.g. a second change event
    if (f.from && f.to && f.from > f.to) return showError('"From" is after "To": change one of them');
    filters = f;
    timeline?.stop();
    reloadAll(map, { fit: true });
  });

  const metricSel = $('metric') as HTMLSelectElement;
  metricSel.value = metric;
  metricSel.addEventListener('change', () => {
    metric = metricSel.value as L.ForceMetric;
    if (!T.active()) legend('forces', L.styleForces(map, data.forces, metric));
    toUrl(filters, viewParams());
  });
  const sizeSel = $('station-size') as HTMLSelectElement;
  sizeSel.value = measure;
  sizeSel.addEventListener('change', () => {
    measure = sizeSel.value as L.StationMeasure;
    styleStations(map);
    toUrl(filters, viewParams());
  });
  const colourSel = $('station-colour') as HTMLSelectElement;
  const intervalSel = $('emerging-interval') as HTMLSelectElement;
  colourSel.value = stationStyle;
  intervalSel.value = emInterval;
  intervalSel.hidden = stationStyle !== 'emerging';
  const styleChanged = () => {
    stationStyle = colourSel.value as E.StationStyle;
    emInterval = intervalSel.value as E.Interval;
    intervalSel.hidden = stationStyle !== 'emerging';
    void setStationStyle(map);
  };
  colourSel.addEventListener('change', styleChanged);
  intervalSel.addEventListener('change', styleChanged);

  // Flows: top N, minimum count, the highlighted force and direction.
  const flowInputs = { top: $('flow-top') as HTMLInputElement, min: $('flow-min') as HTMLInputElement, force: $('flow-force') as HTMLSelectElement, dir: $('flow-dir') as HTMLSelectElement };
  flowInputs.force.innerHTML += forces.features
    .map((f) => f.properties!)
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((p) => `<option value="${p.code}">${escapeHtml(p.name)}</option>`)
    .join('');
  flowInputs.top.value = String(flowView.top);
  flowInputs.min.value = String(flowView.min);
  flowInputs.force.value = flowView.force;
  flowInputs.dir.value = flowView.dir;
  const flowChanged = () => {
    flowView.top = Number(flowInputs.top.value);
    flowView.min = Number(flowInputs.min.value);
    flowView.force = flowInputs.force.value;
    flowView.dir = flowInputs.dir.value as F.FlowView['dir'];
    $('flow-top-out').textContent = String(flowView.top);
    $('flow-min-out').textContent = String(flowView.min);
    styleFlowStates(map);
    toUrl(filters, viewParams());
  };
  $('flow-top-out').textContent = String(flowView.top);
  $('flow-min-out').textContent = String(flowView.min);
  for (const el of Object.values(flowInputs)) el.addEventListener('input', flowChanged);
  // Hovering a force highlights its flows (in, out or both, as chosen); leaving restores the choice.
  map.on('mousemove', (e) => {
    // a group's node stands for its group (it may lie over a force outside it)
    const node = map.getLayoutProperty('flows-node', 'visibility') !== 'none' ? map.queryRenderedFeatures(e.point, { layers: ['flows-node'] })[0] : undefined;
    const code = node ? String(node.properties.members).split(',')[0] : String(map.queryRenderedFeatures(e.point, { layers: ['forces-fill'] })[0]?.properties?.code ?? '');
    T.hoverFromMap(code);
    if (code === hoverForce) return;
    hoverForce = code;
    highlightFlows(map);
  });
  map.getCanvas().addEventListener('mouseleave', () => {
    T.hoverFromMap('');
    hoverForce = '';
    highlightFlows(map);
  });

  // The timeline: a brush sets the dates; play steps the layers through the weeks.
  timeline = new Timeline(
    async (r) => {
      filters = { ...filters, from: r?.from ?? '', to: r?.to ?? '' };
      form.set(filters);
      await reloadAll(map);
    },
    () => lastIdle,
  );

  // The briefing.
  const dlg = $('briefing') as HTMLDialogElement;
  const status = (t: string) => ($('briefing-status').textContent = t);
  $('briefing-open').addEventListener('click', () => {
    const t = $('briefing-title') as HTMLInputElement;
    if (!t.value) t.value = 'County-lines journeys';
    // The server's protective marking (`serve --marking`), shown read-only: not the user's to weaken.
    ($('briefing-marking') as HTMLInputElement).value = marking();
    status('');
    dlg.showModal();
  });
  $('briefing-png').addEventListener('click', async () => {
    const title = ($('briefing-title') as HTMLInputElement).value.trim() || 'County-lines journeys';
    status('making the image…');
    try {
      const facts = briefingFacts(title, marking());
      debug.briefing = facts;
      B.save(await B.briefingPng(map, facts), `linesmap-briefing-${new Date().toISOString().slice(0, 10)}.png`);
      status('downloaded');
    } catch (e) {
      status((e as Error).message);
    }
  });
  $('briefing-csv').addEventListener('click', () => {
    const b = map.getBounds();
    const bbox = [Math.max(-180, b.getWest()), Math.max(-90, b.getSouth()), Math.min(180, b.getEast()), Math.min(90, b.getNorth())].map((v) => v.toFixed(5)).join(',');
    download('/api/export', { ...apiParams(filters), collection: 'hotspots', format: 'csv', bbox }, 'linesmap-view-stations.csv')
      .then(() => status('downloaded'))
      .catch((e) => status((e as Error).message));
  });

  for (const id of L.SOURCES) {
    const cb = $(`toggle-${id}`) as HTMLInputElement;
    cb.addEventListener('change', () => {
      L.setVisible(map, id, cb.checked);
      if (id === 'corridors' && cb.checked) reloadAll(map);
    });
  }
  $('station-close').addEventListener('click', () => {
    $('station').hidden = true;
    map.setFilter('selected-station', ['==', ['get', 'crs'], '']);
  });

  // the flows legend names the level drawn at the zoom; a level's geometry the map lacks is sent
  // when first needed
  // a level whose flow states wait (pushFlowStates) gets them before a frame draws it
  map.on('zoom', () => {
    const level = F.levelAt(map.getZoom());
    if (flowLevelsPushed && !flowLevelsPushed.has(level)) pushFlowStates(map, level);
  });
  map.on('zoomend', () => {
    sendFlowLevels(map, F.levelAt(map.getZoom()) + 1);
    flowLegendNow(map, true);
  });
  // The journeys' tiles follow the view by themselves; count when those in view have loaded.
  map.on('sourcedata', (e: maplibregl.MapSourceDataEvent) => {
    if (e.sourceId === J.SOURCE && e.tile && map.isSourceLoaded(J.SOURCE)) debug.journeysGeneration++;
  });
  // Map errors (MapLibre logs them only while nobody listens): a journeys tile refused for an
  // expired sign-in renews it, as the page's own requests do; the rest as before.
  map.on('error', (e: any) => {
    if (e.sourceId === J.SOURCE && e.error?.status === 401) return A.unauthorized();
    console.error(e.error ?? e);
    if (e.sourceId === J.SOURCE) showError(e.error ?? e);
  });

  const popup = new maplibregl.Popup({ maxWidth: '340px' });
  map.on('click', (e: maplibregl.MapMouseEvent) => {
    // Lines and small circles are hard to hit: look a few pixels around the click.
    const box: [maplibregl.PointLike, maplibregl.PointLike] = [[e.point.x - 4, e.point.y - 4], [e.point.x + 4, e.point.y + 4]];
    const hit = (layer: string) => (map.getLayer(layer) && map.getLayoutProperty(layer, 'visibility') !== 'none' && (layer !== J.LAYER || J.shown(map))
      ? map.queryRenderedFeatures(layer === 'forces-fill' ? e.point : box, { layers: [layer] })[0] : undefined);
    const st = hit('hotspots-circle');
    if (st) return pickStation(map, st);
    const co = hit('corridors-line');
    if (co) return popup.setLngLat(e.lngLat).setHTML(P.corridorPopup(co.properties)).addTo(map);
    const names = { name: forceName, weight: forceWeight };
    const published = !!me?.disclosure_control.applied;
    const node = hit('flows-node');
    if (node && flowCl && flowCountsNow) return popup.setLngLat(e.lngLat).setHTML(F.groupPopup(flowCl, flowCountsNow, node.properties.level, node.properties.group, names, published)).addTo(map);
    // the flows' layers hold every pair seen: those not shown are transparent (state `shown`)
    const fl = map.getLayoutProperty('flows-line', 'visibility') !== 'none' ? map.queryRenderedFeatures(box, { layers: ['flows-line'] }).find((f) => f.state?.shown === 1) : undefined;
    if (fl && (!fl.properties.origin_force || !fl.properties.destination_force) && flowCl && flowCountsNow)
      return popup.setLngLat(e.lngLat).setHTML(F.groupFlowPopup(flowCl, flowRowsNow, fl.properties.key, flowCountsNow, names, published)).addTo(map);
    if (fl) {
      // The map holds only what it draws of a flow: the popup's counts come with it.
      const p: Record<string, any> = { ...fl.properties, origin_name: forceName(fl.properties.origin_force), destination_name: forceName(fl.properties.destination_force) };
      popup.setLngLat(e.lngLat).setHTML(P.flowPopup(p, true)).addTo(map);
      getJson<{ rows: Record<string, any>[] }>('/api/flows', { ...apiParams(filters), origin_force: p.origin_force, destination_force: p.destination_force, format: 'matrix' }, 'flow-popup')
        .then((m) => popup.setHTML(P.flowPopup(m.rows[0] ?? p)))
        .catch(showError);
      return;
    }
    // the journeys are drawn under the flows and their group nodes: those take a click first
    const j = hit(J.LAYER);
    if (j) {
      // an aggregate (routes drawn as one at this zoom): how many follow it
      if (!J.isSingle(j.properties)) return popup.setLngLat(e.lngLat).setHTML(J.aggregatePopup(j.properties)).addTo(map);
      // a single journey: its tile feature has its id; the details come from the server
      const id = String(j.properties.id);
      popup.setLngLat(e.lngLat).setHTML('<div class="pop">loading…</div>').addTo(map);
      getJson<GeoJSON.Feature>(`/api/journeys/${encodeURIComponent(id)}`, {}, 'journey-popup')
        .then((f) => {
          const p = f.properties ?? {};
          popup.setHTML(P.journeyPopup(p));
          popup.getElement()?.querySelector<HTMLButtonElement>('button.show-persons')?.addEventListener('click', () => {
            P.showPersons(popup.getElement()!, String(p.report_id), A.reason, A.setReason);
          });
          popup.getElement()?.querySelector<HTMLButtonElement>('button.only-line')?.addEventListener('click', () => {
            filters = { ...filters, line: String(p.line_id) };
            form.set(filters);
            popup.remove();
            reloadAll(map, { fit: true });
          });
        })
        .catch(showError);
      return;
    }
    const fo = hit('forces-fill');
    if (fo) {
      popup.setLngLat(e.lngLat).setHTML(T.popupSection(fo.properties.code) + 'loading…').addTo(map);
      const props = data.forces.features.find((f) => f.properties?.code === fo.properties.code)?.properties ?? fo.properties;
      P.forcePopup(props, apiParams(filters), (html) => popup.setHTML(T.popupSection(fo.properties.code) + html));
    }
  });
  for (const l of ['hotspots-circle', J.LAYER, 'flows-line', 'flows-node', 'corridors-line']) {
    map.on('mouseenter', l, () => (map.getCanvas().style.cursor = 'pointer'));
    map.on('mouseleave', l, () => (map.getCanvas().style.cursor = ''));
  }

  // The first load's requests go out while the map loads its style and worker; the force areas
  // and their names (so the glyphs are fetched meanwhile too) as soon as it has.
  mapReady = loaded.then(() => {
    // The attribution starts folded (an ⓘ button) so it does not cover the map; the briefing prints it.
    document.querySelector('.maplibregl-ctrl-attrib')?.classList.remove('maplibregl-compact-show');
    L.setData(map, 'forces', forces);
    // ranked by the journeys the areas import and export (the items' own, unfiltered counts)
    (map.getSource('force-labels') as maplibregl.GeoJSONSource).setData(N.forceLabels(forces) as any);
    initIssue15(map, popup);
    // a shared link may open the treatment view or the people list (fetching their data: the
    // first reloadAll has asked before the map was ready, while they were closed)
    if (urlView === 'treatment' || (urlView === 'people' && me?.person_summaries)) openView(urlView);
  });
  // The journeys' tileset, once the map has loaded and it is read: reloadAll adds their source
  // (its layer under the flows) when the first load has drawn the rest, and points it at each
  // later filter.
  if (tilesetRead)
    journeysReady = Promise.all([loaded, tilesetRead])
      .then(([, ts]) => {
        if (ts) tileset = ts;
      })
      .catch(showError);
  await reloadAll(map);
}

/** Issue 15: the treatment view and the people list (one open at a time), their buttons and
 * what they do to the map. */
function openView(v: 'treatment' | 'people' | '', fetchNow = true) {
  const ap = fetchNow ? apiParams(filters) : undefined;
  if (v !== 'treatment' && T.active()) T.setOpen(false);
  if (v !== 'people' && PP.active()) PP.setOpen(false);
  if (v === 'treatment') {
    T.setOpen(true, ap);
    legend('forces', '<em>coloured by the treatment view (see its panel)</em>');
  }
  if (v === 'people') {
    $('station').hidden = true;
    PP.setOpen(true, ap);
  }
  toUrl(filters, viewParams());
}

function initIssue15(map: maplibregl.Map, popup: maplibregl.Popup) {
  T.setForces(data.forces.features.map((f) => String(f.properties?.code)));
  T.init(map, {
    // a force picked in the plot: fly to its area and open its popup (BTP has no area)
    select: (code) => {
      const f = data.forces.features.find((x) => x.properties?.code === code);
      if (!f) return;
      const at = N.labelPoint(f.geometry) as [number, number];
      let w = 180, s = 90, e = -180, n = -90;
      const visit = (c: any): void => {
        if (typeof c[0] === 'number') (w = Math.min(w, c[0])), (e = Math.max(e, c[0])), (s = Math.min(s, c[1])), (n = Math.max(n, c[1]));
        else c.forEach(visit);
      };
      visit((f.geometry as any).coordinates);
      map.fitBounds([[w, s], [e, n]], { padding: { top: 40, bottom: 130, left: 40, right: 480 }, maxZoom: 10, duration: 600 });
      popup.setLngLat(at).setHTML(T.popupSection(code) + 'loading…').addTo(map);
      P.forcePopup(f.properties!, apiParams(filters), (html) => popup.setHTML(T.popupSection(code) + html));
    },
    close: () => {
      legend('forces', L.styleForces(map, data.forces, metric));
      toUrl(filters, viewParams());
    },
    changed: () => toUrl(filters, viewParams()),
  });
  PP.init(map, { reason: A.reason, setReason: A.setReason, changed: () => toUrl(filters, viewParams()), forceName });
  $('treatment-open').addEventListener('click', () => openView(T.active() ? '' : 'treatment'));
  $('people-open').hidden = !me?.person_summaries;
  $('people-open').addEventListener('click', () => openView(PP.active() ? '' : 'people'));
}

main().catch((e) => {
  showError(e);
  $('error').textContent = `Failed to start: ${(e as Error).message}`;
});
