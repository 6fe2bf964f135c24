'use strict';
// Drain N no-op jobs with pg-boss 10 using CONCURRENCY workers (one work()
// call each), each fetching up to 100 jobs per statement (batchSize 100;
// the batch is completed in one statement), polling at the minimum interval
// (0.5 s), maintenance and scheduling off.
//   mode fast:   also notifyWorker(id) after a full batch, so a busy worker
//                fetches again at once instead of sleeping out the polling
//                interval (a v10 worker sleeps between fetches even when the
//                last one was full).
//   mode poll:   without that.
// Jobs are inserted beforehand with insert() (5,000 per call); the clock
// runs from the first work() until no job is created, retry or active.
const PgBoss = require('pg-boss');
const { args, admin, waitDrained, report } = require('./common');

const BATCH = 100;
const QUEUE = 'noop';

async function main () {
  const { url, n, c, mode } = args();
  const db = await admin(url);
  await db.query('DROP SCHEMA IF EXISTS pgboss CASCADE');
  const boss = new PgBoss({
    connectionString: url, schema: 'pgboss', max: c + 4, supervise: false, schedule: false
  });
  boss.on('error', err => console.error('pg-boss:', err.message));
  await boss.start();
  await boss.createQueue(QUEUE);
  for (let i = 0; i < n; i += 5000) {
    const jobs = [];
    for (let j = i; j < Math.min(n, i + 5000); j++) jobs.push({ name: QUEUE, data: { j } });
    await boss.insert(jobs);
  }
  await db.query('VACUUM ANALYZE pgboss.job');
  let handled = 0;
  const ids = [];
  const t0 = Date.now();
  for (let k = 0; k < c; k++) {
    const handler = async jobs => {
      handled += jobs.length;
      if (mode === 'fast' && jobs.length === BATCH && ids[k]) boss.notifyWorker(ids[k]);
    };
    ids[k] = await boss.work(QUEUE, { batchSize: BATCH, pollingIntervalSeconds: 0.5 }, handler);
  }
  await waitDrained(db, n, () => handled,
    "SELECT count(*) AS n FROM pgboss.job WHERE name = 'noop' AND state IN ('created', 'retry', 'active')",
    t0);
  const secs = (Date.now() - t0) / 1000;
  await boss.stop({ graceful: false, wait: true });
  await db.end();
  const config = `batchSize ${BATCH}, polling 0.5 s` + (mode === 'fast' ? ', notifyWorker after a full batch' : '');
  report('pg-boss ' + require('pg-boss/package.json').version, config, c, n, secs);
}

main().catch(err => { console.error('pgboss.js:', err.message); process.exit(1); });
