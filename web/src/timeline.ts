// The timeline under the map: journeys a week over the filtered period (every filter but the
// dates), a brush that sets the date filter (drag with the pointer; with the keyboard ← → move
// the selection a week, Shift+← → change its end, Home/End, Escape for the whole period) and a
// play button that steps the layers through the weeks one at a time.
import { escapeHtml as h } from './filters';
import PAL from './palette.json';
import { num } from './format';

export interface Bucket { period_start: string; period_end: string; journeys: number | null; children?: number | null }
export interface Range { from: string; to: string }

const $ = (id: string) => document.getElementById(id) as HTMLElement;
const W = 1000, H = 64, PAD = 2;
export const STEP_DWELL_MS = 400;

export class Timeline {
  buckets: Bucket[] = [];
  /** Selected weeks [i, j] (inclusive), or null for the whole period. */
  sel: [number, number] | null = null;
  playing = false;
  private drag: number | null = null;
  private svg: SVGSVGElement;

  constructor(
    private onRange: (r: Range | null) => Promise<void>,
    private stepDone: () => Promise<void>,
  ) {
    this.svg = $('timeline-chart') as unknown as SVGSVGElement;
    this.svg.addEventListener('pointerdown', (e) => {
      if (!this.buckets.length || this.playing) return;
      this.svg.setPointerCapture(e.pointerId);
      this.drag = this.indexAt(e.clientX);
      this.sel = [this.drag, this.drag];
      this.draw();
    });
    this.svg.addEventListener('pointermove', (e) => {
      if (this.drag == null) return;
      const i = this.indexAt(e.clientX);
      this.sel = [Math.min(this.drag, i), Math.max(this.drag, i)];
      this.draw();
    });
    const end = () => {
      if (this.drag == null) return;
      this.drag = null;
      this.commit();
    };
    this.svg.addEventListener('pointerup', end);
    this.svg.addEventListener('pointercancel', end);
    this.svg.addEventListener('keydown', (e) => this.key(e));
    $('timeline-play').addEventListener('click', () => (this.playing ? this.stop() : this.play()));
    $('timeline-all').addEventListener('click', () => {
      this.stop();
      this.sel = null;
      this.commit();
    });
  }

  /** New weekly counts (after a change of any filter but the dates); `r` the current dates. */
  set(buckets: Bucket[], r: Range) {
    this.buckets = buckets;
    this.select(r);
  }

  /** Shows the date filter `r` as the selection (weeks it overlaps). */
  select(r: Range) {
    const b = this.buckets;
    if (!b.length || (!r.from && !r.to)) this.sel = null;
    else {
      let i = b.findIndex((x) => !r.from || x.period_end >= r.from);
      let j = b.length - 1;
      while (j > 0 && r.to && b[j].period_start > r.to) j--;
      if (i < 0) i = b.length - 1;
      this.sel = [Math.min(i, j), Math.max(i, j)];
    }
    this.draw();
  }

  range(): Range | null {
    if (!this.sel) return null;
    return { from: this.buckets[this.sel[0]].period_start, to: this.buckets[this.sel[1]].period_end };
  }

  private indexAt(clientX: number): number {
    const r = this.svg.getBoundingClientRect();
    const x = ((clientX - r.left) / r.width) * W;
    return Math.max(0, Math.min(this.buckets.length - 1, Math.floor(((x - PAD) / (W - 2 * PAD)) * this.buckets.length)));
  }

  private commit() {
    this.draw();
    return this.onRange(this.range());
  }

  private key(e: KeyboardEvent) {
    const n = this.buckets.length;
    if (!n || this.playing) return;
    let [i, j] = this.sel ?? [0, n - 1];
    const w = j - i;
    if (e.key === 'ArrowLeft' && e.shiftKey) j = Math.max(i, j - 1);
    else if (e.key === 'ArrowRight' && e.shiftKey) j = Math.min(n - 1, j + 1);
    else if (e.key === 'ArrowLeft') (i = Math.max(0, i - 1)), (j = i + w);
    else if (e.key === 'ArrowRight') (j = Math.min(n - 1, j + 1)), (i = j - w);
    else if (e.key === 'Home') (i = 0), (j = w);
    else if (e.key === 'End') (j = n - 1), (i = n - 1 - w);
    else if (e.key === 'Escape') {
      this.sel = null;
      e.preventDefault();
      this.commit();
      return;
    } else return;
    e.preventDefault();
    this.sel = [i, j];
    this.commit();
  }

