'use strict';
// One BullMQ worker process for the shop (started and restarted by supervisor.js).
//
//   node worker.js <n>      -> worker name "bullworker-<n>", service "shop-bullmq-worker"
//
// Concurrency 1, so a crash kills only the job that caused it. lockDuration 5 s and a stalled
// check every second: when a worker process dies mid-job, its lock expires and another worker's
// stalled checker emits `moveStalledJobsToWait <queue>` with a `job stalled` event and moves the
// job back to wait (maxStalledCount 1: the second stall fails the job with
// "job stalled more than allowable limit"). SIGTERM closes the worker (waiting for the active
// job), flushes the spans and exits 0.

const { Worker } = require('bullmq');
const { setupTracing, bullmqTelemetry } = require('./telemetry');
const config = require('./config');
const { runJob, closeStore } = require('./shop');

const n = process.argv[2] || '1';
const provider = setupTracing('shop-bullmq-worker');

const worker = new Worker(config.queueName(), runJob, {
  connection: config.redisConnection(),
  name: `bullworker-${n}`,
  concurrency: 1,
  lockDuration: 5000,
  stalledInterval: 1000,
  maxStalledCount: 1,
  telemetry: bullmqTelemetry(),
});
const log = (msg) => console.log(`[bullworker-${n} pid ${process.pid}] ${msg}`);
worker.on('ready', () => log('ready'));
worker.on('completed', (job) => log(`job ${job.id} completed`));
worker.on('failed', (job, err) => log(`job ${job && job.id} failed: ${err.message}`));
worker.on('stalled', (jobId) => log(`job ${jobId} stalled`));
worker.on('error', (err) => log(`error: ${err.message}`));

let closing = false;
process.on('SIGTERM', async () => {
  if (closing) return;
  closing = true;
  log('closing');
  try {
    await worker.close();
    await closeStore();
  } finally {
    await provider.shutdown();
    process.exit(0);
  }
});
