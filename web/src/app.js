// app.js — the page: watchlist, series selection, progress ribbon, chart,
// notices, tabs and the key dialog. Selecting a series calls ensure-coverage,
// follows that series' job_runs events, and refreshes the ribbon from
// GET functions/v1/watchlist (slices done / total including those not yet
// enqueued) and the chart from chart-data-v2 as bars land. The chart only
// ever shows what the store holds, so a failing provider leaves the stored
// bars on screen with a notice. window.__barkeep exposes read-only state for
// the browser tests (tests/browser/web_test.mjs).
import { api, ApiError, getKey, setKey, onKeyNeeded, askForKey } from './api.js';
import { follow } from './sse.js';
import { BarChart } from './chart.js';
import { Ops } from './ops.js';
import { el, fmtLag, fmtTime, fmtSlice, throttle, TIMEFRAMES, canonicalTf, validSymbol } from './util.js';

const $ = (id) => document.getElementById(id);
const WATCH_REFRESH_MS = 5000;
const POLL_MS = 1000; // progress poll while hydrating, besides the events
const RIBBON_LINGER_MS = 600; // how long a finished ribbon stays at 100%

const state = {
  watch: [], // definitions from functions/v1/watchlist
  sel: null, // {symbol, tf, days, t0, hydrating, maxPct, provider, done}
  stream: null,
  notices: new Map(), // kind → {make: () => text, stored: say what the chart shows}
};
const debug = { ribbonLog: [], timings: [], events: 0, chartLoads: 0 };

let chart = null;
let ops = null;
let pollTimer = null;
let lingerTimer = null;
let watchTimer = null;
let selectSeq = 0;

// ---- notices ----

function renderNotice() {
  const box = $('notice');
  const all = [...state.notices.values()];
  const texts = all.map((n) => n.make());
  if (all.some((n) => n.stored)) texts.push(storedBarsText());
  box.hidden = texts.length === 0;
  box.textContent = texts.join(' ');
}

// stored: the notice is about bars that could not be fetched, so the text
// ends by saying what the chart still shows (once for all such notices).
function setNotice(kind, make, stored = false) {
  state.notices.set(kind, { make, stored });
  renderNotice();
}

function clearNotice(kind) {
  if (state.notices.delete(kind)) renderNotice();
}

function storedBarsText() {
  const n = chart.bars.length;
  return n ? `The chart shows the ${n} bars already stored.` : 'No bars are stored for this series yet.';
}

function apiProblem(e) {
  if (e instanceof ApiError && e.code === 'untrusted_client')
    return 'This server has no API key configured and serves trusted clients only.';
  if (e instanceof ApiError && e.status === 0) return 'The barkeep server does not answer.';
  return `${e.code || 'error'}: ${e.message}`;
}

// ---- connection indicator ----

function setConn(text, kind) {
  const c = $('conn');
  c.textContent = text;
  c.dataset.kind = kind;
}

// ---- ribbon ----

function showRibbon(pct, s, provider, failed) {
  clearTimeout(lingerTimer);
  const ribbon = $('ribbon');
  const sel = state.sel;
  const where = provider ? ` · provider ${provider}` : '';
  let text = `Hydrating ${sel.symbol} ${sel.tf}: ${pct}% · slices ${s.done}/${s.total}${where}`;
  if (failed) text = `Stopped at ${pct}%: ${s.failed} slice${s.failed === 1 ? '' : 's'} failed · slices ${s.done}/${s.total}${where}`;
  ribbon.hidden = false;
  ribbon.classList.toggle('failed', !!failed);
  ribbon.setAttribute('aria-valuenow', String(pct));
  $('ribbon-fill').style.width = `${pct}%`;
  $('ribbon-text').textContent = text;
  debug.ribbonLog.push({ t: performance.now(), visible: true, pct, done: s.done, total: s.total, provider, failed: !!failed });
}

function hideRibbon() {
  clearTimeout(lingerTimer);
  if ($('ribbon').hidden) return;
  $('ribbon').hidden = true;
  debug.ribbonLog.push({ t: performance.now(), visible: false });
}

// ---- chart ----

async function loadChart() {
  const sel = state.sel;
  if (!sel) return;
  try {
    const d = await api('functions/v1/chart-data-v2', {
      method: 'POST',
      body: { symbol: sel.symbol, timeframe: sel.tf, days: sel.days },
    });
    if (sel !== state.sel) return;
    const bars = [...d.layers.historical.data, ...d.layers.intraday.data];
    chart.setBars(bars);
    debug.chartLoads++;
    clearNotice('fetch');
    const m = d.metadata;
    $('chart-meta').textContent = bars.length
      ? `${bars.length} bars, ${fmtTime(m.start_date)} to ${fmtTime(m.end_date)} (UTC) · ${fmtLag(m.freshness_lag_seconds)}` +
        (m.gaps_remaining ? ` · ${m.gaps_remaining} gaps (${Math.round(m.gap_hours * 10) / 10} h) not covered yet` : ' · no gaps')
      : 'No bars stored yet.';
    renderNotice(); // texts that mention the bar count
  } catch (e) {
    if (sel !== state.sel) return;
    setNotice('fetch', () => `Could not refresh the chart (${apiProblem(e)}).`, true);
  }
}

