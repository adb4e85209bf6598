// Builds MapLibre glyph PBFs (signed distance fields, 256 code points a file) from the open
// Noto Sans font (SIL OFL 1.1, npm @fontsource/noto-sans) so the map can draw labels with no
// request outside the server. Run by `npm run build` before Vite; writes
// public/assets/glyphs/{fontstack}/{start}-{end}.pbf, which Vite copies to dist/assets/glyphs.
//
// The format is MapLibre's: each glyph a bitmap of (width + 6) × (height + 6) bytes at a
// 24 px font size, 3 px of buffer on each side, value 255 − 255·(d/8 + 0.25) where d is the
// signed distance in px from the outline (negative inside), so the outline sits at 191.
import opentype from 'opentype.js';
import { PbfWriter } from 'pbf';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const OUT = path.join(here, '..', 'public', 'assets', 'glyphs');
const FILES = path.join(here, '..', 'node_modules', '@fontsource', 'noto-sans', 'files');
const SIZE = 24, BUFFER = 3, RADIUS = 8, CUTOFF = 0.25;
// The fontstacks the style names (src/layers.ts `FONT`), each from the font's subsets at one weight.
const STACKS = { 'NotoSans-Regular': 400, 'NotoSans-Bold': 700 };
const SUBSETS = ['latin', 'latin-ext', 'greek', 'cyrillic'];

/** The outline as closed polygons of points in px (y up), curves flattened. */
function contours(glyph, scale) {
  const rings = [];
  let ring = [], x0 = 0, y0 = 0;
  const add = (x, y) => ring.push([x * scale, y * scale]);
  for (const c of glyph.path.commands) {
    if (c.type === 'M') {
      if (ring.length) rings.push(ring);
      ring = [];
      add(c.x, c.y);
    } else if (c.type === 'L') add(c.x, c.y);
    else if (c.type === 'Q') {
      for (let i = 1; i <= 8; i++) {
        const t = i / 8, u = 1 - t;
        add(u * u * x0 + 2 * u * t * c.x1 + t * t * c.x, u * u * y0 + 2 * u * t * c.y1 + t * t * c.y);
      }
    } else if (c.type === 'C') {
      for (let i = 1; i <= 10; i++) {
        const t = i / 10, u = 1 - t;
        add(u * u * u * x0 + 3 * u * u * t * c.x1 + 3 * u * t * t * c.x2 + t * t * t * c.x,
          u * u * u * y0 + 3 * u * u * t * c.y1 + 3 * u * t * t * c.y2 + t * t * t * c.y);
      }
    } else if (c.type === 'Z') {
      if (ring.length) rings.push(ring);
      ring = [];
    }
    if (c.x !== undefined) (x0 = c.x), (y0 = c.y);
  }
  if (ring.length) rings.push(ring);
  return rings;
}

/** Distance from (px, py) to the segment a–b. */
function segDist(px, py, ax, ay, bx, by) {
  const dx = bx - ax, dy = by - ay;
  const l2 = dx * dx + dy * dy;
  const t = l2 ? Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / l2)) : 0;
  const ex = ax + t * dx - px, ey = ay + t * dy - py;
  return Math.sqrt(ex * ex + ey * ey);
}

/** Non-zero winding number of the rings around (px, py): inside when not 0. */
function winding(rings, px, py) {
  let w = 0;
  for (const r of rings) {
    for (let i = 0; i < r.length; i++) {
      const [ax, ay] = r[i], [bx, by] = r[(i + 1) % r.length];
      if (ay <= py) {
        if (by > py && (bx - ax) * (py - ay) - (px - ax) * (by - ay) > 0) w++;
      } else if (by <= py && (bx - ax) * (py - ay) - (px - ax) * (by - ay) < 0) w--;
    }
  }
  return w;
}

