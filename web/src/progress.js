// progress.js — live progress of the selected series: follows its job_runs
// events (sse.js), refreshes the ribbon from GET functions/v1/watchlist
// (slices done / total including those not yet enqueued) at most every
// 150 ms after an event and every second while hydrating (changes that
// publish no event, such as a retry_failed revival, are seen too), and the
// chart as bars land. Says when slices were dead-lettered, and finishes a
// selection: ribbon to 100%, the final bars drawn, then the ribbon goes.
import { api } from './api.js';
import { clearNotice, setConn, setNotice } from './notices.js';
import { hideRibbonSoon, hideRibbon, showRibbon } from './ribbon.js';
import { chartSoon, loadChart } from './series.js';
import { follow } from './sse.js';
import { state, trace } from './state.js';
import { fmtSlice, throttle } from './util.js';
import { mergeWatch } from './watchlist.js';

const POLL_MS = 1000; // progress poll while hydrating, besides the events

const timers = { poll: null };

function stopPoll() {
  clearTimeout(timers.poll);
  timers.poll = null;
}

function schedulePoll() {
  stopPoll();
  timers.poll = setTimeout(() => refreshProgress(), POLL_MS);
}

export async function refreshProgress() {
  const sel = state.sel;
  if (!sel) return;
  let d;
  try {
    const q = `symbol=${encodeURIComponent(sel.symbol)}&timeframe=${encodeURIComponent(sel.tf)}`;
    const data = await api(`functions/v1/watchlist?${q}`);
    d = data.definitions[0];
  } catch {
    if (sel === state.sel && sel.hydrating) schedulePoll();
    return;
  }
  if (sel !== state.sel || !d) return;
  mergeWatch(d);
  applyProgress(sel, d);
}

export const progressSoon = throttle(() => refreshProgress(), 150);

function applyProgress(sel, d) {
  const s = d.slices;
  const provider = sel.provider || (d.last_run && d.last_run.provider) || d.last_provider;
  if (d.is_hydrating) {
    sel.hydrating = true;
    sel.maxPct = Math.max(sel.maxPct, Math.min(99, d.progress_percent));
    showRibbon(sel.maxPct, s, provider, false);
    clearNotice('failed');
    schedulePoll();
    return;
  }
  stopPoll();
  if (s.failed > 0 && d.gaps > 0) {
    sel.hydrating = false;
    showRibbon(Math.max(sel.maxPct, d.progress_percent), s, provider, true);
    const n = s.failed === 1 ? '1 slice was' : `${s.failed} slices were`;
    setNotice('failed', () => `${n} dead-lettered; retry from the Ops view.`, true);
    loadChart();
    return;
  }
  if (!sel.done) finish(sel, s, provider);
}

function nextPaint() {
  return new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
}

// Coverage complete: ribbon to 100%, the final bars drawn, then the ribbon goes.
async function finish(sel, s, provider) {
  const seen = performance.now() - sel.t0;
  sel.done = true;
  const wasHydrating = sel.hydrating;
  sel.hydrating = false;
  clearNotice('failed');
  clearNotice('provider');
  if (wasHydrating) showRibbon(100, s, provider, false);
  await loadChart();
  await nextPaint();
  if (sel !== state.sel) return;
  trace.timing({
    symbol: sel.symbol,
    tf: sel.tf,
    days: sel.days,
    hydrated: wasHydrating,
    seen_ms: seen, // the page learned that coverage is complete
    ms: performance.now() - sel.t0, // ... and the final bars are drawn
    bars: state.chart.bars.length,
  });
  if (wasHydrating) hideRibbonSoon();
  else hideRibbon();
}

function onChange(change) {
  const r = change.record;
  const sel = state.sel;
  if (!sel || !r || r.symbol !== sel.symbol || r.timeframe !== sel.tf) return;
  trace.event();
  if (r.provider) sel.provider = r.provider;
  if (r.error_code && (r.status === 'queued' || r.status === 'failed')) {
    const what = r.status === 'failed' ? 'it was dead-lettered' : `attempt ${r.attempt} will retry`;
    const who = r.provider ? `Provider ${r.provider}` : 'The provider';
    const slice = fmtSlice(r.slice_from, r.slice_to);
    setNotice('provider', () => `${who} failed for ${slice} (${r.error_code}: ${r.error_message}); ${what}.`, true);
  }
  if (sel.done && (r.status === 'queued' || r.status === 'running')) {
    sel.done = false; // a new wave (the next bar closed, or a retry)
    sel.maxPct = 0;
  }
  progressSoon();
  if (r.status === 'success' && r.rows_written > 0) chartSoon();
  if (state.ops) state.ops.poke();
}

// Follow the events of the selected series (state.sel).
export function followProgress() {
  const q = `symbol=${encodeURIComponent(state.sel.symbol)}&timeframe=${encodeURIComponent(state.sel.tf)}`;
  state.stream = follow(`realtime/v1/job_runs?${q}`, {
    onChange,
    onReset: () => progressSoon(),
    onState: (s) => {
      if (s === 'live') setConn('live', 'ok');
      else if (s === 'reconnecting') setConn('reconnecting…', 'warn');
    },
  });
}

// Stop following: the event stream and the poll.
export function stopProgress() {
  if (state.stream) state.stream.close();
  state.stream = null;
  stopPoll();
}
