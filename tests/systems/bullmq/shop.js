'use strict';
// The Node "shop": the order-confirmation job, the same behaviour per scenario as the Python
// shop (tests/systems/shop/behaviour.py; catalogue in tests/systems/scenarios.py).
//
// Hand instrumentation uses the OpenTelemetry API only (tracer scope "shop.jobs" / "1.0.0"):
//   smtp.send            CLIENT, wraps the SMTP conversation; ERROR + exception event on refusal
//   side_effect.confirm  INTERNAL, only after the 250 reply to DATA
//   job.done             span EVENT on the active span (BullMQ's `process <queue>`) at the moment
//                        the job writes status=completed to the shop's store
//
// The shop's store lives in the same Redis DB as BullMQ (same keys as the Python store):
// shop:order:<key> {status, confirmations} and shop:once:<key>:<what> markers.

const { trace, SpanKind, SpanStatusCode } = require('@opentelemetry/api');
const IORedis = require('ioredis');
const config = require('./config');
const { sendMail } = require('./smtp');

const tracer = trace.getTracer('shop.jobs', '1.0.0');
const SENDER = 'orders@shop.test';
const BACKGROUND_SEND_DELAY_MS = 500;

let redis;
function store() {
  if (!redis) redis = new IORedis(config.redisConnection());
  return redis;
}
async function closeStore() {
  if (redis) await redis.quit();
}
const markCompleted = (orderId) => store().hset(`shop:order:${orderId}`, 'status', 'completed');
const recordConfirmation = (orderId) => store().hincrby(`shop:order:${orderId}`, 'confirmations', 1);
const firstTime = async (orderId, what) => (await store().set(`shop:once:${orderId}:${what}`, '1', 'NX')) === 'OK';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function sendConfirmation({ jobId, orderId, recipient, crashAfterMailFrom = false }) {
  const host = config.smtpHost();
  const port = config.smtpPort();
  const attributes = {
    'server.address': host,
    'server.port': port,
    'network.protocol.name': 'smtp',
    'email.to.domain': recipient.split('@').pop(),
    'side_effect.key': orderId,
    'job.id': jobId,
  };
  const message = [
    `From: ${SENDER}`,
    `To: ${recipient}`,
    `Subject: Your order ${orderId} is confirmed`,
    `X-Order-Id: ${orderId}`,
    '',
    `Thank you! Order ${orderId} is confirmed.`,
  ].join('\r\n');

  await tracer.startActiveSpan('smtp.send', { kind: SpanKind.CLIENT, attributes }, async (span) => {
    try {
      const code = await sendMail({
        host,
        port,
        from: SENDER,
        to: recipient,
        message,
        // Die like a SIGKILLed / OOM-killed worker: no exception, no span end, no flush.
        afterMailFrom: crashAfterMailFrom
          ? async () => {
              await sleep(config.crashDelayMs());
              process.exit(137);
            }
          : undefined,
      });
      span.setAttribute('smtp.reply.code', code);
    } catch (err) {
      if (err.responseCode) span.setAttribute('smtp.reply.code', err.responseCode);
      span.recordException(err);
      span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
      throw err;
    } finally {
      span.end();
    }
  });

  // The server accepted the message: this, and only this, proves the effect happened.
  tracer
    .startSpan('side_effect.confirm', {
      kind: SpanKind.INTERNAL,
      attributes: {
        'side_effect.name': 'email.sent',
        'side_effect.key': orderId,
        'job.id': jobId,
        'job.system': 'bullmq',
      },
    })
    .end();
  await recordConfirmation(orderId);
}

async function markDone(jobId, orderId) {
  await markCompleted(orderId);
  trace.getActiveSpan()?.addEvent('job.done', {
    'job.id': jobId,
    'job.status': 'completed',
    'side_effect.key': orderId,
  });
}

const SCENARIOS = new Set([
  'ok', 'skipped', 'swallowed', 'premature_sync', 'premature_thread', 'retry_duplicate',
  'retry_then_ok', 'failed', 'crash', 'crash_first_delivery',
]);

// The BullMQ processor: one delivery of the job. Throwing makes BullMQ retry the job when it
// was added with attempts > 1, and fail it otherwise.
async function runJob(job) {
  const jobId = job.id;
  const { orderId, scenario, recipient } = job.data;
  if (!SCENARIOS.has(scenario)) throw new Error(`unknown scenario ${scenario}`);
  const send = (crashAfterMailFrom = false) => sendConfirmation({ jobId, orderId, recipient, crashAfterMailFrom });
  const done = { order: orderId, status: 'sent' };

  switch (scenario) {
    case 'skipped': // the lie: "sent", without sending
      await markDone(jobId, orderId);
      return done;
    case 'swallowed':
      try {
        await send();
      } catch (err) {
        console.warn(`could not send confirmation for ${orderId}: ${err.message} (ignored)`);
      }
      await markDone(jobId, orderId);
      return done;
    case 'premature_sync':
      await markDone(jobId, orderId);
      await send();
      return done;
    case 'premature_thread':
      await markDone(jobId, orderId);
      // Fire and forget; the OTel context still propagates into the timer callback.
      setTimeout(() => send().catch((err) => console.error(`background send failed: ${err.message}`)), BACKGROUND_SEND_DELAY_MS);
      return done;
    case 'failed':
      throw new Error(`order ${orderId}: customer record not found`);
    default:
      break;
  }

  if (scenario === 'retry_then_ok' && (await firstTime(orderId, 'fail-before-send'))) {
    throw new Error('crm timeout');
  }
  if (scenario === 'crash') await send(true); // never returns
  else if (scenario === 'crash_first_delivery') await send(await firstTime(orderId, 'crash'));
  else await send(); // ok, retry_duplicate, retry_then_ok

  if (scenario === 'retry_duplicate' && (await firstTime(orderId, 'fail-after-send'))) {
    throw new Error('crm timeout after the email was sent');
  }
  await markDone(jobId, orderId);
  return done;
}

module.exports = { runJob, closeStore };
