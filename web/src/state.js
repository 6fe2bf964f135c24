// state.js — the page's shared state, in one object that the modules import
// (no module keeps its own copy of the watchlist or the selection), and the
// trace points the test build listens to.

export const state = {
  watch: [], // definitions from functions/v1/watchlist
  sel: null, // {symbol, tf, days, t0, hydrating, maxPct, provider, done}
  selectSeq: 0, // bumped by every select(), so a late answer for an old one is dropped
  stream: null, // the job_runs subscription of the selected series: {close()}
  notices: new Map(), // kind → {make: () => text, stored: say what the chart shows}
  chart: null, // the BarChart, made at start
  ops: null, // the Ops view, made at start
};

// What the page reports as it goes: no-ops here. testhook.js, which only a
// test build embeds (see docs/web.md), replaces them with recorders and
// exposes the records as window.__barkeep for tests/browser/web_test.mjs.
export const trace = {
  ribbon() {}, // {t, visible, pct, done, total, provider, failed}: the ribbon was shown or hidden
  timing() {}, // {symbol, tf, days, hydrated, seen_ms, ms, bars}: coverage of a selection complete and drawn
  event() {}, // a job_runs event of the selected series arrived
  chartLoad() {}, // the chart was redrawn from chart-data-v2
};
