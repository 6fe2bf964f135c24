// watchlist.js — the left column: every job definition with its coverage,
// strip, freshness and last run (GET functions/v1/watchlist, refreshed every
// 5 seconds), Up and Down to move between entries, × to remove one (service
// key; its bars stay), and the form that opens any symbol.
import { api, ApiError } from './api.js';
import { apiProblem, clearNotice, connKind, setConn, setNotice } from './notices.js';
import { select, unselect } from './series.js';
import { state } from './state.js';
import { $, canonicalTf, el, fmtLag, validSymbol } from './util.js';

const WATCH_REFRESH_MS = 5000;

const timers = { refresh: null };

// One definition refreshed (from the progress of the selected series).
export function mergeWatch(d) {
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
  const lag = fmtLag(d.freshness_lag_seconds);
  // a series can have a fetch and a run_forecast definition: each shows its own kind's last run
  const kind = d.job_type === 'run_forecast' ? 'forecast, last forecast run' : 'last run';
  const label = `${d.symbol} ${d.timeframe}: coverage ${pct}, ${lag}, ${kind} ${runText(d)}${d.enabled ? '' : ', disabled'}`;
  const status = d.last_run ? d.last_run.status : 'none';
  const pick = el(
    'button',
    {
      type: 'button',
      class: 'pick',
      'data-key': key,
      'aria-label': label,
      'aria-current': current ? 'true' : null,
      onclick: () => select(d.symbol, d.timeframe, d.window_days),
    },
    el(
      'span',
      { class: 'row1' },
      el('span', { class: 'sym' }, d.symbol),
      el('span', { class: 'tf' }, d.timeframe),
      el('span', { class: 'pct' }, pct),
    ),
    stripNode(d),
    el(
      'span',
      { class: 'row2' },
      el('span', { class: 'lag' }, lag),
      el('span', { class: `run st-${status}` }, runText(d)),
    ),
  );
  const remove = el(
    'button',
    {
      type: 'button',
      class: 'remove quiet',
      'data-key': key,
      'aria-label': `Remove ${d.symbol} ${d.timeframe} from the watchlist`,
      title: 'Remove from the watchlist (service key)',
      onclick: () => removeDef(d),
    },
    '×',
  );
  return el('li', { class: `item${current ? ' current' : ''}` }, pick, remove);
}

export function renderWatchlist() {
  const ul = $('watchlist');
  const active = document.activeElement;
  const focusKey = active && ul.contains(active) ? [active.dataset.key, active.className] : null;
  ul.replaceChildren(...state.watch.map(watchItem));
  $('watch-empty').hidden = state.watch.length > 0;
  if (focusKey) {
    const again = [...ul.querySelectorAll('button')].find(
      (b) => b.dataset.key === focusKey[0] && b.className === focusKey[1],
    );
    if (again) again.focus();
  }
}

export function onWatchKey(e) {
  if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
  const picks = [...$('watchlist').querySelectorAll('button.pick')];
  const i = picks.indexOf(document.activeElement);
  if (i < 0) return;
  e.preventDefault();
  const j = e.key === 'ArrowDown' ? Math.min(picks.length - 1, i + 1) : Math.max(0, i - 1);
  picks[j].focus();
}

export async function refreshWatchlist() {
  clearTimeout(timers.refresh);
  try {
    const data = await api('functions/v1/watchlist');
    // a series' run_forecast definition is its forecast, drawn on its chart,
    // not another series to list
    state.watch = data.definitions.filter((d) => d.job_type !== 'run_forecast');
    renderWatchlist();
    clearNotice('watch');
    if (!state.stream || connKind() !== 'warn') setConn(state.stream ? 'live' : 'connected', 'ok');
  } catch (e) {
    if (e instanceof ApiError && e.status === 0) setConn('offline', 'bad');
    else setNotice('watch', () => `Could not load the watchlist (${apiProblem(e)}).`);
  }
  timers.refresh = setTimeout(refreshWatchlist, WATCH_REFRESH_MS);
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
  if (sel && sel.symbol === d.symbol && sel.tf === d.timeframe) unselect();
  renderWatchlist();
  refreshWatchlist();
}

// The form above the list: open any symbol (adds it to the watchlist).
export function onOpen(e) {
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
