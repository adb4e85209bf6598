// Side panels and popups: journey count, hotspot table, station detail, journey and force popups.
import { getJson, isAbort, supports, type FC, type Params } from './api';
import { escapeHtml as h } from './filters';
import { num } from './format';

const $ = (id: string) => document.getElementById(id) as HTMLElement;
const fmt = (n: unknown) => (typeof n === 'number' ? num(n) : h(n ?? '–'));

export function renderHotspotTable(fc: FC, onPick: (f: GeoJSON.Feature) => void) {
  const body = $('hotspots-body');
  body.innerHTML = '';
  fc.features.forEach((f, i) => {
    const p = f.properties ?? {};
    const tr = document.createElement('tr');
    tr.dataset.crs = p.crs;
    tr.className = p.significant ? 'sig' : '';
    tr.innerHTML = `<td>${i + 1}</td><td>${h(p.name)} <small>${h(p.crs)}</small></td><td class="n">${fmt(p.journeys)}</td>
      <td class="n">${fmt(p.children)}</td><td class="n">${Number(p.gi_z).toFixed(1)}</td>`;
    tr.tabIndex = 0; // keyboard: Tab to a row, Enter or Space opens it
    tr.addEventListener('click', () => onPick(f));
    tr.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        onPick(f);
      }
    });
    body.appendChild(tr);
  });
  if (!fc.features.length) body.innerHTML = '<tr><td colspan="5"><em>no stations</em></td></tr>';
}

/** Weekly counts as a small SVG bar chart. */
function weeklyChart(buckets: { period_start: string; journeys: number; children: number }[]): string {
  if (!buckets.length) return '<em>no journeys</em>';
  const W = 300, H = 80;
  // Children (persons under 18) can outnumber journeys: one scale for both.
  const m = Math.max(1, ...buckets.map((b) => Math.max(n0(b.journeys), n0(b.children))));
  const bw = W / buckets.length;
  const bars = buckets
    .map((b, i) => {
      const y = H - (n0(b.journeys) / m) * H;
      return `<rect x="${i * bw}" y="${y}" width="${Math.max(bw - 0.3, 0.5)}" height="${H - y}" fill="#e66101"><title>${b.period_start}: ${b.journeys} journeys, ${b.children} children</title></rect>`;
    })
    .join('');
  const line = buckets.map((b, i) => `${(i + 0.5) * bw},${H - (n0(b.children) / m) * H}`).join(' ');
  return `<svg class="chart" viewBox="0 0 ${W} ${H}" preserveAspectRatio="none">${bars}<polyline points="${line}" fill="none" stroke="#7b3294" stroke-width="1.5" vector-effect="non-scaling-stroke"/></svg>
    <div class="ramp-l"><span>${h(buckets[0].period_start)}</span><span>max ${m} a week</span><span>${h(buckets[buckets.length - 1].period_start)}</span></div>
    <div class="key"><span class="dot journeys"></span>journeys <span class="dot children"></span>children</div>`;
}

/** The 7 x 24 clock of /api/clock (UK local time, Monday first): one cell per day and hour,
 * darker for more journeys (cells may be fractional: aoristic weights of time windows). */
function clockChart(c: { cells: (number | null)[][]; timed: number | null; untimed: number | null }): string {
  const days = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
  const m = Math.max(1e-9, ...c.cells.flat().map(n0));
  const cw = 12, ch = 10, left = 26, top = 10;
  const cells = c.cells
    .map((row, d) =>
      row
        .map((v, hr) => {
          const o = (n0(v) / m).toFixed(3);
          const label = `${days[d]} ${String(hr).padStart(2, '0')}:00–${String(hr).padStart(2, '0')}:59: ${v == null ? 'suppressed' : +n0(v).toFixed(2)}`;
          return `<rect x="${left + hr * cw}" y="${top + d * ch}" width="${cw - 1}" height="${ch - 1}" fill="#b2182b" fill-opacity="${o}" stroke="#ddd" stroke-width="0.5"><title>${label}</title></rect>`;
        })
        .join(''),
    )
    .join('');
  const dayLabels = days.map((d, i) => `<text x="0" y="${top + i * ch + 8}" font-size="8">${d}</text>`).join('');
  const hourLabels = [0, 6, 12, 18].map((hr) => `<text x="${left + hr * cw}" y="8" font-size="8">${hr}:00</text>`).join('');
  const W = left + 24 * cw, H = top + 7 * ch;
  return `<svg class="clock" viewBox="0 0 ${W} ${H}">${dayLabels}${hourLabels}${cells}</svg>
    <div class="ramp-l"><span>${fmt(c.timed)} journeys with a time, ${fmt(c.untimed)} without</span><span>darkest ${+m.toFixed(2)}</span></div>`;
}

