// The backfill as a Node developer would assemble it in an afternoon, for
// bench/bench_fetch.sh: pg-boss 10 as the queue (one job per symbol,
// timeframe and trading day; one job per symbol for d1), the official
// Massive client (@massive.com/client-js, pointed at the given base URL, its
// auto-pagination on), bottleneck as the rate limiter (BURST requests
// every BURST/RATE seconds), node-postgres, and one batched upsert per
// job into a bars table shaped like barkeep's (ON CONFLICT DO UPDATE).
// Failed jobs are retried by pg-boss (retryLimit 5, retryDelay 1 s); the
// client gets a TIMEOUT_MS deadline per request (axios has none by default).
// pg-boss otherwise runs with its defaults (maintenance, scheduling).
//
// usage: node nodestack.mjs DB_URL BASE_URL SYMBOLS TFS DATES
//   SYMBOLS, TFS (1m, 5m, 15m, 30m, d1) and DATES (YYYY-MM-DD trading days)
//   are comma lists. Environment: RATE (20), BURST (20), WORKERS (4 work()
//   calls), BATCH (10 jobs per fetch), TIMEOUT_MS (5000).
// Prints "jobs N completed N failed N seconds S" and a "ROW|..." line.
import PgBoss from 'pg-boss';
import Bottleneck from 'bottleneck';
import pg from 'pg';
import { restClient } from '@massive.com/client-js';

const [url, base, symList, tfList, dateList] = process.argv.slice(2);
if (!url || !base || !symList || !tfList || !dateList) {
  console.error('usage: node nodestack.mjs DB_URL BASE_URL SYMBOLS TFS DATES');
  process.exit(2);
}
const env = (k, d) => +(process.env[k] || d);
const RATE = env('RATE', 20), BURST = env('BURST', 20), WORKERS = env('WORKERS', 4);
const BATCH = env('BATCH', 10), TIMEOUT_MS = env('TIMEOUT_MS', 5000);
const QUEUE = 'fetch-bars';
const SPANS = { '1m': [1, 'minute'], '5m': [5, 'minute'], '15m': [15, 'minute'], '30m': [30, 'minute'], d1: [1, 'day'] };
const symbols = symList.split(','), tfs = tfList.split(','), dates = dateList.split(',');

const db = new pg.Pool({ connectionString: url, max: 10 });
const rest = restClient(process.env.MASSIVE_API_KEY || 'bench-key', base, { pagination: true });
// BURST requests per BURST/RATE seconds, as bottleneck's README sets a
// per-second limit (its reservoirIncrease* options add at most one step per
// 250 ms heartbeat, 4 requests/s here)
const limiter = new Bottleneck({
  reservoir: BURST,
  reservoirRefreshAmount: BURST,
  reservoirRefreshInterval: 1000 * BURST / RATE
});

async function fetchAndStore ({ symbol, tf, from, to }) {
  const [multiplier, timespan] = SPANS[tf];
  const resp = await limiter.schedule(() => rest.getStocksAggregates({
    stocksTicker: symbol, multiplier, timespan, from, to, adjusted: true, sort: 'asc', limit: 50000
  }, { timeout: TIMEOUT_MS }));
  const body = resp && resp.results === undefined && resp.data ? resp.data : resp;
  const bars = (body && body.results) || []; // no results key: no bars that day
  if (bars.length === 0) return 0;
  await db.query(
    `INSERT INTO bars (symbol, timeframe, ts, open, high, low, close, volume)
     SELECT $1, $2, to_timestamp(t / 1000.0), o, h, l, c, v
       FROM unnest($3::bigint[], $4::float8[], $5::float8[], $6::float8[], $7::float8[], $8::float8[])
         AS u(t, o, h, l, c, v)
     ON CONFLICT (symbol, timeframe, ts) DO UPDATE SET open = EXCLUDED.open, high = EXCLUDED.high,
       low = EXCLUDED.low, close = EXCLUDED.close, volume = EXCLUDED.volume`,
    [symbol, tf, bars.map(b => b.t), bars.map(b => b.o), bars.map(b => b.h), bars.map(b => b.l),
      bars.map(b => b.c), bars.map(b => b.v)]);
  return bars.length;
}

async function main () {
  await db.query(`CREATE TABLE IF NOT EXISTS bars (
    symbol text NOT NULL, timeframe text NOT NULL, ts timestamptz NOT NULL,
    open double precision NOT NULL, high double precision NOT NULL, low double precision NOT NULL,
    close double precision NOT NULL, volume double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (symbol, timeframe, ts))`);
  const boss = new PgBoss({ connectionString: url });
  boss.on('error', err => console.error('pg-boss:', err.message));
  await boss.start();
  await boss.createQueue(QUEUE, { retryLimit: 5, retryDelay: 1 });
  const jobs = [];
  for (const symbol of symbols) {
    for (const tf of tfs) {
      if (tf === 'd1') jobs.push({ symbol, tf, from: dates[0], to: dates[dates.length - 1] });
      else for (const d of dates) jobs.push({ symbol, tf, from: d, to: d });
    }
  }
  const t0 = Date.now();
  await boss.insert(jobs.map(data => ({ name: QUEUE, data })));
  for (let k = 0; k < WORKERS; k++) {
    await boss.work(QUEUE, { batchSize: BATCH, pollingIntervalSeconds: 0.5 }, async batch => {
      await Promise.all(batch.map(async job => {
        try {
          await fetchAndStore(job.data);
        } catch (err) {
          await boss.fail(QUEUE, job.id, { message: err.message });
        }
      }));
    });
  }
  let counts;
  for (;;) {
    const { rows } = await db.query(
      `SELECT count(*) FILTER (WHERE state IN ('created', 'retry', 'active')) AS pending,
              count(*) FILTER (WHERE state = 'completed') AS completed,
              count(*) FILTER (WHERE state = 'failed') AS failed
         FROM pgboss.job WHERE name = $1`, [QUEUE]);
    counts = rows[0];
    if (+counts.pending === 0) break;
    if (Date.now() - t0 > 600000) throw new Error('timed out');
    await new Promise(resolve => setTimeout(resolve, 200));
  }
  const secs = (Date.now() - t0) / 1000;
  await boss.stop({ graceful: false, wait: true });
  await db.end();
  console.log(`jobs ${jobs.length} completed ${counts.completed} failed ${counts.failed} seconds ${secs.toFixed(2)}`);
  console.log(`ROW|${jobs.length}|${counts.completed}|${counts.failed}|${secs.toFixed(2)}`);
}

main().catch(err => { console.error('nodestack.mjs:', err.message); process.exit(1); });
