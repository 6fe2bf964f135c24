// sse.js — follows barkeep's job_runs event stream with fetch() rather than
// EventSource, so the key travels in the Authorization header and never in a
// URL. Reconnects after the server's retry delay with Last-Event-ID, so a
// short disconnect loses nothing; `reset` (events gone) and `dropped` (this
// client fell behind) are passed on so the caller refetches its state.
import { authHeaders, askForKey, keyReason } from './api.js';

// follow('realtime/v1/job_runs?symbol=AAPL&timeframe=1h', {onChange, onReset, onState})
// → {close()}. onState gets 'connecting' | 'live' | 'reconnecting' | 'stopped'.
export function follow(url, { onChange, onReset = () => {}, onState = () => {} }) {
  const ctl = new AbortController();
  let lastId = '';
  let retryMs = 2000;
  let stopped = false;

  function wait(ms) {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      ctl.signal.addEventListener('abort', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  function dispatch(frame) {
    let id = '';
    let event = 'message';
    const data = [];
    for (const line of frame.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'id') id = value;
      else if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'retry' && /^\d+$/.test(value)) retryMs = Number(value);
    }
    if (id) lastId = id;
    if (event === 'job_runs' && data.length) onChange(JSON.parse(data.join('\n')));
    else if (event === 'reset' || event === 'dropped') onReset(event);
  }

  async function readStream(res) {
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value.replace(/\r\n?/g, '\n');
      let end;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const frame = buf.slice(0, end);
        buf = buf.slice(end + 2);
        dispatch(frame);
      }
    }
  }

  async function run() {
    onState('connecting');
    while (!stopped) {
      try {
        const headers = authHeaders({ Accept: 'text/event-stream' });
        if (lastId) headers['Last-Event-ID'] = lastId;
        const res = await fetch(url, { headers, signal: ctl.signal, cache: 'no-store' });
        if (res.ok) {
          onState('live');
          await readStream(res);
        } else {
          const body = await res.json().catch(() => ({}));
          const reason = keyReason(res.status, body.code);
          if (reason && (await askForKey(reason, body.error))) continue;
        }
      } catch (e) {
        if (stopped || e.name === 'AbortError') break;
      }
      if (stopped) break;
      onState('reconnecting');
      onReset('reconnect');
      await wait(retryMs);
    }
    onState('stopped');
  }

  run();
  return {
    close() {
      stopped = true;
      ctl.abort();
    },
  };
}
