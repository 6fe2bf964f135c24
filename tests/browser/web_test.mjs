// web_test.mjs — the web client in headless Chromium against the real
// `barkeep serve` (sim provider, scratch SQLite database, a free loopback
// port read from port_file). Two modes:
//
//   hydrate  open an uncovered symbol with the keyboard: the ribbon appears,
//            moves, reaches 100% and goes; the chart then holds the stored
//            candles (read back from the chart library); the ops view lists
//            the runs; no console errors. Then the benchmark: select to fully
//            drawn chart for uncovered symbols (1h, 30 days, sim at zero
//            latency), written to bench_web.json.
//   fault    bars stored first, then a server whose provider answers 5xx and
//            which requires a key: the page asks for the key, and opening a
//            longer window leaves the stored bars on the chart with a notice;
//            the ops view shows the errors and retries the dead letters.
//            Then a series with a stored forecast (imported daily bars, a
//            run_forecast definition, its scores): the forecast is drawn with
//            its 80% and 95% bands past the last bar, the realized coverage
//            next to it, and the toggle hides and shows it.
//
// Screenshots and server logs go to $BK_ARTIFACTS. Nothing sleeps to
// synchronise: every wait is on a condition, an event or a process, with a
// timeout. Environment: BARKEEP_BIN, BK_BROWSER_DIR (node_modules of
// playwright-core), BK_ARTIFACTS, BK_CHROMIUM.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

const BIN = need('BARKEEP_BIN');
const ART = need('BK_ARTIFACTS');
const CHROMIUM = process.env.BK_CHROMIUM || '/usr/bin/chromium';
const { chromium } = createRequire(join(need('BK_BROWSER_DIR'), 'node_modules', '_'))('playwright-core');

// barkeep's clock: the harness's instant (BK_TEST_NOW, set by the clock
// matrix of scripts/test.sh), else a Wednesday after the close: no bar closes
// during the test.
const NOW = process.env.BK_TEST_NOW || '2026-11-25T23:00:00Z';
const WAIT_MS = 30000;
const BENCH_SYMBOLS = ['MSFT', 'NVDA', 'AMZN'];

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run through ctest)`);
  return v;
}

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  console.log(`ok - ${what}`);
}

// ---- processes ----

function cleanEnv(extra = {}) {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('BARKEEP_') && k !== 'BARKEEP_BIN') delete env[k];
  return { ...env, ...extra };
}

async function runCli(args, log) {
  const child = spawn(BIN, args, { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  const [code] = await once(child, 'exit');
  if (code !== 0) throw new Error(`barkeep ${args.join(' ')} exited ${code}`);
}

// Resolve when probe() returns a value, re-probing whenever one of the
// emitters fires; reject on timeout or when the process exits first.
function waitUntil(probe, { emitters, child, timeoutMs, what }) {
  return new Promise((resolve, reject) => {
    const cleanups = [];
    const done = (fn, v) => {
      for (const c of cleanups) c();
      fn(v);
    };
    const attempt = () => {
      const v = probe();
      if (v !== undefined) done(resolve, v);
    };
    for (const [em, ev] of emitters) {
      em.on(ev, attempt);
      cleanups.push(() => em.off(ev, attempt));
    }
    const onExit = (code) => done(reject, new Error(`barkeep exited (${code}) before ${what}`));
    child.on('exit', onExit);
    cleanups.push(() => child.off('exit', onExit));
    const t = setTimeout(() => done(reject, new Error(`timed out waiting for ${what}`)), timeoutMs);
    cleanups.push(() => clearTimeout(t));
    attempt();
  });
}

async function startServer(name, { db, sets = [], env = {}, now = NOW }) {
  const dir = mkdtempSync(join(tmpdir(), `bk-web-${name}-`));
  const portFile = join(dir, 'port');
  const log = createWriteStream(join(ART, `${name}-server.log`));
  const args = ['--db', db, '--now', now, '--set', `port_file=${portFile}`];
  for (const s of sets) args.push('--set', s);
  args.push('serve', '--listen', '127.0.0.1:0', '--workers', '4');
  const child = spawn(BIN, args, { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const watcher = watch(dir);
  let port;
  try {
    port = await waitUntil(
      () => {
        try {
          const text = readFileSync(portFile, 'utf8');
          return text.endsWith('\n') ? Number(text.trim()) : undefined;
        } catch {
          return undefined;
        }
      },
      {
        emitters: [
          [watcher, 'change'],
          [child.stderr, 'data'],
        ],
        child,
        timeoutMs: WAIT_MS,
        what: 'the port file',
      },
    );
  } finally {
    watcher.close();
  }
  const url = `http://127.0.0.1:${port}/`;
  console.log(`# ${name}: barkeep serve at ${url}`);
  return {
    url,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10000);
      await exited;
      clearTimeout(t);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---- browser ----

