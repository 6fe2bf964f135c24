// ribbon.js — the progress ribbon above the chart: percentage, slices done /
// total and the provider while the selected series hydrates, red when slices
// were dead-lettered, kept at 100% for a moment once coverage is complete.
import { state, trace } from './state.js';
import { $ } from './util.js';

const RIBBON_LINGER_MS = 600; // how long a finished ribbon stays at 100%

const timers = { linger: null };

export function showRibbon(pct, s, provider, failed) {
  clearTimeout(timers.linger);
  const ribbon = $('ribbon');
  const sel = state.sel;
  const where = provider ? ` · provider ${provider}` : '';
  let text = `Hydrating ${sel.symbol} ${sel.tf}: ${pct}% · slices ${s.done}/${s.total}${where}`;
  if (failed)
    text = `Stopped at ${pct}%: ${s.failed} slice${s.failed === 1 ? '' : 's'} failed · slices ${s.done}/${s.total}${where}`;
  ribbon.hidden = false;
  ribbon.classList.toggle('failed', !!failed);
  ribbon.setAttribute('aria-valuenow', String(pct));
  $('ribbon-fill').style.width = `${pct}%`;
  $('ribbon-text').textContent = text;
  trace.ribbon({
    t: performance.now(),
    visible: true,
    pct,
    done: s.done,
    total: s.total,
    provider,
    failed: !!failed,
  });
}

export function hideRibbon() {
  clearTimeout(timers.linger);
  if ($('ribbon').hidden) return;
  $('ribbon').hidden = true;
  trace.ribbon({ t: performance.now(), visible: false });
}

// Hide the ribbon after it has shown 100% for a moment.
export function hideRibbonSoon() {
  clearTimeout(timers.linger);
  timers.linger = setTimeout(hideRibbon, RIBBON_LINGER_MS);
}
