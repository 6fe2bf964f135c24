// shell.js — the page around the views: the Chart / Ops tabs (arrow keys
// move between them; the ops view refreshes only while shown) and the key
// dialog, asked for by api.js when the server answers 401 or 403 forbidden,
// or opened with "API key" in the header.
import { askForKey, setKey } from './api.js';
import { select } from './series.js';
import { state } from './state.js';
import { $ } from './util.js';
import { refreshWatchlist } from './watchlist.js';

export function showTab(which) {
  const toOps = which === 'ops';
  $('tab-chart').setAttribute('aria-selected', String(!toOps));
  $('tab-ops').setAttribute('aria-selected', String(toOps));
  $('tab-chart').tabIndex = toOps ? -1 : 0;
  $('tab-ops').tabIndex = toOps ? 0 : -1;
  $('view-chart').hidden = toOps;
  $('view-ops').hidden = !toOps;
  if (toOps) state.ops.start();
  else state.ops.stop();
}

export function onTabKey(e) {
  if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
  e.preventDefault();
  const toOps = $('tab-chart') === document.activeElement;
  showTab(toOps ? 'ops' : 'chart');
  $(toOps ? 'tab-ops' : 'tab-chart').focus();
}

// The prompter for api.js: (reason, message) → Promise<boolean>, true when a
// key was saved.
export function promptKey(reason, message) {
  const dlg = $('key-dialog');
  const why =
    reason === 'service'
      ? 'This action needs the service key.'
      : reason === 'manual'
        ? 'The key the page sends to this server.'
        : 'The server requires an API key.';
  $('key-reason').textContent = message && reason !== 'manual' ? `${why} (${message})` : why;
  $('key-input').value = '';
  return new Promise((resolve) => {
    dlg.addEventListener(
      'close',
      () => {
        const v = dlg.returnValue;
        const key = $('key-input').value.trim();
        if (v === 'save' && key) {
          setKey(key);
          resolve(true);
        } else {
          if (v === 'forget') setKey('');
          resolve(false);
        }
      },
      { once: true },
    );
    dlg.returnValue = '';
    if (!dlg.open) dlg.showModal();
    $('key-input').focus();
  });
}

// "API key" in the header: change or forget the key, then reload what is shown.
export async function manualKey() {
  if (await askForKey('manual', '')) {
    refreshWatchlist();
    if (state.sel) select(state.sel.symbol, state.sel.tf, state.sel.days);
  }
}
