// notices.js — the notice box above the chart and the connection indicator
// in the header. Notices are kept by kind (fetch, failed, provider, ensure,
// watch, open), so each cause replaces its own text and clears it when it
// goes away; a notice about bars that could not be fetched ends by saying
// what the chart still shows.
import { ApiError } from './api.js';
import { state } from './state.js';
import { $ } from './util.js';

function storedBarsText() {
  const n = state.chart.bars.length;
  return n ? `The chart shows the ${n} bars already stored.` : 'No bars are stored for this series yet.';
}

export function renderNotice() {
  const box = $('notice');
  const all = [...state.notices.values()];
  const texts = all.map((n) => n.make());
  if (all.some((n) => n.stored)) texts.push(storedBarsText());
  box.hidden = texts.length === 0;
  box.textContent = texts.join(' ');
}

// stored: the notice is about bars that could not be fetched, so the text
// ends by saying what the chart still shows (once for all such notices).
export function setNotice(kind, make, stored = false) {
  state.notices.set(kind, { make, stored });
  renderNotice();
}

export function clearNotice(kind) {
  if (state.notices.delete(kind)) renderNotice();
}

export function clearNotices() {
  state.notices.clear();
  renderNotice();
}

export function apiProblem(e) {
  if (e instanceof ApiError && e.code === 'untrusted_client')
    return 'This server has no API key configured and serves trusted clients only.';
  if (e instanceof ApiError && e.status === 0) return 'The barkeep server does not answer.';
  return `${e.code || 'error'}: ${e.message}`;
}

// The connection indicator: kind is ok, warn or bad.
export function setConn(text, kind) {
  const c = $('conn');
  c.textContent = text;
  c.dataset.kind = kind;
}

export function connKind() {
  return $('conn').dataset.kind;
}