async function openPage(browser, url, { allow = [] } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    if (!allow.some((re) => re.test(text))) errors.push(text);
  });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('dialog', (d) => d.accept());
  await page.goto(url);
  return { context, page, errors };
}

function ready(page) {
  return page.waitForSelector('body[data-ready="true"]', { state: 'attached', timeout: WAIT_MS });
}

async function openSeries(page, symbol, tf, days) {
  await page.focus('#open-symbol');
  await page.keyboard.press('Control+A');
  await page.keyboard.type(symbol);
  await page.keyboard.press('Tab');
  await page.selectOption('#open-tf', tf);
  await page.keyboard.press('Tab');
  await page.keyboard.press('Control+A');
  await page.keyboard.type(String(days));
  await page.keyboard.press('Enter');
}

async function chartBars(page) {
  return page.evaluate(() => window.__barkeep.chartData());
}

async function storedBars(page, symbol, tf, days) {
  return page.evaluate(
    async ([sym, timeframe, n]) => {
      const res = await fetch('functions/v1/chart-data-v2', {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          ...(localStorage.getItem('barkeep.key')
            ? { Authorization: `Bearer ${localStorage.getItem('barkeep.key')}` }
            : {}),
        },
        body: JSON.stringify({ symbol: sym, timeframe, days: n }),
      });
      return (await res.json()).metadata.total_bars;
    },
    [symbol, tf, days],
  );
}

async function shot(page, name) {
  await page.screenshot({ path: join(ART, `${name}.png`) });
  console.log(`# screenshot ${join(ART, `${name}.png`)}`);
}

// ---- hydrate ----

// The page revalidates (ETag, 304); its assets are typed and cached for good.
async function checkHeaders(url) {
  const index = await fetch(url);
  const html = await index.text();
  const etag = index.headers.get('etag');
  check(
    index.status === 200 &&
      /^text\/html/.test(index.headers.get('content-type')) &&
      index.headers.get('cache-control') === 'no-cache' &&
      etag,
    'GET / is HTML with an ETag and no-cache',
  );
  const again = await fetch(url, { headers: { 'If-None-Match': etag } });
  check(again.status === 304, 'GET / with If-None-Match answers 304');
  const app = html.match(/assets\/[0-9a-f]+\/app\.js/)[0];
  const js = await fetch(new URL(app, url));
  check(
    js.status === 200 &&
      /^text\/javascript/.test(js.headers.get('content-type')) &&
      /immutable/.test(js.headers.get('cache-control')),
    `${app} is JavaScript, cached as immutable`,
  );
  check((await fetch(new URL('assets/0000/app.js', url))).status === 404, 'an unknown asset is 404');
}