/** A count that disclosure control may have suppressed (null) as a number for drawing. */
const n0 = (x: unknown) => (typeof x === 'number' ? x : 0);

/** What the reports of the journeys here carried, summed over the flow rows. */
function seizureLine(rows: any[]): string {
  const sum = (k: string) => rows.reduce((s: number, r: any) => s + n0(r[k]), 0);
  return `<div>seized on ${fmt(sum('seizure_journeys'))} journeys: ${fmt(sum('drug_seizures'))} drug seizures
    (class A ${fmt(sum('drugs_class_a'))}, ${fmt(sum('wraps'))} wraps), ${fmt(sum('weapons'))} weapons, ${fmt(sum('phones'))} phones;
    ${fmt(sum('graded'))} graded</div>`;
}

/** `extra`: more rows of the station's table (the emerging pattern while that style is on). */
export async function showStation(f: GeoJSON.Feature, filters: Params, extra = '') {
  const p = f.properties ?? {};
  const panel = $('station');
  panel.hidden = false;
  panel.dataset.crs = p.crs;
  $('station-body').innerHTML = `<h3>${h(p.name)} <small>${h(p.crs)}</small></h3>
    <table class="kv">
      <tr><th>journeys</th><td>${fmt(p.journeys)}</td><th>children</th><td>${fmt(p.children)}</td></tr>
      <tr><th>starts / ends / passes</th><td colspan="3">${fmt(p.starts)} / ${fmt(p.ends)} / ${fmt(p.passes)}</td></tr>
      <tr><th>persons</th><td>${fmt(p.persons)}</td><th>per million</th><td>${fmt(p.rate_per_million)}</td></tr>
      <tr><th>Gi* z</th><td>${Number(p.gi_z).toFixed(2)}</td><th>significant</th><td>${p.significant ? 'yes' : 'no'}</td></tr>${extra}
    </table>
    <h4>Weekly journeys here</h4><div id="station-weekly">loading…</div>
    <h4>Forces the journeys came from</h4><div id="station-origins">loading…</div>
    <h4>When people stop here (UK local time)</h4><div id="station-clock">loading…</div>`;
  const crs = String(p.crs);
  void stationClock(panel, crs, filters);
  const stationOk = supports('/api/trends', 'station') && supports('/api/flows', 'station');
  if (!stationOk) {
    const msg = '<em>this server does not take the <code>station</code> filter yet</em>';
    $('station-weekly').innerHTML = msg;
    $('station-origins').innerHTML = msg;
    return;
  }
  const q = { ...filters, station: crs };
  try {
    const [trends, matrix] = await Promise.all([
      getJson('/api/trends', { ...q, interval: 'week' }, 'station-trends'),
      getJson('/api/flows', { ...q, format: 'matrix' }, 'station-flows'),
    ]);
    if (panel.dataset.crs !== crs) return;
    $('station-weekly').innerHTML =
      `<div>${fmt(trends.journeys)} journeys, ${fmt(trends.buckets.reduce((s: number, b: any) => s + n0(b.children), 0))} children</div>` +
      weeklyChart(trends.buckets) +
      seizureLine(matrix.rows);
    const by = new Map<string, { name: string; journeys: number; children: number }>();
    for (const r of matrix.rows) {
      const e = by.get(r.origin_force) ?? { name: r.origin_name, journeys: 0, children: 0 };
      e.journeys += n0(r.journeys);
      e.children += n0(r.children);
      by.set(r.origin_force, e);
    }
    const rows = [...by.values()].sort((a, b) => b.journeys - a.journeys).slice(0, 10);
    $('station-origins').innerHTML = rows.length
      ? `<table class="list"><tr><th>origin force</th><th>journeys</th><th>children</th></tr>${rows
          .map((r) => `<tr><td>${h(r.name)}</td><td class="n">${fmt(r.journeys)}</td><td class="n">${fmt(r.children)}</td></tr>`)
          .join('')}</table>`
      : '<em>none</em>';
  } catch (e) {
    if (isAbort(e)) return;
    $('station-weekly').innerHTML = `<span class="err">${h((e as Error).message)}</span>`;
    $('station-origins').innerHTML = '';
  }
}

