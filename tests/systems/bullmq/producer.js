'use strict';
// Add the planned shop jobs to BullMQ, as the instrumented web app "shop-api" would.
//
//   node producer.js PLAN.json JOBS.json
//
// PLAN.json: [{scenario, effect_key, recipient}]; JOBS.json receives the same list with the
// BullMQ job_id and job_name. Each add produces an `add <queue>.<jobName>` PRODUCER span that
// carries the trace context to the worker. Retry scenarios get attempts 2 with a fixed 300 ms
// backoff; everything else runs once.

const fs = require('node:fs');
const { Queue } = require('bullmq');
const { setupTracing, bullmqTelemetry } = require('./telemetry');
const config = require('./config');

const RETRIED_SCENARIOS = new Set(['retry_duplicate', 'retry_then_ok']);

async function main(planPath, jobsPath) {
  const provider = setupTracing('shop-api');
  const queue = new Queue(config.queueName(), {
    connection: config.redisConnection(),
    telemetry: bullmqTelemetry(),
  });
  const plan = JSON.parse(fs.readFileSync(planPath, 'utf8'));
  const jobs = [];
  try {
    for (const item of plan) {
      const opts = RETRIED_SCENARIOS.has(item.scenario)
        ? { attempts: 2, backoff: { type: 'fixed', delay: 300 } }
        : { attempts: 1 };
      const data = { orderId: item.effect_key, scenario: item.scenario, recipient: item.recipient };
      const job = await queue.add(config.jobName, data, opts);
      jobs.push({ ...item, job_id: job.id, job_name: job.name });
    }
  } finally {
    await queue.close();
    await provider.shutdown();
  }
  fs.writeFileSync(jobsPath, JSON.stringify(jobs, null, 2));
}

main(process.argv[2], process.argv[3]).catch((err) => {
  console.error(err);
  process.exit(1);
});
