// api.js — calls to barkeep's HTTP API from the page: the key (kept in this
// browser's localStorage only), JSON requests with one error type, and the
// key prompt when the server answers 401 (or 403 "forbidden": the action
// needs the service key). Paths are relative, so the page works behind a
// proxy that mounts barkeep under a sub-path.

const KEY_ITEM = 'barkeep.key';

export function getKey() {
  try {
    return localStorage.getItem(KEY_ITEM) || '';
  } catch {
    return '';
  }
}

export function setKey(key) {
  try {
    if (key) localStorage.setItem(KEY_ITEM, key);
    else localStorage.removeItem(KEY_ITEM);
  } catch {
    /* storage disabled: the key lives for this page only */
  }
  keys.memory = key;
}

const keys = {
  memory: '', // the key when localStorage is disabled
  prompter: null, // installed by the page: (reason, message) → Promise<boolean>
  pending: null, // the prompt being shown, shared by concurrent 401s
};

function currentKey() {
  return getKey() || keys.memory;
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status; // 0 when the server did not answer
    this.code = code;
  }
}

// The page installs a function (reason, message) → Promise<boolean>: true when
// a new key was entered. Concurrent 401s share one prompt.
export function onKeyNeeded(fn) {
  keys.prompter = fn;
}
export function askForKey(reason, message) {
  if (!keys.prompter) return Promise.resolve(false);
  if (!keys.pending) keys.pending = keys.prompter(reason, message).finally(() => (keys.pending = null));
  return keys.pending;
}

export function authHeaders(extra = {}) {
  const key = currentKey();
  return key ? { ...extra, Authorization: `Bearer ${key}` } : { ...extra };
}

// Whether an error answer asks for a (better) key, and which kind.
export function keyReason(status, code) {
  if (status === 401) return 'any';
  if (status === 403 && code === 'forbidden') return 'service';
  return null;
}

// api('functions/v1/ops-jobs?hours=24') or api(path, {method: 'POST', body}).
export async function api(path, { method = 'GET', body, signal } = {}) {
  for (let tries = 0; ; tries++) {
    const headers = authHeaders(body === undefined ? {} : { 'Content-Type': 'application/json' });
    let res;
    try {
      res = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
        cache: 'no-store',
      });
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw new ApiError(0, 'network', 'the server did not answer');
    }
    let data = null;
    try {
      data = await res.json();
    } catch {
      data = null;
    }
    if (res.ok) return data;
    const code = (data && data.code) || `http_${res.status}`;
    const message = (data && data.error) || res.statusText || 'request failed';
    const reason = keyReason(res.status, code);
    if (reason && tries < 5 && (await askForKey(reason, message))) continue;
    throw new ApiError(res.status, code, message);
  }
}