/** The station's clock: the journeys with a known stop there by local day and hour. */
async function stationClock(panel: HTMLElement, crs: string, filters: Params) {
  const box = $('station-clock');
  if (!supports('/api/clock', 'station')) {
    box.innerHTML = '<em>this server has no clock yet</em>';
    return;
  }
  try {
    const c = await getJson('/api/clock', { ...filters, station: crs, measure: 'stops' }, 'station-clock');
    if (panel.dataset.crs !== crs) return;
    box.innerHTML = clockChart(c);
  } catch (e) {
    if (isAbort(e)) return;
    box.innerHTML = `<span class="err">${h((e as Error).message)}</span>`;
  }
}

export function journeyPopup(p: Record<string, any>): string {
  let forces = p.forces;
  if (typeof forces === 'string') forces = JSON.parse(forces); // MapLibre stringifies nested properties
  const crossed = (forces ?? []).map((x: any) => `${h(x.name)} (${(x.distance_m / 1000).toFixed(0)} km)`).join(' → ');
  return `<div class="pop"><b>${h(p.report_id)}</b> <span class="syn">SYNTHETIC</span>
    <table class="kv"><tr><th>date</th><td>${h(p.date)}</td></tr><tr><th>mode</th><td>${h(p.mode)}</td></tr>
    <tr><th>from</th><td>${h(p.origin_station ?? 'point')}</td></tr><tr><th>to</th><td>${h(p.destination_station ?? 'point')}</td></tr>
    <tr><th>line</th><td>${p.line_id ? `${h(p.line_name ?? p.line_id)} <button class="only-line" title="filter to this line">only this line</button>` : '–'}</td></tr>
    <tr><th>forces crossed</th><td>${crossed || '–'}</td></tr>
    <tr><th>persons</th><td>${fmt(p.persons)}</td></tr><tr><th>children</th><td>${fmt(p.children)}</td></tr></table>
    ${personsAllowed ? '<div class="persons"><button class="show-persons" title="opens person-level detail; recorded in the audit log">persons (audited)</button></div>' : ''}</div>`;
}

let personsAllowed = false;
/** Whether the signed-in role may open person summaries. */
export function allowPersons(on: boolean) {
  personsAllowed = on;
}

/** Fills a journey popup's persons block: asks for a reason for access if none was given,
 * then fetches the journey with its (pseudonymised) persons summary. */
export async function showPersons(root: HTMLElement, reportId: string, reason: () => string, setReason: (r: string) => void) {
  const box = root.querySelector<HTMLElement>('.persons');
  if (!box) return;
  if (!reason()) {
    box.innerHTML = `<form class="why"><label>Reason for access (audited) <input name="why" maxlength="500" required /></label><button>open</button></form>`;
    box.querySelector('form')!.addEventListener('submit', (e) => {
      e.preventDefault();
      setReason((box.querySelector('input') as HTMLInputElement).value);
      if (reason()) showPersons(root, reportId, reason, setReason);
    });
    return;
  }
  box.textContent = 'loading…';
  try {
    const f = await getJson(`/api/journeys/${encodeURIComponent(reportId)}`, { persons: 'true' }, 'persons', { 'X-Justification': reason() });
    const ps: any[] = f.properties?.persons_summary ?? [];
    box.innerHTML = ps.length
      ? `<table class="persons"><tr><th>pseudonym</th><th>age</th><th>roles</th><th>victim</th><th>NRM</th><th>safeguarding</th></tr>${ps
          .map((x) => `<tr><td>${h(x.pseudonym)}</td><td>${h(x.age_band)}</td><td>${h((x.roles ?? []).join(', '))}</td><td>${h(x.victim_status)}</td><td>${x.nrm_referred ? 'yes' : 'no'}</td><td>${x.safeguarding_referred ? 'yes' : 'no'}</td></tr>`)
          .join('')}</table>`
      : '<em>no persons recorded</em>';
  } catch (e) {
    if (!isAbort(e)) box.innerHTML = `<span class="err">${h((e as Error).message)}</span>`;
  }
}

