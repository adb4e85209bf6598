import 'maplibre-gl/dist/maplibre-gl.css';
import './style.css';
import * as maplibregl from 'maplibre-gl';
// MapLibre 6 loads its worker from a separate module: let Vite emit it as an asset.
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url';
import { download, dropped, getCsv, getJson, isAbort, loadOpenApi, onProgress, url, type FC } from './api';
import * as A from './auth';
import { apiParams, bindForm, fromUrl, hotspotParams, toUrl, type Filters } from './filters';
import * as L from './layers';
import * as P from './panels';

const t0 = performance.now();
const $ = (id: string) => document.getElementById(id) as HTMLElement;

let filters: Filters = fromUrl();
let me: A.Me | null = null;
const urlMetric = new URLSearchParams(location.search).get('metric') ?? '';
let metric: L.ForceMetric = ['imports', 'exports'].includes(urlMetric) ? (urlMetric as L.ForceMetric) : 'net';
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
  journeysGeneration: 0,
  timings: { firstInteractiveMs: null as number | null, lastRedrawMs: null as number | null, lastFetchMs: null as number | null, lastApplyMs: null as number | null },
  errors: [] as string[],
  /** Features of a source as the map holds them in the current view. */
  rendered: (id: L.SourceId) => debug.map!.querySourceFeatures(id).length,
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
async function reloadAll(map: maplibregl.Map) {
  const seq = ++reloadSeq;
  const start = performance.now();
  performance.mark('reload-start');
  $('error').hidden = true;
  dropped.clear();
  toUrl(filters, metric === 'net' ? {} : { metric });
  const ap = apiParams(filters);
  const hp = hotspotParams(filters);
  // A viewer may not export journeys: its export is the station layer it sees.
  const exportCollection = me?.journeys === 'none' ? 'hotspots' : 'journeys';
  $('export').dataset.href = url('/api/export', { collection: exportCollection, format: 'geojson', ...ap });
  $('export').dataset.collection = exportCollection;
  try {
    // Geometry of forces and track once; their filtered counts as CSV (a few KB, no geometry).
    // Stations likewise: their points once, each filter's counts and Gi* as CSV feature state.
    const railGeometry = data.rail.features.length ? null : getJson<FC>('/collections/rail/items', { limit: '10000' });
    const stationGeometry = data.hotspots.features.length ? null : getJson<FC>('/collections/stations/items', { limit: '10000' });
    const [forceRows, railRows, rail, stations, flows, hotspotRows, top, trends] = await Promise.all([
      getCsv('/api/export', { ...ap, collection: 'forces' }, 'forces'),
      getCsv('/api/export', { ...ap, collection: 'rail' }, 'rail'),
      railGeometry,
      stationGeometry,
      getJson<FC>('/api/flows', ap, 'flows'),
      getCsv('/api/export', { ...hp, collection: 'hotspots' }, 'hotspots'),
      getJson<FC>('/api/hotspots', { ...hp, top: '20', sort: 'gi_z' }, 'top'),
      getJson<{ journeys: number | null }>('/api/trends', { ...ap, interval: 'month' }, 'trends'),
      loadJourneys(map),
    ]);
    if (seq !== reloadSeq) return;
    performance.mark('reload-fetched');
    debug.timings.lastFetchMs = Math.round(performance.now() - start);
    const applyStart = performance.now();
    if (rail) {
      data.rail = rail;
      L.setData(map, 'rail', rail);
    }
    if (stations) {
      data.hotspots = stations;
      L.setData(map, 'hotspots', stations);
    }
    data.flows = flows;
    L.setData(map, 'flows', flows);
    L.applyCounts(map, 'forces', data.forces, forceRows);
    L.applyCounts(map, 'rail', data.rail, railRows);
    L.applyCounts(map, 'hotspots', data.hotspots, hotspotRows);
    legend('forces', L.styleForces(map, data.forces, metric));
    legend('rail', L.styleRail(map, data.rail));
    legend('flows', L.styleFlows(map, flows));
    legend('hotspots', L.hotspotLegend(data.hotspots));
    P.renderHotspotTable(top, (f) => pickStation(map, f));
    debug.count = trends.journeys;
    $('count').textContent = trends.journeys == null ? `fewer than ${me?.disclosure_control.suppressed_below ?? 5} (suppressed)` : trends.journeys.toLocaleString('en-GB');
    const ignored = [...dropped];
    $('notice').hidden = !ignored.length;
    $('notice').textContent = ignored.length ? `Not taken by this server, so ignored: ${ignored.join(', ')}` : '';
    const sel = $('station');
    if (!sel.hidden && sel.dataset.crs) {
      const f = data.hotspots.features.find((x) => x.properties?.crs === sel.dataset.crs);
      if (f) P.showStation(f, ap);
    }
    debug.timings.lastApplyMs = Math.round(performance.now() - applyStart);
    performance.mark('reload-applied');
    map.once('idle', () => {
      if (seq !== reloadSeq) return;
      performance.mark('reload-idle');
      const ms = Math.round(performance.now() - start);
      if (debug.timings.firstInteractiveMs == null) debug.timings.firstInteractiveMs = Math.round(performance.now() - t0);
      else debug.timings.lastRedrawMs = ms;
      debug.generation++;
      document.body.dataset.ready = '1';
    });
    map.triggerRepaint();
  } catch (e) {
    showError(e);
  }
}