const chartSoon = throttle(() => loadChart(), 300);

function nextPaint() {
  return new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
}

// ---- progress ----

function stopPoll() {
  clearTimeout(pollTimer);
  pollTimer = null;
}

function schedulePoll() {
  stopPoll();
  pollTimer = setTimeout(() => refreshProgress(), POLL_MS);
}

async function refreshProgress() {
  const sel = state.sel;
  if (!sel) return;
  let d;
  try {
    const q = `symbol=${encodeURIComponent(sel.symbol)}&timeframe=${encodeURIComponent(sel.tf)}`;
    const data = await api(`functions/v1/watchlist?${q}`);
    d = data.definitions[0];
  } catch (e) {
    if (sel === state.sel && sel.hydrating) schedulePoll();
    return;
  }
  if (sel !== state.sel || !d) return;
  mergeWatch(d);
  applyProgress(sel, d);
}

const progressSoon = throttle(() => refreshProgress(), 150);

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
  if (!sel.done) finish(sel, d, s, provider);
}

// Coverage complete: ribbon to 100%, the final bars drawn, then the ribbon goes.
async function finish(sel, d, s, provider) {
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
  debug.timings.push({
    symbol: sel.symbol,
    tf: sel.tf,
    days: sel.days,
    hydrated: wasHydrating,
    seen_ms: seen, // the page learned that coverage is complete
    ms: performance.now() - sel.t0, // ... and the final bars are drawn
    bars: chart.bars.length,
  });
  if (wasHydrating) lingerTimer = setTimeout(hideRibbon, RIBBON_LINGER_MS);
  else hideRibbon();
}

function onChange(change) {
  const r = change.record;
  const sel = state.sel;
  if (!sel || !r || r.symbol !== sel.symbol || r.timeframe !== sel.tf) return;
  debug.events++;
  if (r.provider) sel.provider = r.provider;
  if (r.error_code && (r.status === 'queued' || r.status === 'failed')) {
    const what = r.status === 'failed' ? 'it was dead-lettered' : `attempt ${r.attempt} will retry`;
    setNotice('provider', () =>
      `${r.provider ? `Provider ${r.provider}` : 'The provider'} failed for ${fmtSlice(r.slice_from, r.slice_to)} (${r.error_code}: ${r.error_message}); ${what}.`, true);
  }
  if (sel.done && (r.status === 'queued' || r.status === 'running')) {
    sel.done = false; // a new wave (the next bar closed, or a retry)
    sel.maxPct = 0;
  }
  progressSoon();
  if (r.status === 'success' && r.rows_written > 0) chartSoon();
  if (ops) ops.poke();
}

// ---- selection ----

function closeStream() {
  if (state.stream) state.stream.close();
  state.stream = null;
}

async function select(symbol, tf, days) {
  const seq = ++selectSeq;
  closeStream();
  stopPoll();
  chartSoon.cancel();
  hideRibbon();
  state.notices.clear();
  renderNotice();
  const sel = { symbol, tf, days, t0: performance.now(), hydrating: false, maxPct: 0, provider: null, done: false };
  state.sel = sel;
  chart.reset();
  $('chart-meta').textContent = '';
  $('series-title').textContent = `${symbol} ${tf} · ${days} days`;
  history.replaceState(null, '', `#${encodeURIComponent(symbol)}/${tf}/${days}`);
  renderTfSwitch();
  renderWatchlist();
  const q = `symbol=${encodeURIComponent(symbol)}&timeframe=${encodeURIComponent(tf)}`;
  state.stream = follow(`realtime/v1/job_runs?${q}`, {
    onChange,
    onReset: () => progressSoon(),
    onState: (s) => {
      if (s === 'live') setConn('live', 'ok');
      else if (s === 'reconnecting') setConn('reconnecting…', 'warn');
    },
  });
  loadChart(); // what is stored, at once
  let ensured;
  try {
    ensured = await api('functions/v1/ensure-coverage', {
      method: 'POST',
      body: { symbol, timeframe: tf, window_days: days },
    });
  } catch (e) {
    if (seq === selectSeq) setNotice('ensure', () => `Could not start hydration (${apiProblem(e)}).`, true);
    return;
  }
  if (seq !== selectSeq) return;
  // Gaps were found: the series is hydrating, even if the workers finish
  // before the page's first look at its progress.
  if (ensured && ensured.status === 'gaps_detected' && state.sel && !state.sel.done) state.sel.hydrating = true;
  await refreshProgress();
  refreshWatchlist();
}

