// Numbers as the page writes them (en-GB grouping). One formatter for the page:
// `Number.prototype.toLocaleString` builds a new one on each call (about 0.5 ms in V8, so the
// hot-spot table's 40 cells cost 20 ms of every filter redraw).
const NF = new Intl.NumberFormat('en-GB');
export const num = (n: number): string => NF.format(n);