/** One glyph as MapLibre wants it (metrics in px at 24 px, bitmap with the buffer). */
export function sdfGlyph(font, glyph, id) {
  const scale = SIZE / font.unitsPerEm;
  const advance = Math.round(glyph.advanceWidth * scale);
  const ascender = Math.round(font.ascender * scale);
  const rings = contours(glyph, scale);
  const pts = rings.flat();
  if (!pts.length) return { id, width: 0, height: 0, left: 0, top: -ascender, advance, bitmap: null };
  const xMin = Math.floor(Math.min(...pts.map((p) => p[0])));
  const xMax = Math.ceil(Math.max(...pts.map((p) => p[0])));
  const yMin = Math.floor(Math.min(...pts.map((p) => p[1])));
  const yMax = Math.ceil(Math.max(...pts.map((p) => p[1])));
  const width = xMax - xMin, height = yMax - yMin;
  const W = width + 2 * BUFFER, H = height + 2 * BUFFER;
  const bitmap = new Uint8Array(W * H);
  for (let j = 0; j < H; j++) {
    const py = yMax + BUFFER - j - 0.5;
    for (let i = 0; i < W; i++) {
      const px = xMin - BUFFER + i + 0.5;
      let d = Infinity;
      for (const r of rings) {
        for (let k = 0; k < r.length; k++) {
          const a = r[k], b = r[(k + 1) % r.length];
          const s = segDist(px, py, a[0], a[1], b[0], b[1]);
          if (s < d) d = s;
        }
      }
      if (winding(rings, px, py) !== 0) d = -d;
      bitmap[j * W + i] = Math.max(0, Math.min(255, Math.round(255 - 255 * (d / RADIUS + CUTOFF))));
    }
  }
  return { id, width, height, left: xMin, top: yMax - ascender, advance, bitmap };
}

/** glyphs.proto: glyphs { stacks = 1 { name = 1; range = 2; glyphs = 3 { id = 1; bitmap = 2;
 * width = 3; height = 4; left = 5 (sint32); top = 6 (sint32); advance = 7 } } } */
export function encodeRange(name, start, glyphs) {
  const pbf = new PbfWriter();
  pbf.writeMessage(1, (_, p) => {
    p.writeStringField(1, name);
    p.writeStringField(2, `${start}-${start + 255}`);
    for (const g of glyphs) {
      p.writeMessage(3, (__, q) => {
        q.writeVarintField(1, g.id);
        if (g.bitmap) q.writeBytesField(2, g.bitmap);
        q.writeVarintField(3, g.width);
        q.writeVarintField(4, g.height);
        q.writeSVarintField(5, g.left);
        q.writeSVarintField(6, g.top);
        q.writeVarintField(7, g.advance);
      });
    }
  });
  return pbf.finish();
}

async function main() {
  // Built once per version of this script and the font: a stamp records what made them (and
  // they must still be there: node_modules copied from another checkout brings its stamp alone).
  const stamp = path.join(here, '..', 'node_modules', '.glyphs-stamp');
  const made = `${await readFile(fileURLToPath(import.meta.url), 'utf8')}\n${await readFile(path.join(FILES, '..', 'package.json'), 'utf8')}`;
  const last = path.join(OUT, Object.keys(STACKS).at(-1), '65280-65535.pbf');
  if ((await readFile(stamp, 'utf8').catch(() => '')) === made && (await stat(last).catch(() => null))) return;
  await rm(OUT, { recursive: true, force: true });
  let total = 0;
  for (const [stack, weight] of Object.entries(STACKS)) {
    const fonts = [];
    for (const s of SUBSETS) {
      const buf = await readFile(path.join(FILES, `noto-sans-${s}-${weight}-normal.woff`));
      fonts.push(opentype.parse(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)));
    }
    const dir = path.join(OUT, stack);
    await mkdir(dir, { recursive: true });
    // Every range is written (most empty) so that MapLibre never asks for a file that is not there.
    for (let start = 0; start < 65536; start += 256) {
      const glyphs = [];
      for (let id = start; id < start + 256; id++) {
        const font = fonts.find((f) => f.charToGlyphIndex(String.fromCodePoint(id)) > 0);
        if (!font) continue;
        glyphs.push(sdfGlyph(font, font.charToGlyph(String.fromCodePoint(id)), id));
      }
      total += glyphs.length;
      await writeFile(path.join(dir, `${start}-${start + 255}.pbf`), encodeRange(stack, start, glyphs));
    }
  }
  await writeFile(stamp, made);
  console.log(`glyphs: ${total} glyphs in ${Object.keys(STACKS).length} fontstacks → ${path.relative(process.cwd(), OUT)}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
