'use strict';
// Settings of the shop processes, read from the SHOP_* environment variables the harness sets
// (same names as tests/systems/shop/config.py).

function redisConnection() {
  // SHOP_REDIS_URL = redis://host:port/<db>; BullMQ wants ioredis options.
  const url = new URL(process.env.SHOP_REDIS_URL);
  return {
    host: url.hostname,
    port: Number(url.port || 6379),
    db: Number(url.pathname.slice(1) || 0),
  };
}

module.exports = {
  redisConnection,
  queueName: () => process.env.SHOP_QUEUE,
  smtpHost: () => process.env.SHOP_SMTP_HOST || '127.0.0.1',
  smtpPort: () => Number(process.env.SHOP_SMTP_PORT),
  crashDelayMs: () => 1000 * Number(process.env.SHOP_CRASH_DELAY || '2'),
  jobName: 'send-order-confirmation',
};
