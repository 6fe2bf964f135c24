'use strict';
// Drain N no-op jobs with graphile-worker 0.17 at a given concurrency.
//   mode fast:    the documented batching options (performance docs):
//                 localQueue.size = 100 (the pool locks and fetches jobs in
//                 batches) and completeJobBatchDelay = 0 (completions of one
//                 tick go in one statement); LISTEN/NOTIFY as always.
//   mode default: no options beyond concurrency.
// Jobs are added beforehand with addJobs (5,000 per call); the clock runs
// from run() until the jobs table is empty.
const { run, makeWorkerUtils, Logger } = require('graphile-worker');
const { args, admin, waitDrained, report } = require('./common');

const LOCAL_QUEUE = 100;

async function main () {
  const { url, n, c, mode } = args();
  const logger = new Logger(() => () => {});
  const db = await admin(url);
  await db.query('DROP SCHEMA IF EXISTS graphile_worker CASCADE');
  const utils = await makeWorkerUtils({ connectionString: url, logger });
  await utils.migrate();
  for (let i = 0; i < n; i += 5000) {
    const specs = [];
    for (let j = i; j < Math.min(n, i + 5000); j++) specs.push({ identifier: 'noop', payload: { j } });
    await utils.addJobs(specs);
  }
  await utils.release();
  await db.query('VACUUM ANALYZE graphile_worker._private_jobs');
  let handled = 0;
  const preset = mode === 'fast'
    ? { worker: { localQueue: { size: LOCAL_QUEUE }, completeJobBatchDelay: 0 } }
    : {};
  const t0 = Date.now();
  const runner = await run({
    connectionString: url,
    concurrency: c,
    maxPoolSize: c + 4,
    noHandleSignals: true,
    logger,
    preset,
    taskList: { noop: async () => { handled++; } }
  });
  await waitDrained(db, n, () => handled,
    'SELECT count(*) AS n FROM graphile_worker._private_jobs', t0);
  const secs = (Date.now() - t0) / 1000;
  await runner.stop();
  await db.end();
  const config = mode === 'fast'
    ? `localQueue.size ${LOCAL_QUEUE}, completeJobBatchDelay 0`
    : 'defaults';
  report('graphile-worker ' + require('graphile-worker/package.json').version, config, c, n, secs);
}

main().catch(err => { console.error('graphile.js:', err.message); process.exit(1); });
