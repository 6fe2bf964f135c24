// testhook.js — window.__barkeep for the browser tests
// (tests/browser/web_test.mjs): read-only views of the chart and the
// selection, and records of what the page did (ribbon changes, timings of
// completed selections, events and chart loads), gathered through the trace
// points of state.js. Embedded only when the build has tests (BK_BUILD_TESTS;
// web/embed.mjs --test-hook 1): a release build's page has none of it.
// index.html loads it before app.js, so it records from the first event.
import { getKey } from './api.js';
import { state, trace } from './state.js';

const debug = { ribbonLog: [], timings: [], events: 0, chartLoads: 0 };

trace.ribbon = (r) => debug.ribbonLog.push(r);
trace.timing = (t) => debug.timings.push(t);
trace.event = () => debug.events++;
trace.chartLoad = () => debug.chartLoads++;

window.__barkeep = {
  chartData: () => state.chart.data(),
  forecastData: () => state.chart.forecastData(),
  bars: () => state.chart.bars.length,
  ribbonLog: debug.ribbonLog,
  timings: debug.timings,
  stats: () => ({ events: debug.events, chartLoads: debug.chartLoads }),
  selected: () => (state.sel ? { ...state.sel } : null),
  hasKey: () => !!getKey(),
};
