// supabase_test.mjs — the real @supabase/supabase-js (pinned in
// package-lock.json) against `barkeep serve` (sim provider, pinned clock,
// ephemeral port; SQLite, or PostgreSQL with BK_TEST_DB_URL), started with
// opaque keys and a JWT secret (keys minted by `barkeep keys jwt`), on both
// Realtime serializers (vsn 2.0.0, the client's default, and 1.0.0):
// subscribe to job_runs with a filter on one symbol, hydrate it and another
// symbol through functions.invoke('ensure-coverage'), and see INSERT
// queued, UPDATE running with rising progress_percent and UPDATE success at
// 100 for the filtered symbol only; a heartbeat answered; unsubscribe and
// removeAllChannels. The vsn 2.0.0 client is a signed-in user (a user JWT
// from the accessToken option, the anon JWT as apikey); beside it, a client
// whose access token has expired is refused by the functions (401
// jwt_expired) and by Realtime (CHANNEL_ERROR, no events). Then every
// function the guide's client calls (orchestrator tick and status,
// ensure-coverage, fetch-bars, chart-data-v2, ops-jobs), PostgREST reads
// (select with eq, count=exact with range) and rpc('get_coverage_gaps').
// Environment: BARKEEP_BIN, BK_SUPABASE_DIR (node_modules of tests/npm_ci.sh),
// BK_TEST_NOW (optional).
import { execFileSync, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, watch } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = need('BARKEEP_BIN');
const req = createRequire(join(need('BK_SUPABASE_DIR'), 'node_modules', '_'));
const { createClient, FunctionsHttpError } = req('@supabase/supabase-js');
const WebSocket = req('ws');
const NOW = process.env.BK_TEST_NOW || '2026-11-18T20:00:00Z';
const ANON = 'anon-key-0123456789abcdef0123';
const SERVICE = 'service-key-0123456789abcdef';
const SECRET = 'jwt-secret-for-tests-0123456789abcdef0123';
const USER_ID = '0b6f4c1e-6a3d-4f0e-9a57-3c1d2b8e5f70';
const WAIT_MS = 15000;

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run through ctest)`);
  return v;
}

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  console.log(`ok - ${what}`);
}

// A key as the docs mint it: `barkeep keys jwt --role ROLE` at the instant
// `at` (the pinned clock by default), valid `days` days.
function mintKey(role, at = NOW, days = 3650) {
  const env = { ...process.env, BARKEEP_JWT_SECRET: SECRET };
  delete env.BARKEEP_NOW;
  const args = ['--now', at, 'keys', 'jwt', '--role', role, '--days', String(days)];
  return execFileSync(BIN, args, { env, cwd: tmpdir() }).toString().trim();
}

// A signed-in user's access token as Supabase Auth issues it (role
// authenticated, sub the user's id), signed in node: `keys jwt` sets no sub.
function userJwt() {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.parse(NOW) / 1000);
  const claims = {
    iss: 'supabase',
    aud: 'authenticated',
    role: 'authenticated',
    sub: USER_ID,
    iat: now,
    exp: now + 3600,
  };
  const hp = `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc(claims)}`;
  return `${hp}.${createHmac('sha256', SECRET).update(hp).digest('base64url')}`;
}

const ANON_JWT = mintKey('anon');
const SERVICE_JWT = mintKey('service_role');
const EXPIRED = mintKey('authenticated', new Date(Date.parse(NOW) - 2 * 86400e3).toISOString(), 1);
const USER = userJwt();

// Resolve when probe() returns a value (re-probed on every call of poke),
// reject after ms.
function until(probe, ms, what) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    const attempt = () => {
      const v = probe();
      if (v !== undefined) {
        clearTimeout(t);
        resolve(v);
        return true;
      }
      return false;
    };
    if (!attempt()) until.pokes.add(attempt);
  });
}
until.pokes = new Set();
function poke() {
  for (const p of [...until.pokes]) if (p()) until.pokes.delete(p);
}

// The store: a SQLite file, or the PostgreSQL database of BK_TEST_DB_URL
// (scripts/with-pg.sh), emptied first as the C suites empty it.
function db(dir) {
  const url = process.env.BK_TEST_DB_URL;
  if (!url) return join(dir, 'db.sqlite');
  execFileSync(
    'psql',
    ['-q', '-v', 'ON_ERROR_STOP=1', url, '-c', 'DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public'],
    { stdio: 'inherit' },
  );
  return url;
}

async function startServer() {
  const dir = mkdtempSync(join(tmpdir(), 'bk-supabase-'));
  const portFile = join(dir, 'port');
  const env = { ...process.env, BARKEEP_ANON_KEY: ANON, BARKEEP_SERVICE_KEY: SERVICE, BARKEEP_JWT_SECRET: SECRET };
  for (const k of Object.keys(env)) if (k === 'BARKEEP_NOW') delete env[k];
  const args = [
    '--db',
    db(dir),
    '--now',
    NOW,
    '--set',
    `port_file=${portFile}`,
    '--set',
    'sim_latency_ms=20',
    '--set',
    'sim_page_size=2',
    'serve',
    '--listen',
    '127.0.0.1:0',
    '--workers',
    '1',
  ];
  const child = spawn(BIN, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d) => {
    log += d;
  });
  const watcher = watch(dir);
  const port = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no port file; log:\n${log}`)), WAIT_MS);
    const probe = () => {
      try {
        const s = readFileSync(portFile, 'utf8');
        if (s.endsWith('\n')) {
          clearTimeout(t);
          resolve(Number(s.trim()));
        }
      } catch {
        /* not yet */
      }
    };
    watcher.on('change', probe);
    child.on('exit', (c) => reject(new Error(`barkeep exited ${c}:\n${log}`)));
    probe();
  });
  watcher.close();
  return {
    url: `http://127.0.0.1:${port}`,
    log: () => log,
    async stop() {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const [code] = await exited;
      rmSync(dir, { recursive: true, force: true });
      check(code === 0, 'barkeep serve stopped cleanly');
    },
  };
}

