// app.js — the page's entry point: makes the chart and the ops view, wires
// the controls to the modules that handle them, loads the watchlist and
// selects the series named in the URL (#AAPL/1h/30) or the first one.
//
//   state.js      the shared state (watchlist, selection, stream, notices)
//   watchlist.js  the watchlist and the open form
//   series.js     selection, the chart and the timeframe switch
//   progress.js   live progress: job_runs events, the poll, finishing
//   ribbon.js     the progress ribbon
//   notices.js    notices and the connection indicator
//   shell.js      tabs and the key dialog
//   ops.js        the ops view; api.js, sse.js, chart.js, util.js below them
//   testhook.js   window.__barkeep, in test builds only (docs/web.md)
import { onKeyNeeded } from './api.js';
import { BarChart } from './chart.js';
import { setConn } from './notices.js';
import { Ops } from './ops.js';
import { progressSoon } from './progress.js';
import { onForecastToggle, onTfKey, renderTfSwitch, select } from './series.js';
import { manualKey, onTabKey, promptKey, showTab } from './shell.js';
import { state } from './state.js';
import { $, canonicalTf, TIMEFRAMES, validSymbol } from './util.js';
import { onOpen, onWatchKey, refreshWatchlist } from './watchlist.js';

function fromHash() {
  const m = /^#([^/]+)\/([^/]+)(?:\/(\d+))?$/.exec(location.hash);
  if (!m) return null;
  const symbol = decodeURIComponent(m[1]).toUpperCase();
  const tf = canonicalTf(m[2]);
  const days = m[3] ? Number(m[3]) : 30;
  return validSymbol(symbol) && TIMEFRAMES.includes(tf) ? { symbol, tf, days } : null;
}

async function start() {
  state.chart = new BarChart($('chart'));
  state.ops = new Ops({ onRetried: () => progressSoon() });
  onKeyNeeded(promptKey);
  $('open-form').addEventListener('submit', onOpen);
  $('watchlist').addEventListener('keydown', onWatchKey);
  $('tf-switch').addEventListener('keydown', onTfKey);
  $('fc-toggle').addEventListener('change', onForecastToggle);
  $('tab-chart').addEventListener('click', () => showTab('chart'));
  $('tab-ops').addEventListener('click', () => showTab('ops'));
  $('tab-chart').addEventListener('keydown', onTabKey);
  $('tab-ops').addEventListener('keydown', onTabKey);
  $('key-button').addEventListener('click', manualKey);
  renderTfSwitch();
  setConn('connecting…', 'warn');
  await refreshWatchlist();
  const want = fromHash();
  if (want) select(want.symbol, want.tf, want.days);
  else if (state.watch.length) select(state.watch[0].symbol, state.watch[0].timeframe, state.watch[0].window_days);
  document.body.dataset.ready = 'true';
}

start();
