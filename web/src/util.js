// util.js — small helpers shared by the page's modules: finding and building
// DOM nodes (text only, never HTML from data), formatting times and
// durations, and a trailing throttle for refreshes triggered by bursts of
// events.

// $('notice'): the element with that id.
export const $ = (id) => document.getElementById(id);

// el('td', {class: 'num'}, 'text', childNode, ...)
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export function fmtTime(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  return d.toISOString().replace('T', ' ').slice(0, 16) + 'Z';
}

export function fmtSlice(from, to) {
  if (!from) return '–';
  const a = fmtTime(from);
  const b = fmtTime(to);
  return a.slice(0, 10) === b.slice(0, 10) ? `${a.slice(0, 16)}–${b.slice(11)}` : `${a} – ${b}`;
}

export function fmtLag(seconds) {
  if (seconds === null || seconds === undefined) return 'no data';
  if (seconds <= 0) return 'fresh';
  const m = Math.round(seconds / 60);
  if (m < 60) return `${m} min behind`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min behind`;
  return `${Math.floor(h / 24)} days behind`;
}

export function fmtDuration(run) {
  if (!run.started_at || !run.finished_at) return '–';
  return String(Math.max(0, Date.parse(run.finished_at) - Date.parse(run.started_at)));
}

export function fmtPercent(v) {
  if (v === null || v === undefined) return '–';
  return `${Math.round(v * 10) / 10}%`;
}

// Call fn at most once per ms, trailing: a burst of calls yields one call now
// (if idle) and one after the burst.
export function throttle(fn, ms) {
  let timer = null;
  let last = 0;
  let again = false;
  const fire = () => {
    timer = null;
    last = performance.now();
    again = false;
    fn();
  };
  const t = () => {
    if (timer) {
      again = true;
      return;
    }
    const wait = Math.max(0, last + ms - performance.now());
    timer = setTimeout(fire, wait);
  };
  t.cancel = () => {
    clearTimeout(timer);
    timer = null;
    again = false;
  };
  t.pending = () => timer !== null || again;
  return t;
}

export const TIMEFRAMES = ['1m', '5m', '15m', '30m', '1h', '4h', 'd1', 'w1'];

const ALIASES = { m1: '1m', m5: '5m', m15: '15m', m30: '30m', h1: '1h', h4: '4h', '1d': 'd1', '1w': 'w1' };
export function canonicalTf(tf) {
  const t = String(tf || '').toLowerCase();
  return ALIASES[t] || t;
}

export function validSymbol(s) {
  return /^[A-Z0-9.\-^=/]{1,20}$/.test(s);
}
