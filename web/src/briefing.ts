// "Export briefing": the current view as a PNG that stands on its own (title, date range,
// filters, legend, scale bar, north arrow, attribution, who made it and when, the protective
// marking at top and bottom, the disclosure note for viewers), with the same facts in the PNG's
// text chunks (iTXt: Title, Author, Description, Protective marking, Disclaimer, Creation Time)
// so a records system can read them; and the view's station table as CSV (server-side, with
// disclosure control and audit, like every export).
import type * as maplibregl from 'maplibre-gl';
import PAL from './palette.json';

export const DEFAULT_MARKING = 'OFFICIAL-SENSITIVE';

export interface LegendItem { kind: 'dot' | 'line' | 'ramp' | 'text'; colors?: string[]; label: string }
export interface Briefing {
  title: string;
  marking: string;
  dates: string;
  filters: string;
  author: string;
  note: string; // disclosure note ('' for roles without disclosure control)
  count: string;
  legend: LegendItem[];
  attribution: string;
}

/** Metres a CSS pixel at the map's centre (Web Mercator, 512 px tiles). */
export function metresPerPixel(lat: number, zoom: number): number {
  return (40075016.686 * Math.cos((lat * Math.PI) / 180)) / (512 * 2 ** zoom);
}

/** A round length (1, 2 or 5 × 10^k metres) at most `maxM`. */
export function roundLength(maxM: number): number {
  const p = 10 ** Math.floor(Math.log10(maxM));
  return [5, 2, 1].map((k) => k * p).find((v) => v <= maxM) ?? p;
}

/** The map canvas as it is drawn (read inside a render, when the drawing buffer is valid). */
function mapImage(map: maplibregl.Map): Promise<HTMLCanvasElement> {
  return new Promise((resolve) => {
    map.once('render', () => {
      const src = map.getCanvas();
      const c = document.createElement('canvas');
      c.width = src.width;
      c.height = src.height;
      c.getContext('2d')!.drawImage(src, 0, 0);
      resolve(c);
    });
    map.triggerRepaint();
  });
}

function wrap(ctx: CanvasRenderingContext2D, text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const w of text.split(/\s+/)) {
    const t = line ? `${line} ${w}` : w;
    if (ctx.measureText(t).width > width && line) (lines.push(line), (line = w));
    else line = t;
  }
  if (line) lines.push(line);
  return lines;
}

