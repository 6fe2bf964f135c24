'use strict';
// Shared by the peer drivers of bench/bench_queue.sh: arguments, the admin
// connection, the wait for an empty queue and the result line ("ROW|...",
// read by the script's table).
const { Client } = require('pg');

const TIMEOUT_MS = 600000;

function args () {
  const [url, n, c, mode] = process.argv.slice(2);
  if (!url || !(+n > 0) || !(+c > 0)) {
    console.error('usage: node ' + process.argv[1] + ' URL N_JOBS CONCURRENCY [MODE]');
    process.exit(2);
  }
  return { url, n: +n, c: +c, mode: mode || 'fast' };
}

async function admin (url) {
  const db = new Client({ connectionString: url });
  await db.connect();
  await db.query('SET client_min_messages = warning');
  return db;
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

// Resolve once handled() reached n and the database shows no pending job.
async function waitDrained (db, n, handled, pendingSql, t0) {
  for (;;) {
    if (Date.now() - t0 > TIMEOUT_MS) throw new Error('timed out draining the queue');
    if (handled() >= n) {
      const { rows } = await db.query(pendingSql);
      if (+rows[0].n === 0) return;
    }
    await sleep(handled() >= n ? 5 : 20);
  }
}

function report (system, config, c, n, secs) {
  console.log(`${system} ${config}, concurrency ${c}: ${n} jobs in ${secs.toFixed(3)} s -> ${(n / secs).toFixed(0)} jobs/s`);
  console.log(`ROW|${system}|${config}|${c}|${n}|${secs.toFixed(3)}|${(n / secs).toFixed(0)}`);
}

module.exports = { args, admin, sleep, waitDrained, report };