async function hydrate(browser) {
  const work = mkdtempSync(join(tmpdir(), 'bk-web-db-'));
  // The 2 h grid (the sim serves 30 days of 1h in one request): a ribbon
  // with steps to show.
  const srv = await startServer('hydrate', {
    db: join(work, 'hydrate.db'),
    sets: ['sim_latency_ms=40', 'slice_hours_intraday=2'],
  });
  let context;
  try {
    await checkHeaders(srv.url);
    const { page, errors, context: c } = await openPage(browser, srv.url);
    context = c;
    await ready(page);
    check(await page.isVisible('#watch-empty'), 'an empty watchlist says so');
    await openSeries(page, 'AAPL', '1h', 30);
    await page.waitForSelector('#ribbon', { state: 'visible', timeout: WAIT_MS });
    await page.waitForFunction(
      () => {
        const r = document.getElementById('ribbon');
        return !r.hidden && Number(r.getAttribute('aria-valuenow')) > 0;
      },
      null,
      { timeout: WAIT_MS },
    );
    await shot(page, 'hydrating');
    await page.waitForFunction(
      () => {
        const log = window.__barkeep.ribbonLog;
        const full = log.findIndex((e) => e.visible && e.pct === 100);
        return full >= 0 && log.slice(full).some((e) => !e.visible);
      },
      null,
      { timeout: WAIT_MS },
    );
    const log = await page.evaluate(() => window.__barkeep.ribbonLog);
    const shown = log.filter((e) => e.visible);
    const between = new Set(shown.filter((e) => e.pct > 0 && e.pct < 100).map((e) => e.pct));
    check(between.size >= 2, `the ribbon moved (${[...between].join(', ')}%)`);
    check(
      shown.every((e, i) => i === 0 || e.pct >= shown[i - 1].pct),
      'the ribbon never went back',
    );
    check(
      shown.some((e) => e.total > 0 && e.done === e.total && e.pct === 100),
      'the ribbon reached 100% with every slice done',
    );
    check(
      shown.some((e) => e.provider === 'sim'),
      'the ribbon named the provider',
    );
    check(await page.isHidden('#ribbon'), 'the ribbon is gone');
    const bars = await chartBars(page);
    const stored = await storedBars(page, 'AAPL', '1h', 30);
    check(
      bars.length > 100 && bars.length === stored,
      `the chart holds every stored candle (${bars.length} of ${stored})`,
    );
    check(
      bars.every((b) => b.low <= Math.min(b.open, b.close) && b.high >= Math.max(b.open, b.close)),
      'the candles are well formed',
    );
    check(await page.isHidden('#notice'), 'no notice after a clean hydration');
    const item = await page.textContent('#watchlist .item.current');
    check(
      /AAPL/.test(item) && /100%/.test(item) && /success/.test(item) && /sim/.test(item),
      'the watchlist shows coverage, run status and provider',
    );
    await shot(page, 'finished');

    await page.focus('#tab-chart');
    await page.keyboard.press('ArrowRight');
    await page.waitForFunction(() => document.querySelectorAll('#ops-runs tbody tr td.num').length > 0, null, {
      timeout: WAIT_MS,
    });
    const runs = await page.$$eval('#ops-runs tbody tr', (rows) => rows.map((r) => r.textContent));
    check(
      runs.length >= 10 && runs.every((t) => /AAPL 1h/.test(t) && /success/.test(t)),
      `the ops view lists the runs (${runs.length})`,
    );
    const providers = await page.textContent('#ops-providers tbody');
    check(/sim/.test(providers) && /healthy/.test(providers), 'the ops view shows the provider as healthy');
    await shot(page, 'ops');

    await page.setViewportSize({ width: 390, height: 844 });
    await page.click('#tab-chart');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 1, `nothing overflows a phone-width screen (${overflow}px)`);
    await shot(page, 'phone');
    check(errors.length === 0, `no console errors${errors.length ? `: ${errors.join(' | ')}` : ''}`);
  } finally {
    if (context) await context.close(); // end the event streams before the server
    await srv.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

// Select to fully drawn chart, for uncovered symbols at zero provider latency.
async function bench(browser) {
  const work = mkdtempSync(join(tmpdir(), 'bk-web-db-'));
  const srv = await startServer('bench', { db: join(work, 'bench.db'), sets: ['sim_latency_ms=0'] });
  let context;
  try {
    const { page, errors, context: c } = await openPage(browser, srv.url);
    context = c;
    await ready(page);
    const times = [];
    const draw = [];
    for (const [i, symbol] of BENCH_SYMBOLS.entries()) {
      await openSeries(page, symbol, '1h', 30);
      await page.waitForFunction((n) => window.__barkeep.timings.filter((t) => t.hydrated).length > n, i, {
        timeout: WAIT_MS,
      });
      const t = (await page.evaluate(() => window.__barkeep.timings.filter((x) => x.hydrated))).at(-1);
      check(
        t.symbol === symbol && t.bars > 100,
        `${symbol} 1h 30 days: ${t.bars} bars drawn ${t.ms.toFixed(0)} ms after selecting (complete seen at ${t.seen_ms.toFixed(0)} ms)`,
      );
      times.push(t.ms);
      draw.push(t.ms - t.seen_ms);
    }
    await page.click('#watchlist button.remove[data-key="AMZN|1h"]'); // the confirm() is accepted
    await page.waitForFunction(() => !document.querySelector('#watchlist button.pick[data-key="AMZN|1h"]'), null, {
      timeout: WAIT_MS,
    });
    const left = await page.$$eval('#watchlist button.pick', (b) => b.map((x) => x.dataset.key));
    check(
      !left.includes('AMZN|1h') && left.includes('MSFT|1h'),
      `removing a series takes it off the watchlist (${left.join(' ')})`,
    );
    check(errors.length === 0, 'no console errors during the benchmark');
    const sorted = [...times].sort((a, b) => a - b);
    const result = {
      what: 'select an uncovered symbol (1h, 30 days, sim at zero latency) to fully drawn chart',
      runs: times.map((x) => Math.round(x)),
      median_ms: Math.round(sorted[Math.floor(sorted.length / 2)]),
      min_ms: Math.round(sorted[0]),
      max_ms: Math.round(sorted.at(-1)),
      final_draw_ms: draw.map((x) => Math.round(x)),
    };
    writeFileSync(join(ART, 'bench_web.json'), `${JSON.stringify(result, null, 2)}\n`);
    console.log(
      `bench web_select_to_chart_ms median=${result.median_ms} min=${result.min_ms} max=${result.max_ms} runs=${result.runs.join(',')}`,
    );
  } finally {
    if (context) await context.close(); // end the event streams before the server
    await srv.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

// ---- fault ----

async function fault(browser) {
  const work = mkdtempSync(join(tmpdir(), 'bk-web-db-'));
  const db = join(work, 'fault.db');
  const log = createWriteStream(join(ART, 'fault-setup.log'));
  await runCli(['--db', db, '--now', NOW, 'jobs', 'add', 'AAPL', '1h', '--window-days', '5'], log);
  await runCli(['--db', db, '--now', NOW, 'tick', '--wait'], log);
  log.end();
  const key = randomBytes(18).toString('hex');
  const srv = await startServer('fault', {
    db,
    // every page fails and every run dead-letters at its first attempt; the
    // breaker stays closed (an open breaker makes runs wait, not fail)
    // (and the 2 h grid the hydrate test uses: many runs failing one by one)
    sets: [
      'sim_fault_rate=1',
      'sim_faults=5xx',
      'max_attempts=1',
      'page_retries=0',
      'breaker_failures=1000',
      'slice_hours_intraday=2',
    ],
    env: { BARKEEP_SERVICE_KEY: key },
  });
  let context;
  try {
    // the first calls are answered 401 until the key is given: those are expected
    const { page, errors, context: c } = await openPage(browser, srv.url, { allow: [/status of 401/] });
    context = c;
    await page.waitForSelector('#key-dialog[open]', { timeout: WAIT_MS });
    await page.fill('#key-input', key);
    await page.keyboard.press('Enter');
    await ready(page);
    check(await page.evaluate(() => window.__barkeep.hasKey()), 'the key is kept in local storage');
    await page.waitForFunction(() => window.__barkeep.chartData().length > 0, null, { timeout: WAIT_MS });
    check((await chartBars(page)).length > 10, 'the stored bars are drawn');
    const before = await storedBars(page, 'AAPL', '1h', 30);

    await openSeries(page, 'AAPL', '1h', 30);
    await page.waitForFunction(
      () => {
        const n = document.getElementById('notice');
        return !n.hidden && /PROVIDER_|failed/.test(n.textContent) && window.__barkeep.chartData().length > 0;
      },
      null,
      { timeout: WAIT_MS },
    );
    await page.waitForFunction(() => document.getElementById('ribbon').classList.contains('failed'), null, {
      timeout: WAIT_MS,
    });
    const notice = await page.textContent('#notice');
    const bars = await chartBars(page);
    const stored = await storedBars(page, 'AAPL', '1h', 30);
    check(bars.length === stored && stored === before, `the chart keeps the ${bars.length} stored bars`);
    check(/stored/.test(notice), `a notice says so: "${notice.trim()}"`);
    await shot(page, 'fault');

    await page.click('#tab-ops');
    await page.waitForFunction(() => document.querySelectorAll('#ops-dead tbody td.code').length > 0, null, {
      timeout: WAIT_MS,
    });
    const errorsText = await page.textContent('#ops-errors tbody');
    check(/PROVIDER_(5XX|UNAVAILABLE)/.test(errorsText), 'the ops view lists the errors with their codes');
    check(/failing/.test(await page.textContent('#ops-providers tbody')), 'the ops view shows the provider failing');
    await shot(page, 'fault-ops');
    await page.click('#retry-button');
    await page.waitForFunction(
      () => /put back in the queue/.test(document.getElementById('retry-result').textContent),
      null,
      { timeout: WAIT_MS },
    );
    check(true, `retry: ${(await page.textContent('#retry-result')).trim()}`);
    check(errors.length === 0, `no unexpected console errors${errors.length ? `: ${errors.join(' | ')}` : ''}`);
  } finally {
    if (context) await context.close(); // end the event streams before the server
    await srv.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

// ---- forecast ----

async function forecast(browser) {
  const work = mkdtempSync(join(tmpdir(), 'bk-web-db-'));
  const db = join(work, 'forecast.db');
  const log = createWriteStream(join(ART, 'forecast-setup.log'));
  // A forecast from Friday 2001-07-13's close, scored when the bars to
  // 2001-09-27 land, then the next forecast, from that last bar.
  const then = '2001-07-16T12:00:00Z';
  const now = '2001-09-28T12:00:00Z';
  const full = fileURLToPath(new URL('../../bench/data/msft_daily_2000_2001.csv', import.meta.url));
  const head = join(work, 'head.csv');
  writeFileSync(head, `${readFileSync(full, 'utf8').split('\n').slice(0, 201).join('\n')}\n`);
  const cli = (at, args) => runCli(['--db', db, '--now', at, ...args], log);
  await cli(then, ['import', head, '--symbol', 'MSFT', '--timeframe', 'd1']);
  await cli(then, ['jobs', 'add', 'MSFT', 'd1', '--type', 'run_forecast', '--window-days', '250']);
  await cli(then, ['tick', '--wait']);
  await cli(now, ['import', full, '--symbol', 'MSFT', '--timeframe', 'd1']);
  await cli(now, ['tick', '--wait']);
  log.end();
  const srv = await startServer('forecast', { db, now });
  let context;
  try {
    const { page, errors, context: c } = await openPage(browser, `${srv.url}#MSFT/d1/90`);
    context = c;
    await ready(page);
    await page.waitForFunction(() => window.__barkeep.forecastData().bands === 20, null, { timeout: WAIT_MS });
    const f = await page.evaluate(() => window.__barkeep.forecastData());
    check(f.shown && f.steps === 21, `the forecast is drawn past the last bar (${f.steps - 1} steps)`);
    check(await page.isVisible('#fc-toggle'), 'a toggle shows and hides it');
    const meta = await page.textContent('#fc-meta');
    check(
      /20 scored steps: 80% band \d+%, 95% band \d+%/.test(meta) && /2001-09-27/.test(meta),
      `the realized coverage is shown next to it: "${meta.trim()}"`,
    );
    await shot(page, 'forecast');
    await page.click('#fc-toggle');
    await page.waitForFunction(() => !window.__barkeep.forecastData().shown, null, { timeout: WAIT_MS });
    const off = await page.evaluate(() => window.__barkeep.forecastData());
    check(off.steps === 0 && off.bands === 0, 'the toggle hides the forecast and its bands');
    check((await chartBars(page)).length > 50, 'the candles stay');
    await page.click('#fc-toggle');
    await page.waitForFunction(() => window.__barkeep.forecastData().bands === 20, null, { timeout: WAIT_MS });
    check(true, 'the toggle shows them again');
    check(errors.length === 0, `no console errors${errors.length ? `: ${errors.join(' | ')}` : ''}`);
  } finally {
    if (context) await context.close();
    await srv.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

async function main() {
  const mode = process.argv[2];
  const tests = { hydrate: [hydrate, bench], fault: [fault, forecast] }[mode];
  if (!tests) throw new Error('usage: web_test.mjs hydrate|fault');
  mkdirSync(ART, { recursive: true });
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  const started = Date.now();
  try {
    for (const t of tests) await t(browser);
  } finally {
    await browser.close();
  }
  console.log(`# ${mode}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`not ok - ${e.stack || e}`);
    process.exit(1);
  },
);