/** Composes the briefing image. */
export async function compose(map: maplibregl.Map, b: Briefing): Promise<HTMLCanvasElement> {
  await Promise.all(['400 14px "Noto Sans"', '700 14px "Noto Sans"'].map((f) => document.fonts.load(f).catch(() => null)));
  const img = await mapImage(map);
  const dpr = img.width / map.getCanvas().clientWidth;
  const mapW = img.width / dpr, mapH = img.height / dpr;
  const M = 24, LEG = 300, HEAD = 118, FOOT = 92;
  const W = Math.round(M + mapW + M + LEG + M), H = Math.round(HEAD + mapH + FOOT);
  const c = document.createElement('canvas');
  c.width = W * dpr;
  c.height = H * dpr;
  const ctx = c.getContext('2d')!;
  ctx.scale(dpr, dpr);
  const font = (px: number, bold = false) => `${bold ? 700 : 400} ${px}px "Noto Sans", sans-serif`;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, W, H);
  // Protective marking, top and bottom, centred.
  const marking = (y: number) => {
    ctx.font = font(16, true);
    ctx.fillStyle = '#000';
    ctx.textAlign = 'center';
    ctx.fillText(b.marking, W / 2, y);
    ctx.textAlign = 'left';
  };
  marking(22);
  marking(H - 10);
  ctx.fillStyle = '#111';
  ctx.font = font(22, true);
  ctx.fillText(b.title, M, 54);
  ctx.font = font(13);
  ctx.fillStyle = '#333';
  ctx.fillText(`${b.dates} · ${b.count}`, M, 76);
  const fl = wrap(ctx, `Filters: ${b.filters}`, W - 2 * M);
  fl.slice(0, 2).forEach((l, i) => ctx.fillText(l, M, 94 + i * 16));
  // The map, framed.
  ctx.drawImage(img, M, HEAD, mapW, mapH);
  ctx.strokeStyle = '#444';
  ctx.lineWidth = 1;
  ctx.strokeRect(M + 0.5, HEAD + 0.5, mapW - 1, mapH - 1);
  // North arrow (the map is never rotated: bearing 0).
  const nx = M + mapW - 34, ny = HEAD + 16;
  ctx.fillStyle = 'rgba(255,255,255,0.85)';
  ctx.fillRect(nx - 16, ny - 4, 32, 46);
  ctx.fillStyle = '#111';
  ctx.beginPath();
  ctx.moveTo(nx, ny + 2);
  ctx.lineTo(nx + 9, ny + 26);
  ctx.lineTo(nx, ny + 20);
  ctx.lineTo(nx - 9, ny + 26);
  ctx.closePath();
  ctx.fill();
  ctx.font = font(12, true);
  ctx.textAlign = 'center';
  ctx.fillText('N', nx, ny + 40);
  ctx.textAlign = 'left';
  // Scale bar at the map's centre latitude.
  const mpp = metresPerPixel(map.getCenter().lat, map.getZoom());
  const len = roundLength(mpp * 160);
  const px = len / mpp;
  const sx = M + 14, sy = HEAD + mapH - 18;
  ctx.fillStyle = 'rgba(255,255,255,0.85)';
  ctx.fillRect(sx - 6, sy - 22, px + 12, 30);
  ctx.fillStyle = '#111';
  ctx.fillRect(sx, sy, px, 4);
  ctx.fillRect(sx, sy - 6, 1.5, 10);
  ctx.fillRect(sx + px - 1.5, sy - 6, 1.5, 10);
  ctx.font = font(12);
  ctx.fillText(len >= 1000 ? `${len / 1000} km` : `${len} m`, sx, sy - 9);
  // Legend.
  let y = HEAD + 6;
  const lx = M + mapW + M;
  ctx.font = font(14, true);
  ctx.fillText('Legend', lx, y + 10);
  y += 28;
  for (const it of b.legend) {
    ctx.font = it.kind === 'text' ? font(12, true) : font(12);
    const cs = it.colors ?? ['#000'];
    if (it.kind === 'dot') {
      ctx.fillStyle = cs[0];
      ctx.beginPath();
      ctx.arc(lx + 7, y - 4, 6, 0, 2 * Math.PI);
      ctx.fill();
    } else if (it.kind === 'line') {
      ctx.strokeStyle = cs[0];
      ctx.lineWidth = 4;
      ctx.beginPath();
      ctx.moveTo(lx, y - 4);
      ctx.lineTo(lx + 18, y - 4);
      ctx.stroke();
    } else if (it.kind === 'ramp') {
      const g = ctx.createLinearGradient(lx, 0, lx + 18, 0);
      cs.forEach((col, i) => g.addColorStop(i / Math.max(1, cs.length - 1), col));
      ctx.fillStyle = g;
      ctx.fillRect(lx, y - 10, 18, 10);
    }
    ctx.fillStyle = '#222';
    const lines = wrap(ctx, it.label, LEG - 28);
    lines.forEach((l, i) => ctx.fillText(l, lx + (it.kind === 'text' ? 0 : 26), y + i * 15));
    y += lines.length * 15 + 6;
  }
  if (b.note) {
    y += 8;
    ctx.font = font(12, true);
    ctx.fillStyle = '#8a1c00';
    for (const l of wrap(ctx, b.note, LEG)) (ctx.fillText(l, lx, y), (y += 15));
  }
  // Footer: who, when, attribution.
  ctx.font = font(12);
  ctx.fillStyle = '#333';
  ctx.fillText(`Prepared by ${b.author} on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC with linesmap. All journeys are SYNTHETIC.`, M, HEAD + mapH + 20);
  ctx.font = font(10);
  ctx.fillStyle = '#555';
  wrap(ctx, b.attribution, W - 2 * M).slice(0, 3).forEach((l, i) => ctx.fillText(l, M, HEAD + mapH + 38 + i * 13));
  return c;
}

const CRC = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Adds iTXt chunks (UTF-8, uncompressed) before the PNG's IEND. */
export function withText(png: Uint8Array, text: Record<string, string>): Uint8Array {
  const enc = new TextEncoder();
  const chunks: Uint8Array[] = [];
  for (const [k, v] of Object.entries(text)) {
    const body = new Uint8Array([...enc.encode('iTXt'), ...enc.encode(k), 0, 0, 0, 0, 0, ...enc.encode(v)]);
    const out = new Uint8Array(body.length + 8);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, body.length - 4);
    out.set(body, 4);
    dv.setUint32(4 + body.length, crc32(body));
    chunks.push(out);
  }
  const iend = png.length - 12; // IEND is the last chunk, 12 bytes
  const total = chunks.reduce((s, x) => s + x.length, 0);
  const res = new Uint8Array(png.length + total);
  res.set(png.subarray(0, iend), 0);
  let o = iend;
  for (const x of chunks) (res.set(x, o), (o += x.length));
  res.set(png.subarray(iend), o);
  return res;
}

/** The briefing as PNG bytes with its text chunks. */
export async function briefingPng(map: maplibregl.Map, b: Briefing): Promise<Uint8Array> {
  const c = await compose(map, b);
  const blob: Blob = await new Promise((r, j) => c.toBlob((x) => (x ? r(x) : j(new Error('the briefing image could not be made'))), 'image/png'));
  return withText(new Uint8Array(await blob.arrayBuffer()), {
    Title: b.title,
    Author: b.author,
    Description: `${b.dates}; ${b.count}; filters: ${b.filters}`,
    'Protective marking': b.marking,
    Disclaimer: `${b.note ? b.note + ' ' : ''}All journeys are SYNTHETIC.`,
    'Creation Time': new Date().toISOString(),
    Software: 'linesmap',
  });
}

export function save(bytes: Uint8Array | Blob, filename: string, type = 'image/png') {
  const blob = bytes instanceof Blob ? bytes : new Blob([bytes as BlobPart], { type });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
}

export const LEGEND_COLORS = PAL;
