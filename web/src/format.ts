// Numbers as the page writes them (en-GB grouping). One formatter for the page:
// `Number.prototype.toLocaleString` builds a new one on each call (about 0.5 ms in V8, so the
// hot-spot table's 40 cells cost 20 ms of every filter redraw).
const NF = new Intl.NumberFormat('en-GB');
export const num = (n: number): string => NF.format(n);

/** `#rrggbb` with an alpha, as `rgba(…)`. A colour's alpha in place of the layer's opacity
 * property: MapLibre draws a fill as its premultiplied colour times the opacity, so the pixels
 * are the same, and a paint property that reads feature state is one fewer to evaluate for
 * every feature whose state changes (stations, flows: in the frame after a filter change, over
 * every vertex of each; for 2,568 stations one of four such properties was about 12% of it). */
export const withAlpha = (hex: string, a: number) => {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${n >> 16},${(n >> 8) & 255},${n & 255},${a})`;
};
