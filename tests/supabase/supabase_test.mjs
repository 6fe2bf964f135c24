// supabase_test.mjs — the real @supabase/supabase-js (pinned in
// package-lock.json) against `barkeep serve` (sim provider, pinned clock,
// ephemeral port; SQLite, or PostgreSQL with BK_TEST_DB_URL), on both
// Realtime serializers (vsn 2.0.0, the client's
// default, and 1.0.0): subscribe to job_runs with a filter on one symbol,
// hydrate it and another symbol through functions.invoke('ensure-coverage'),
// and see INSERT queued, UPDATE running with rising progress_percent and
// UPDATE success at 100 for the filtered symbol only; a heartbeat answered;
// unsubscribe and removeAllChannels. Environment: BARKEEP_BIN,
// BK_SUPABASE_DIR (node_modules of deps.sh), BK_TEST_NOW (optional).
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, watch } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = need('BARKEEP_BIN');
const req = createRequire(join(need('BK_SUPABASE_DIR'), 'node_modules', '_'));
const { createClient } = req('@supabase/supabase-js');
const WebSocket = req('ws');
const NOW = process.env.BK_TEST_NOW || '2026-11-18T20:00:00Z';
const ANON = 'anon-key-0123456789abcdef0123';
const SERVICE = 'service-key-0123456789abcdef';
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
  const env = { ...process.env, BARKEEP_ANON_KEY: ANON, BARKEEP_SERVICE_KEY: SERVICE };
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

async function scenario(url, vsn, symbol, other) {
  const realtime = { transport: WebSocket };
  if (vsn) realtime.vsn = vsn;
  const supabase = createClient(url, ANON, { realtime, auth: { persistSession: false } });
  const want = vsn || '2.0.0';
  check(
    supabase.realtime.vsn === want && supabase.realtime.endpointURL().includes(`vsn=${want}`),
    `the client speaks vsn ${want}`,
  );
  const events = [];
  const channel = supabase
    .channel(`job_runs:${symbol}:15m`)
    .on('postgres_changes', { event: '*', schema: 'public', table: 'job_runs', filter: `symbol=eq.${symbol}` }, (p) => {
      events.push(p);
      poke();
    });
  let status;
  channel.subscribe((s, err) => {
    status = s;
    if (err) console.log(`# ${s}: ${err.message}`);
    poke();
  });
  await until(
    () => (status === 'SUBSCRIBED' ? true : status && status !== 'SUBSCRIBED' ? false : undefined),
    WAIT_MS,
    'SUBSCRIBED',
  ).then((ok) => check(ok, `vsn ${vsn || 'default'}: SUBSCRIBED (status ${status})`));
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
  const r = await channel.unsubscribe();
  check(r === 'ok', `unsubscribe answered (${r})`);
  await supabase.removeAllChannels();
  check(supabase.getChannels().length === 0, 'removeAllChannels');
  supabase.realtime.disconnect();
}

const server = await startServer();
try {
  await scenario(server.url, undefined, 'MSFT', 'IBM');
  await scenario(server.url, '1.0.0', 'NVDA', 'AMD');
} catch (e) {
  console.log(`# server log:\n${server.log()}`);
  throw e;
} finally {
  await server.stop();
}
console.log('supabase: all checks passed');
process.exit(0);