export function flowPopup(p: Record<string, any>, loading = false): string {
  if (loading) return `<div class="pop"><b>${h(p.origin_name)} → ${h(p.destination_name)}</b><p>loading…</p></div>`;
  return `<div class="pop"><b>${h(p.origin_name)} → ${h(p.destination_name)}</b>
    <table class="kv"><tr><th>journeys</th><td>${fmt(p.journeys)}</td></tr><tr><th>by rail</th><td>${fmt(p.rail_journeys)}</td></tr>
    <tr><th>lines</th><td>${fmt(p.lines)}</td></tr><tr><th>return runs</th><td>${fmt(p.return_runs)}</td></tr>
    <tr><th>BTP reported / joint</th><td>${fmt(p.btp_reported)} / ${fmt(p.btp_joint)}</td></tr>
    <tr><th>persons</th><td>${fmt(p.persons)}</td></tr><tr><th>children</th><td>${fmt(p.children)}</td></tr></table></div>`;
}

/** Corridor popup: hub → market station by line direction, with the via stations used. */
export function corridorPopup(p: Record<string, any>): string {
  // MapLibre hands nested properties over as JSON text
  const parse = (v: any) => (typeof v === 'string' ? JSON.parse(v) : v ?? []);
  const via = parse(p.via) as { station: string; name: string; journeys: number | null; share: number }[];
  const forces = parse(p.forces) as string[];
  const km = p.distance_m == null ? '–' : `${Math.round(p.distance_m / 1000)} km`;
  return `<div class="pop"><b>${h(p.hub_name)} → ${h(p.market_name)}</b>
    <table class="kv"><tr><th>journeys</th><td>${fmt(p.journeys)}</td></tr><tr><th>lines</th><td>${fmt(p.lines)}</td></tr>
    <tr><th>children</th><td>${fmt(p.children)}</td></tr><tr><th>return runs</th><td>${fmt(p.return_runs)}</td></tr>
    <tr><th>seizures</th><td>${fmt(p.seizure_journeys)}</td></tr><tr><th>by rail</th><td>${km}, ${forces.length} forces</td></tr></table>
    ${via.length ? `<h4>Via</h4><table class="list">${via.slice(0, 5).map((v) => `<tr><td>${h(v.name)}</td><td class="n">${Math.round(v.share * 100)} %</td></tr>`).join('')}</table>` : ''}</div>`;
}

/** Force popup: imports, exports, net and its top corridors in and out (cross-border flows). */
export async function forcePopup(p: Record<string, any>, filters: Params, set: (html: string) => void) {
  const head = `<div class="pop"><b>${h(p.name)}</b> <small>${h(p.code)}</small>
    <table class="kv"><tr><th>imports</th><td>${fmt(p.imports)}</td></tr><tr><th>exports</th><td>${fmt(p.exports)}</td></tr>
    <tr><th>net</th><td>${fmt(p.net)}</td></tr></table>`;
  set(head + '<h4>Top flows in</h4>loading…</div>');
  try {
    // The whole matrix (at most 45 × 45 rows, cached by the server per filter) gives both directions.
    const m = await getJson('/api/flows', { ...filters, format: 'matrix' }, 'force-flows');
    const cross = m.rows.filter((r: any) => r.origin_force !== r.destination_force);
    const top = (rows: any[], name: (r: any) => string) =>
      rows.length
        ? `<table class="list">${rows
            .sort((a, b) => b.journeys - a.journeys)
            .slice(0, 8)
            .map((r) => `<tr><td>${h(name(r))}</td><td class="n">${fmt(r.journeys)}</td><td class="n">${fmt(r.children)} ch.</td></tr>`)
            .join('')}</table>`
        : '<em>none</em>';
    set(
      head +
        '<h4>Top flows in (from)</h4>' +
        top(cross.filter((r: any) => r.destination_force === p.code), (r) => r.origin_name) +
        '<h4>Top flows out (to)</h4>' +
        top(cross.filter((r: any) => r.origin_force === p.code), (r) => r.destination_name) +
        '</div>',
    );
  } catch (e) {
    if (!isAbort(e)) set(head + `<span class="err">${h((e as Error).message)}</span></div>`);
  }
}