function client(url, key, { vsn, accessToken } = {}) {
  const realtime = { transport: WebSocket };
  if (vsn) realtime.vsn = vsn;
  const opts = { realtime, auth: { persistSession: false } };
  if (accessToken) opts.accessToken = async () => accessToken;
  return createClient(url, key, opts);
}

// Subscribe to the job_runs changes of symbol; events go to the returned
// list, the latest status to st.status.
function subscribe(supabase, symbol, st) {
  const events = [];
  const channel = supabase
    .channel(`job_runs:${symbol}:15m`)
    .on('postgres_changes', { event: '*', schema: 'public', table: 'job_runs', filter: `symbol=eq.${symbol}` }, (p) => {
      events.push(p);
      poke();
    });
  channel.subscribe((s, err) => {
    st.status = s;
    if (err) st.error = err.message;
    if (err) console.log(`# ${s}: ${err.message}`);
    poke();
  });
  return { channel, events };
}

// An error of functions.invoke: a FunctionsHttpError of that status with our
// JSON body of that code.
async function refused(error, status, code, what) {
  const body = error && error.context ? await error.context.json() : {};
  check(
    error instanceof FunctionsHttpError && error.context.status === status && body.code === code && body.error,
    `${what}: ${status} ${code} (${error ? `${error.context && error.context.status} ${JSON.stringify(body)}` : 'no error'})`,
  );
}

