// The browser test's filter change (2024 Q1) shifted by whole days, for timings with a filter
// the server has not computed (`--cold` of timing.mjs and redraw-profile.mjs).
export function quarter(shift) {
  const day = (d) => new Date(Date.parse(`${d}T00:00:00Z`) + shift * 86400000).toISOString().slice(0, 10);
  return { from: day('2024-01-01'), to: day('2024-03-31'), shift };
}
