/**
 * A consumer process of the bus scenario: subscribes to `chaos.item` in group `chaos` and records each
 * handled event in the ledger hash (its effect), before the bus acknowledges it. Poison events throw.
 * The parent SIGKILLs it at random: whatever it held must be redelivered to another consumer.
 */
import { createLogger, createRedis, type Redis } from '@ballast/core';
import { createEventBus } from '@ballast/event-bus';
import { type BusWorkerConfig, CHAOS_GROUP, CHAOS_TYPE, chaosEvents } from '../shared/bus';
import { announceReady, runWorker, workerConfig } from '../worker-runtime';

const config = workerConfig<BusWorkerConfig>();
const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

runWorker(async (stop) => {
  const redis = createRedis(config.redisUrl) as Redis;
  const bus = createEventBus({
    redis,
    prefix: config.prefix,
    source: 'chaos-consumer',
    events: chaosEvents,
    logger: createLogger({ level: 'silent' }),
  });
  await bus.subscribe(
    CHAOS_TYPE,
    async (event) => {
      const { n, poison } = event.data;
      if (poison) {
        await redis.hincrby(config.poisonKey, String(n), 1);
        throw new Error(`poison event ${n}`);
      }
      // Negative control: a buggy handler that acknowledges without doing its work (the ledger must see it).
      if (config.dropEvery && n % config.dropEvery === 0) return;
      // Some work around the effect, so a kill often lands between the effect and the acknowledgement.
      await delay(Math.random() * 3);
      await redis.hincrby(config.ledgerKey, String(n), 1);
      await delay(Math.random() * 3);
    },
    {
      group: CHAOS_GROUP,
      consumer: config.consumer,
      concurrency: 32,
      batchSize: 32,
      blockMs: 200,
      maxDeliveries: config.maxDeliveries,
      idleTimeoutMs: config.idleTimeoutMs,
      claimIntervalMs: 200,
      retryBackoff: { initialMs: 20, maxMs: 100, factor: 2, jitter: 'none' },
      maintenanceIntervalMs: 0,
      drainTimeoutMs: 3_000,
    },
  );
  announceReady();
  await new Promise<void>((resolve) => stop.addEventListener('abort', () => resolve(), { once: true }));
  await bus.close();
  redis.disconnect();
}, config.lifetimeMs);