let journeysSeq = 0;
async function loadJourneys(map: maplibregl.Map) {
  const seq = ++journeysSeq;
  const on = ($('toggle-journeys') as HTMLInputElement).checked;
  const z = map.getZoom();
  let fc: FC = { type: 'FeatureCollection', features: [] };
  try {
    if (on && z >= L.JOURNEY_MINZOOM && me?.journeys !== 'none') {
      const b = map.getBounds();
      const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(5)).join(',');
      fc = await getJson<FC>('/api/journeys', { ...apiParams(filters), bbox, limit: String(L.JOURNEY_LIMIT) }, 'journeys');
    }
    if (seq !== journeysSeq) return;
    // An empty layer that stays empty is not sent again: each setData costs a worker round trip and a repaint.
    if (fc.features.length || data.journeys.features.length) L.setData(map, 'journeys', fc);
    data.journeys = fc;
    if (me?.journeys !== 'none') legend('journeys', L.journeyLegend(z, fc.features.length, fc.numberMatched) + (me?.journeys === 'btp_sourced' ? '<div>BTP-sourced journeys only</div>' : ''));
    debug.journeysGeneration++;
  } catch (e) {
    showError(e);
  }
}

function pickStation(map: maplibregl.Map, f: GeoJSON.Feature) {
  const p = f.properties ?? {};
  map.setFilter('selected-station', ['==', ['get', 'crs'], p.crs]);
  document.querySelectorAll('#hotspots-body tr').forEach((tr) => tr.classList.toggle('on', (tr as HTMLElement).dataset.crs === p.crs));
  const full = data.hotspots.features.find((x) => x.properties?.crs === p.crs) ?? f;
  map.flyTo({ center: (f.geometry as GeoJSON.Point).coordinates as [number, number], zoom: 11, duration: 800 });
  P.showStation(full, apiParams(filters));
}