  /** Steps a one-week window through the selection (or the whole period), each step drawn
   * before the next. */
  async play() {
    const n = this.buckets.length;
    if (!n) return;
    const [a, b] = this.sel && this.sel[0] !== this.sel[1] ? this.sel : [0, n - 1];
    this.playing = true;
    this.draw();
    for (let k = a; k <= b && this.playing; k++) {
      this.sel = [k, k];
      await this.commit();
      await this.stepDone();
      // Each week stays on the map a moment once drawn.
      await new Promise((r) => setTimeout(r, STEP_DWELL_MS));
    }
    this.playing = false;
    this.draw();
  }

  stop() {
    this.playing = false;
    this.draw();
  }

  /** The weeks the chart's bars were built for: while they stay, a new selection only recolours
   * the bars (a date filter change used to rebuild hundreds of SVG elements). */
  private drawn: Bucket[] | null = null;

  draw() {
    const b = this.buckets;
    $('timeline-play').textContent = this.playing ? '❚❚ Pause' : '▶ Play';
    $('timeline-play').setAttribute('aria-pressed', String(this.playing));
    if (!b.length) {
      this.svg.innerHTML = '';
      this.drawn = null;
      $('timeline-label').textContent = 'no journeys';
      return;
    }
    const m = Math.max(1, ...b.map((x) => x.journeys ?? 0));
    const bw = (W - 2 * PAD) / b.length;
    const [i, j] = this.sel ?? [0, b.length - 1];
    const brush = this.sel
      ? `<rect class="brush" x="${(PAD + i * bw).toFixed(2)}" y="0" width="${((j - i + 1) * bw).toFixed(2)}" height="${H}"/>`
      : '';
    if (b === this.drawn) this.recolour(i, j, brush);
    else this.build(b, m, bw, i, j, brush);
    const r = this.range();
    const label = r ? `${r.from} to ${r.to} (${j - i + 1} week${j > i ? 's' : ''})` : `whole period, ${b[0].period_start} to ${b[b.length - 1].period_end}`;
    $('timeline-label').textContent = `${label} · max ${num(m)} journeys a week`;
    this.svg.setAttribute('aria-valuetext', label);
  }

  /** The bars' colours for the selection i..j, and the brush. */
  private recolour(i: number, j: number, brush: string) {
    this.svg.querySelectorAll<SVGRectElement>('rect.bar').forEach((el, k) => {
      const on = k >= i && k <= j;
      const fill = on && this.sel ? PAL.timeline.selected : PAL.timeline.bar;
      if (el.getAttribute('fill') !== fill) el.setAttribute('fill', fill);
      if (el.getAttribute('opacity') !== (on ? '1' : '0.35')) el.setAttribute('opacity', on ? '1' : '0.35');
    });
    this.svg.querySelector('rect.brush')?.remove();
    if (brush) this.svg.insertAdjacentHTML('beforeend', brush);
  }

  private build(b: Bucket[], m: number, bw: number, i: number, j: number, brush: string) {
    const bars = b
      .map((x, k) => {
        const v = x.journeys ?? 0;
        const y = H - (v / m) * (H - 4);
        const on = k >= i && k <= j;
        return `<rect class="bar" x="${(PAD + k * bw).toFixed(2)}" y="${y.toFixed(2)}" width="${Math.max(bw - 0.4, 0.6).toFixed(2)}" height="${(H - y).toFixed(2)}" fill="${on && this.sel ? PAL.timeline.selected : PAL.timeline.bar}" opacity="${on ? 1 : 0.35}"><title>${h(x.period_start)}: ${x.journeys ?? 'suppressed'} journeys</title></rect>`;
      })
      .join('');
    // Year ticks.
    const newYear = (k: number) => k > 0 && b[k].period_start.slice(0, 4) !== b[k - 1].period_start.slice(0, 4);
    const firstTick = b.findIndex((_, k) => newYear(k));
    const ticks = b
      .map((x, k) => ((k === 0 && (firstTick < 0 || firstTick > 10)) || newYear(k)
        ? `<line x1="${PAD + k * bw}" x2="${PAD + k * bw}" y1="0" y2="${H}" class="tick"/><text x="${PAD + k * bw + 3}" y="10" class="tick">${x.period_start.slice(0, 4)}</text>` : ''))
      .join('');
    this.svg.innerHTML = ticks + bars + brush;
    this.drawn = b;
  }
}