// ---- timeframe switch ----

function renderTfSwitch() {
  const box = $('tf-switch');
  box.replaceChildren();
  const sel = state.sel;
  for (const tf of TIMEFRAMES) {
    const on = !!sel && sel.tf === tf;
    box.append(
      el('button', {
        type: 'button',
        role: 'radio',
        'aria-checked': on ? 'true' : 'false',
        tabindex: on || (!sel && tf === '1h') ? '0' : '-1',
        disabled: !sel,
        'data-tf': tf,
        onclick: () => switchTf(tf),
      }, tf),
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

function onTfKey(e) {
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

// ---- watchlist ----

function mergeWatch(d) {
  const i = state.watch.findIndex((x) => x.symbol === d.symbol && x.timeframe === d.timeframe);
  if (i >= 0) state.watch[i] = d;
  else state.watch.push(d);
  renderWatchlist();
}

function stripNode(d) {
  const strip = el('span', { class: 'strip', 'aria-hidden': 'true' });
  for (const v of d.strip) {
    let c = 'none';
    if (v !== null) c = v >= 0.999 ? 'full' : v <= 0.001 ? 'hole' : 'part';
    strip.append(el('span', { class: c }));
  }
  return strip;
}

function runText(d) {
  const r = d.last_run;
  if (!r) return 'no runs yet';
  return `${r.status}${r.provider ? ` · ${r.provider}` : ''}${r.error_code ? ` · ${r.error_code}` : ''}`;
}

function watchItem(d) {
  const key = `${d.symbol}|${d.timeframe}`;
  const sel = state.sel;
  const current = !!sel && sel.symbol === d.symbol && sel.tf === d.timeframe;
  const pct = `${Math.floor(d.coverage_percent * 10) / 10}%`;
  const label = `${d.symbol} ${d.timeframe}: coverage ${pct}, ${fmtLag(d.freshness_lag_seconds)}, last run ${runText(d)}${d.enabled ? '' : ', disabled'}`;
  const status = d.last_run ? d.last_run.status : 'none';
  return el('li', { class: `item${current ? ' current' : ''}` },
    el('button', {
      type: 'button',
      class: 'pick',
      'data-key': key,
      'aria-label': label,
      'aria-current': current ? 'true' : null,
      onclick: () => select(d.symbol, d.timeframe, d.window_days),
    },
    el('span', { class: 'row1' },
      el('span', { class: 'sym' }, d.symbol),
      el('span', { class: 'tf' }, d.timeframe),
      el('span', { class: 'pct' }, pct)),
    stripNode(d),
    el('span', { class: 'row2' },
      el('span', { class: 'lag' }, fmtLag(d.freshness_lag_seconds)),
      el('span', { class: `run st-${status}` }, runText(d)))),
    el('button', {
      type: 'button',
      class: 'remove quiet',
      'data-key': key,
      'aria-label': `Remove ${d.symbol} ${d.timeframe} from the watchlist`,
      title: 'Remove from the watchlist (service key)',
      onclick: () => removeDef(d),
    }, '×'));
}

function renderWatchlist() {
  const ul = $('watchlist');
  const active = document.activeElement;
  const focusKey = active && ul.contains(active) ? [active.dataset.key, active.className] : null;
  ul.replaceChildren(...state.watch.map(watchItem));
  $('watch-empty').hidden = state.watch.length > 0;
  if (focusKey) {
    const again = [...ul.querySelectorAll('button')].find((b) => b.dataset.key === focusKey[0] && b.className === focusKey[1]);
    if (again) again.focus();
  }
}

function onWatchKey(e) {
  if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
  const picks = [...$('watchlist').querySelectorAll('button.pick')];
  const i = picks.indexOf(document.activeElement);
  if (i < 0) return;
  e.preventDefault();
  const j = e.key === 'ArrowDown' ? Math.min(picks.length - 1, i + 1) : Math.max(0, i - 1);
  picks[j].focus();
}

async function refreshWatchlist() {
  clearTimeout(watchTimer);
  try {
    const data = await api('functions/v1/watchlist');
    state.watch = data.definitions;
    renderWatchlist();
    clearNotice('watch');
    if (!state.stream || $('conn').dataset.kind !== 'warn') setConn(state.stream ? 'live' : 'connected', 'ok');
  } catch (e) {
    if (e instanceof ApiError && e.status === 0) setConn('offline', 'bad');
    else setNotice('watch', () => `Could not load the watchlist (${apiProblem(e)}).`);
  }
  watchTimer = setTimeout(refreshWatchlist, WATCH_REFRESH_MS);
}

async function removeDef(d) {
  if (!window.confirm(`Remove ${d.symbol} ${d.timeframe} from the watchlist? Its stored bars stay.`)) return;
  try {
    await api('functions/v1/watchlist?action=remove', {
      method: 'POST',
      body: { symbol: d.symbol, timeframe: d.timeframe },
    });
  } catch (e) {
    setNotice('watch', () => `Could not remove ${d.symbol} ${d.timeframe} (${apiProblem(e)}).`);
    return;
  }
  state.watch = state.watch.filter((x) => x !== d);
  const sel = state.sel;
  if (sel && sel.symbol === d.symbol && sel.tf === d.timeframe) {
    closeStream();
    stopPoll();
    hideRibbon();
    state.sel = null;
    $('series-title').textContent = 'No series selected';
    chart.reset();
    $('chart-meta').textContent = '';
    renderTfSwitch();
  }
  renderWatchlist();
  refreshWatchlist();
}

function onOpen(e) {
  e.preventDefault();
  const symbol = $('open-symbol').value.trim().toUpperCase();
  const tf = canonicalTf($('open-tf').value);
  const days = Number($('open-days').value);
  if (!validSymbol(symbol)) {
    setNotice('open', () => `"${symbol}" is not a symbol: 1 to 20 of A-Z 0-9 . - ^ = /`);
    $('open-symbol').focus();
    return;
  }
  if (!Number.isInteger(days) || days < 1 || days > 36500) {
    setNotice('open', () => 'Days must be a whole number from 1 to 36500.');
    $('open-days').focus();
    return;
  }
  clearNotice('open');
  select(symbol, tf, days);
}

// ---- tabs ----

function showTab(which) {
  const ops_ = which === 'ops';
  $('tab-chart').setAttribute('aria-selected', String(!ops_));
  $('tab-ops').setAttribute('aria-selected', String(ops_));
  $('tab-chart').tabIndex = ops_ ? -1 : 0;
  $('tab-ops').tabIndex = ops_ ? 0 : -1;
  $('view-chart').hidden = ops_;
  $('view-ops').hidden = !ops_;
  if (ops_) ops.start();
  else ops.stop();
}

function onTabKey(e) {
  if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
  e.preventDefault();
  const toOps = $('tab-chart') === document.activeElement;
  showTab(toOps ? 'ops' : 'chart');
  $(toOps ? 'tab-ops' : 'tab-chart').focus();
}

// ---- key dialog ----

function promptKey(reason, message) {
  const dlg = $('key-dialog');
  const why = reason === 'service'
    ? 'This action needs the service key.'
    : reason === 'manual'
      ? 'The key the page sends to this server.'
      : 'The server requires an API key.';
  $('key-reason').textContent = message && reason !== 'manual' ? `${why} (${message})` : why;
  $('key-input').value = '';
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => {
      const v = dlg.returnValue;
      const key = $('key-input').value.trim();
      if (v === 'save' && key) {
        setKey(key);
        resolve(true);
      } else {
        if (v === 'forget') setKey('');
        resolve(false);
      }
    }, { once: true });
    dlg.returnValue = '';
    if (!dlg.open) dlg.showModal();
    $('key-input').focus();
  });
}

async function manualKey() {
  if (await askForKey('manual', '')) {
    refreshWatchlist();
    if (state.sel) select(state.sel.symbol, state.sel.tf, state.sel.days);
  }
}

// ---- start ----

function fromHash() {
  const m = /^#([^/]+)\/([^/]+)(?:\/(\d+))?$/.exec(location.hash);
  if (!m) return null;
  const symbol = decodeURIComponent(m[1]).toUpperCase();
  const tf = canonicalTf(m[2]);
  const days = m[3] ? Number(m[3]) : 30;
  return validSymbol(symbol) && TIMEFRAMES.includes(tf) ? { symbol, tf, days } : null;
}

async function start() {
  chart = new BarChart($('chart'));
  ops = new Ops({ onRetried: () => progressSoon() });
  onKeyNeeded(promptKey);
  window.__barkeep = {
    chartData: () => chart.data(),
    bars: () => chart.bars.length,
    ribbonLog: debug.ribbonLog,
    timings: debug.timings,
    stats: () => ({ events: debug.events, chartLoads: debug.chartLoads }),
    selected: () => (state.sel ? { ...state.sel } : null),
    hasKey: () => !!getKey(),
  };
  $('open-form').addEventListener('submit', onOpen);
  $('watchlist').addEventListener('keydown', onWatchKey);
  $('tf-switch').addEventListener('keydown', onTfKey);
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
