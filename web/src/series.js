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

function pct(v) {
  return v === null || v === undefined ? '–' : `${Math.round(v * 100)}%`;
}

// The forecast's caption: when and on which bars it was made, and how the
// last forecasts' bands fared once the real bars landed.
function forecastCaption(layer, m) {
  const f = m.forecast;
  if (!f || !layer.count) return '';
  const made = `${layer.count} ${layer.count === 1 ? 'step' : 'steps'} from the close of ${fmtTime(f.as_of_bar_ts)} (${f.bars_used} bars, ${f.model}, made ${fmtTime(f.made_at)})`;
  const r = f.realized;
  if (!r || !r.scored_steps) return `${made} · realized coverage: nothing scored yet`;
  const rel = r.rel_mae === null ? '' : ` · error ${Math.round(r.rel_mae * 100) / 100}× the naive forecast's`;
  return `${made} · realized coverage over ${r.scored_steps} scored steps: 80% band ${pct(r.coverage80)}, 95% band ${pct(r.coverage95)}${rel}`;
}

function showForecast(layer, m) {
  const steps = layer && layer.count ? layer.data : [];
  state.chart.setForecast(steps);
  $('fc-bar').hidden = steps.length === 0;
  $('fc-meta').textContent = steps.length ? forecastCaption(layer, m) : '';
}

// The forecast toggle.
export function onForecastToggle(e) {
  state.chart.showForecast(e.target.checked);
}

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
    showForecast(d.layers.forecast, d.metadata);
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
  $('fc-bar').hidden = true;
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
  $('fc-bar').hidden = true;
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