// With a signed-in user (user), a client whose access token has expired is
// refused beside it: by the functions and by Realtime.
async function scenario(url, vsn, symbol, other, { key = ANON, user } = {}) {
  const supabase = client(url, key, { vsn, accessToken: user });
  const want = vsn || '2.0.0';
  check(
    supabase.realtime.vsn === want && supabase.realtime.endpointURL().includes(`vsn=${want}`),
    `the client speaks vsn ${want}`,
  );
  const st = {};
  const { channel, events } = subscribe(supabase, symbol, st);
  await until(
    () => (st.status === 'SUBSCRIBED' ? true : st.status && st.status !== 'SUBSCRIBED' ? false : undefined),
    WAIT_MS,
    'SUBSCRIBED',
  ).then((ok) =>
    check(ok, `vsn ${vsn || 'default'}${user ? ', signed-in user' : ''}: SUBSCRIBED (status ${st.status})`),
  );
  let expired;
  if (user) {
    // the expired token in the accessToken callback: Authorization and the
    // join's access_token; as apikey alone too
    expired = client(url, ANON_JWT, { vsn, accessToken: EXPIRED });
    let { error } = await expired.functions.invoke('orchestrator?action=status');
    await refused(error, 401, 'jwt_expired', 'an expired access token, functions');
    ({ error } = await client(url, EXPIRED).functions.invoke('ensure-coverage', {
      body: { symbol, timeframe: '15m', window_days: 5 },
    }));
    await refused(error, 401, 'jwt_expired', 'an expired JWT as apikey, functions');
    expired.st = {};
    expired.sub = subscribe(expired, symbol, expired.st);
    await until(
      () => (expired.st.status === 'CHANNEL_ERROR' || expired.st.status === 'CLOSED' ? true : undefined),
      WAIT_MS,
      'the expired token refused by Realtime',
    );
    check(
      /expired/i.test(expired.st.error || 'expired'),
      `an expired access token, Realtime: ${expired.st.status} (${expired.st.error})`,
    );
  }
  let beat;
  supabase.realtime.onHeartbeat((s) => {
    if (s === 'ok') {
      beat = s;
      poke();
    }
  });
  supabase.realtime.sendHeartbeat();
  await until(() => beat, WAIT_MS, 'the heartbeat reply');
  check(beat === 'ok', 'heartbeat answered');
  for (const sym of [other, symbol]) {
    const { data, error } = await supabase.functions.invoke('ensure-coverage', {
      body: { symbol: sym, timeframe: '15m', window_days: 5 },
    });
    check(!error && data, `ensure-coverage ${sym} answered (${error ? error.message : 'ok'})`);
  }
  const done = await until(
    () => events.find((e) => e.eventType === 'UPDATE' && e.new.status === 'success') || undefined,
    WAIT_MS,
    `the success of a ${symbol} run`,
  );
  const run = done.new.id;
  const mine = events.filter((e) => (e.new && e.new.id) === run);
  check(
    events.every(
      (e) =>
        e.schema === 'public' &&
        e.table === 'job_runs' &&
        /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(e.commit_timestamp),
    ),
    'schema, table, commit_timestamp',
  );
  check(
    events.every((e) => e.new.symbol === symbol),
    `nothing for ${other}`,
  );
  check(mine[0].eventType === 'INSERT' && mine[0].new.status === 'queued', 'INSERT queued first');
  const ups = mine.slice(1);
  check(ups.length >= 3 && ups.every((e) => e.eventType === 'UPDATE'), `then UPDATEs (${ups.length})`);
  const running = ups.filter((e) => e.new.status === 'running').map((e) => Number(e.new.progress_percent));
  check(
    running.length >= 2 && running.every((p, i) => i === 0 || p > running[i - 1]),
    `running with rising progress_percent (${running.join(', ')})`,
  );
  const last = ups[ups.length - 1].new;
  check(last.status === 'success' && Number(last.progress_percent) === 100, 'UPDATE success at 100');
  if (expired) {
    check(expired.sub.events.length === 0, 'no events for the expired access token');
    await expired.removeAllChannels();
    expired.realtime.disconnect();
  }
  const r = await channel.unsubscribe();
  check(r === 'ok', `unsubscribe answered (${r})`);
  await supabase.removeAllChannels();
  check(supabase.getChannels().length === 0, 'removeAllChannels');
  supabase.realtime.disconnect();
}

