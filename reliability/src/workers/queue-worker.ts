/**
 * A worker process of the queue scenario: runs `chaos.job` jobs of @ballast/queue (Redis or RabbitMQ backend)
 * and records each job's effect in the ledger hash before the queue acknowledges it. The parent SIGKILLs it
 * at random: the jobs it held must come back (stalled recovery / broker redelivery) and run elsewhere.
 */
import { createLogger, createRedis, type Redis } from '@ballast/core';
import { createQueue, createWorker, type Queue } from '@ballast/queue';
import { QUEUE_JOB, type QueueJobData, type QueueWorkerConfig } from '../shared/queue';
import { announceReady, runWorker, workerConfig } from '../worker-runtime';

const config = workerConfig<QueueWorkerConfig>();
const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

runWorker(async (stop) => {
  const ledger = createRedis(config.ledgerRedisUrl) as Redis;
  const queueRedis = createRedis(config.queueRedisUrl) as Redis;
  // The queue's Redis is SIGKILLed and restarted mid-run: connection errors are expected, ioredis reconnects.
  queueRedis.on('error', () => {});
  ledger.on('error', () => {});
  const logger = createLogger({ level: 'silent' });
  const queue: Queue<QueueJobData> =
    config.backend === 'redis'
      ? createQueue<QueueJobData>(config.queueName, {
          backend: 'redis',
          redis: queueRedis,
          prefix: config.prefix,
          logger,
        })
      : createQueue<QueueJobData>(config.queueName, {
          backend: 'rabbitmq',
          url: config.amqpUrl!,
          redis: queueRedis,
          prefix: config.prefix,
          logger,
        });
  queue.onStalled(({ outcome }) => {
    ledger.hincrby(config.stalledKey, outcome, 1).catch(() => {});
  });
  const worker = createWorker<QueueJobData>(
    queue,
    {
      [QUEUE_JOB]: async (job) => {
        const { n } = job.data;
        if (config.dropEvery && n % config.dropEvery === 0) return;
        // Some work around the effect (20 ms on average), so a kill often lands between the effect and the
        // acknowledgement, and a killed worker almost always holds a job: at the short run's 300 jobs/s about
        // six are in flight, and recovery of held jobs is what the scenario asserts.
        await delay(Math.random() * 20);
        await ledger.hincrby(config.ledgerKey, job.id, 1);
        await delay(Math.random() * 20);
      },
    },
    {
      concurrency: config.concurrency,
      lockMs: config.lockMs,
      stalledIntervalMs: config.stalledIntervalMs,
      maxStalledCount: config.maxStalledCount,
      blockMs: 500,
      drainTimeoutMs: 3_000,
      onError: () => {},
    },
  );
  announceReady();
  await new Promise<void>((resolve) => stop.addEventListener('abort', () => resolve(), { once: true }));
  await worker.close();
  await queue.close();
  queueRedis.disconnect();
  ledger.disconnect();
}, config.lifetimeMs);