async function main() {
  maplibregl.setWorkerUrl(workerUrl);
  await loadOpenApi();
  me = await A.establish();
  A.describe(me);
  P.allowPersons(me.person_summaries);
  $('signout').addEventListener('click', A.signOut);
  if (me.journeys === 'none') {
    const cb = $('toggle-journeys') as HTMLInputElement;
    cb.checked = false;
    cb.disabled = true;
    $('legend-journeys').textContent = 'not shown to the viewer role';
  }
  $('export').addEventListener('click', () => {
    const b = $('export');
    download(b.dataset.href!, {}, `linesmap-${b.dataset.collection}.geojson`).catch(showError);
  });
  const map = L.createMap('map');
  debug.map = map;
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
  const form = bindForm(filters, forces.features.map((f) => ({ code: f.properties!.code, name: f.properties!.name })), (f) => {
    if (JSON.stringify(f) === JSON.stringify(filters)) return; // e.g. a second change event
    filters = f;
    reloadAll(map);
  });

  const metricSel = $('metric') as HTMLSelectElement;
  metricSel.value = metric;
  metricSel.addEventListener('change', () => {
    metric = metricSel.value as L.ForceMetric;
    legend('forces', L.styleForces(map, data.forces, metric));
    toUrl(filters, metric === 'net' ? {} : { metric });
  });

  for (const id of L.SOURCES) {
    const cb = $(`toggle-${id}`) as HTMLInputElement;
    cb.addEventListener('change', () => {
      L.setVisible(map, id, cb.checked);
      if (id === 'journeys') loadJourneys(map);
    });
  }
  $('station-close').addEventListener('click', () => {
    $('station').hidden = true;
    map.setFilter('selected-station', ['==', ['get', 'crs'], '']);
  });

  let moveTimer: number | undefined;
  map.on('moveend', () => {
    clearTimeout(moveTimer);
    moveTimer = window.setTimeout(() => loadJourneys(map), 250);
  });

  const popup = new maplibregl.Popup({ maxWidth: '340px' });
  map.on('click', (e: maplibregl.MapMouseEvent) => {
    // Lines and small circles are hard to hit: look a few pixels around the click.
    const box: [maplibregl.PointLike, maplibregl.PointLike] = [[e.point.x - 4, e.point.y - 4], [e.point.x + 4, e.point.y + 4]];
    const hit = (layer: string) => (map.getLayer(layer) && map.getLayoutProperty(layer, 'visibility') !== 'none'
      ? map.queryRenderedFeatures(layer === 'forces-fill' ? e.point : box, { layers: [layer] })[0] : undefined);
    const st = hit('hotspots-circle');
    if (st) return pickStation(map, st);
    const j = hit('journeys-line');
    if (j) {
      popup.setLngLat(e.lngLat).setHTML(P.journeyPopup(j.properties)).addTo(map);
      popup.getElement()?.querySelector<HTMLButtonElement>('button.show-persons')?.addEventListener('click', () => {
        P.showPersons(popup.getElement()!, String(j.properties.report_id), A.reason, A.setReason);
      });
      popup.getElement()?.querySelector<HTMLButtonElement>('button.only-line')?.addEventListener('click', () => {
        filters = { ...filters, line: String(j.properties.line_id) };
        form.set(filters);
        popup.remove();
        reloadAll(map);
      });
      return;
    }
    const fl = hit('flows-line');
    if (fl) return popup.setLngLat(e.lngLat).setHTML(P.flowPopup(fl.properties)).addTo(map);
    const fo = hit('forces-fill');
    if (fo) {
      popup.setLngLat(e.lngLat).setHTML('loading…').addTo(map);
      const props = data.forces.features.find((f) => f.properties?.code === fo.properties.code)?.properties ?? fo.properties;
      P.forcePopup(props, apiParams(filters), (html) => popup.setHTML(html));
    }
  });
  for (const l of ['hotspots-circle', 'journeys-line', 'flows-line']) {
    map.on('mouseenter', l, () => (map.getCanvas().style.cursor = 'pointer'));
    map.on('mouseleave', l, () => (map.getCanvas().style.cursor = ''));
  }

  if (!map.loaded()) await new Promise((r) => map.once('load', r));
  L.setData(map, 'forces', forces);
  await reloadAll(map);
}

main().catch((e) => {
  showError(e);
  $('error').textContent = `Failed to start: ${(e as Error).message}`;
});