// Every function the guide's client calls, answered 2xx with JSON; then the
// PostgREST reads and the rpc, on the runs the scenarios made.
async function functions(url, symbol) {
  const svc = client(url, SERVICE_JWT);
  const fn = async (name, opts, what = name) => {
    const { data, error } = await svc.functions.invoke(name, opts);
    check(!error && data && typeof data === 'object', `${what} answered (${error ? error.message : 'ok'})`);
    return data;
  };
  let d = await fn('orchestrator?action=tick');
  check(d.success === true && d.action === 'tick' && typeof d.enqueued === 'number', 'tick: success, enqueued');
  await fn('ensure-coverage', { body: { symbol, timeframe: '15m', window_days: 5 } });
  // fetch-bars runs one queued run; the worker may claim some first
  const { data: queued } = await svc
    .from('job_runs')
    .select('id,status')
    .eq('symbol', symbol)
    .eq('status', 'queued')
    .order('priority');
  let fetched;
  for (const q of queued || []) {
    const { data, error } = await svc.functions.invoke('fetch-bars', { body: { job_run_id: q.id } });
    if (!error) {
      fetched = data;
      break;
    }
    const body = await error.context.json();
    if (body.code !== 'not_queued') throw new Error(`fetch-bars: ${JSON.stringify(body)}`);
  }
  check(
    fetched && fetched.status === 'success' && fetched.rows_written >= 0,
    `fetch-bars answered (${fetched && fetched.status})`,
  );
  d = await fn('orchestrator?action=status');
  check(
    typeof d.queued === 'number' &&
      typeof d.running === 'number' &&
      Array.isArray(d.queued_jobs) &&
      Array.isArray(d.running_jobs) &&
      Array.isArray(d.recent_jobs) &&
      d.recent_jobs.length > 0 &&
      d.counts.queued === d.queued,
    `status: queued ${d.queued}, running ${d.running}, queued_jobs, running_jobs, recent_jobs (${d.recent_jobs.length})`,
  );
  d = await fn(`ops-jobs?symbol=${symbol}&timeframe=15m&hours=24`, { method: 'GET' }, 'ops-jobs (GET)');
  check(
    d.filters.symbol === symbol && d.window_hours === 24 && d.stats.total >= 1,
    `ops-jobs: ${symbol}, ${d.stats.total} runs`,
  );
  d = await fn('chart-data-v2', { body: { symbol, timeframe: '15m', days: 5 } });
  check(
    d.symbol === symbol && d.layers && typeof d.metadata.total_bars === 'number',
    `chart-data-v2: ${d.metadata.total_bars} bars`,
  );
  // the opaque service key still works beside the JWTs
  const { error: oe } = await client(url, SERVICE).functions.invoke('orchestrator?action=status');
  check(!oe, 'the opaque service key');

  const anon = client(url, ANON_JWT);
  let { data, error } = await anon.from('job_runs').select('id,symbol,status').eq('symbol', symbol);
  check(
    !error &&
      data.length >= 1 &&
      data.every((r) => r.symbol === symbol && Object.keys(r).join() === 'id,symbol,status'),
    `from('job_runs').select().eq('symbol', '${symbol}'): ${data && data.length} runs of ${symbol} only`,
  );
  const page = await anon.from('job_runs').select('*', { count: 'exact', head: false }).range(0, 1);
  check(
    !page.error && page.data.length === 2 && page.count >= 3 && page.data[0].id,
    `select('*', count exact).range(0, 1): 2 of ${page.count}`,
  );
  ({ data, error } = await anon.rpc('get_coverage_gaps', { p_symbol: symbol, p_timeframe: '15m', p_window_days: 5 }));
  check(!error && Array.isArray(data), `rpc('get_coverage_gaps'): an array (${data && data.length} gaps)`);
}

const server = await startServer();
try {
  await scenario(server.url, undefined, 'MSFT', 'IBM', { key: ANON_JWT, user: USER });
  await scenario(server.url, '1.0.0', 'NVDA', 'AMD');
  await functions(server.url, 'AMZN');
} catch (e) {
  console.log(`# server log:\n${server.log()}`);
  throw e;
} finally {
  await server.stop();
}
console.log('supabase: all checks passed');
process.exit(0);
