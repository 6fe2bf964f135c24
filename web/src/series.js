// series.js — the series view: selecting a series (calls ensure-coverage,
// follows its progress, keeps the selection in the URL), the chart from
// chart-data-v2 with its caption, and the timeframe switch above it. The
// chart only ever shows what the store holds, so a failing provider leaves
// the stored bars on screen with a notice.
import { api } from './api.js';
import { apiProblem, clearNotice, clearNotices, renderNotice, setNotice } from './notices.js';
import { followProgress, refreshProgress, stopProgress } from './progress.js';
import { hideRibbon } from './ribbon.js';
import { state, trace } from './state.js';
import { $, el, fmtLag, fmtTime, throttle, TIMEFRAMES } from './util.js';
import { refreshWatchlist, renderWatchlist } from './watchlist.js';

function chartCaption(bars, m) {
  if (!bars.length) return 'No bars stored yet.';
  const gaps = m.gaps_remaining
    ? ` · ${m.gaps_remaining} gaps (${Math.round(m.gap_hours * 10) / 10} h) not covered yet`
    : ' · no gaps';
  return (
    `${bars.length} bars, ${fmtTime(m.start_date)} to ${fmtTime(m.end_date)} (UTC) · ` +
    `${fmtLag(m.freshness_lag_seconds)}${gaps}`
  );
}

export async function loadChart() {
  const sel = state.sel;
  if (!sel) return;
  try {
    const d = await api('functions/v1/chart-data-v2', {
      method: 'POST',
      body: { symbol: sel.symbol, timeframe: sel.tf, days: sel.days },
    });
    if (sel !== state.sel) return;
    const bars = [...d.layers.historical.data, ...d.layers.intraday.data];
    state.chart.setBars(bars);
    trace.chartLoad();
    clearNotice('fetch');
    $('chart-meta').textContent = chartCaption(bars, d.metadata);
    renderNotice(); // texts that mention the bar count
  } catch (e) {
    if (sel !== state.sel) return;
    setNotice('fetch', () => `Could not refresh the chart (${apiProblem(e)}).`, true);
  }
}

export const chartSoon = throttle(() => loadChart(), 300);

export async function select(symbol, tf, days) {
  const seq = ++state.selectSeq;
  stopProgress();
  chartSoon.cancel();
  hideRibbon();
  clearNotices();
  const sel = { symbol, tf, days, t0: performance.now(), hydrating: false, maxPct: 0, provider: null, done: false };
  state.sel = sel;
  state.chart.reset();
  $('chart-meta').textContent = '';
  $('series-title').textContent = `${symbol} ${tf} · ${days} days`;
  history.replaceState(null, '', `#${encodeURIComponent(symbol)}/${tf}/${days}`);
  renderTfSwitch();
  renderWatchlist();
  followProgress();
  loadChart(); // what is stored, at once
  let ensured;
  try {
    ensured = await api('functions/v1/ensure-coverage', {
      method: 'POST',
      body: { symbol, timeframe: tf, window_days: days },
    });
  } catch (e) {
    if (seq === state.selectSeq) setNotice('ensure', () => `Could not start hydration (${apiProblem(e)}).`, true);
    return;
  }
  if (seq !== state.selectSeq) return;
  // Gaps were found: the series is hydrating, even if the workers finish
  // before the page's first look at its progress.
  if (ensured && ensured.status === 'gaps_detected' && state.sel && !state.sel.done) state.sel.hydrating = true;
  await refreshProgress();
  refreshWatchlist();
}

// The selected series is gone (removed from the watchlist).
export function unselect() {
  stopProgress();
  hideRibbon();
  state.sel = null;
  $('series-title').textContent = 'No series selected';
  state.chart.reset();
  $('chart-meta').textContent = '';
  renderTfSwitch();
}

// ---- timeframe switch ----

export function renderTfSwitch() {
  const box = $('tf-switch');
  box.replaceChildren();
  const sel = state.sel;
  for (const tf of TIMEFRAMES) {
    const on = !!sel && sel.tf === tf;
    box.append(
      el(
        'button',
        {
          type: 'button',
          role: 'radio',
          'aria-checked': on ? 'true' : 'false',
          tabindex: on || (!sel && tf === '1h') ? '0' : '-1',
          disabled: !sel,
          'data-tf': tf,
          onclick: () => switchTf(tf),
        },
        tf,
      ),
    );
  }
}

function switchTf(tf) {
  const sel = state.sel;
  if (!sel || sel.tf === tf) return;
  const existing = state.watch.find((d) => d.symbol === sel.symbol && d.timeframe === tf);
  select(sel.symbol, tf, existing ? existing.window_days : sel.days).then(() => focusTf(tf));
}

function focusTf(tf) {
  const b = $('tf-switch').querySelector(`[data-tf="${tf}"]`);
  if (b) b.focus();
}

export function onTfKey(e) {
  const sel = state.sel;
  if (!sel) return;
  const i = TIMEFRAMES.indexOf(sel.tf);
  let j = -1;
  if (e.key === 'ArrowRight' || e.key === 'ArrowDown') j = (i + 1) % TIMEFRAMES.length;
  else if (e.key === 'ArrowLeft' || e.key === 'ArrowUp') j = (i + TIMEFRAMES.length - 1) % TIMEFRAMES.length;
  if (j < 0) return;
  e.preventDefault();
  switchTf(TIMEFRAMES[j]);
  focusTf(TIMEFRAMES[j]);
}
