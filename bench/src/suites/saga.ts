import { randomUUID } from 'node:crypto';
import { createLogger, createRedis, loadScripts, type Redis } from '@ballast/core';
import { createEventBus, publishEventLua } from '@ballast/event-bus';
import {
  createOrchestrator,
  defineSaga,
  MemorySagaStore,
  RedisSagaStore,
  SAGA_SCRIPTS,
  type SagaOrchestrator,
} from '@ballast/saga';
import { z } from 'zod';
import { benchRedisUrl } from '../env';
import type { BenchCase, Suite } from '../harness';
import { masterWithReplica } from '../replicated';

/** Commands the Redis saga store sends; each call is one round trip. */
const COMMANDS = new Set(['evalsha', 'eval', 'hgetall', 'xadd', 'xrange', 'xdel', 'script', 'zrange', 'time', 'call']);

const sagaEvent = z.object({ sagaId: z.string(), saga: z.string() }).passthrough();
const sagaEvents = {
  'saga.started': sagaEvent,
  'step.completed': sagaEvent,
  'saga.completed': sagaEvent,
  'saga.compensated': sagaEvent,
  'saga.failed': sagaEvent,
};

/** The client with every store command counted: round trips per saga are reported beside the speed. */
function counting(redis: Redis): { client: Redis; count: () => number } {
  let n = 0;
  const client = new Proxy(redis, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      const bound = (value as (...a: unknown[]) => unknown).bind(target);
      if (typeof prop !== 'string' || !COMMANDS.has(prop)) return bound;
      return (...args: unknown[]) => {
        n++;
        return bound(...args);
      };
    },
  });
  return { client, count: () => n };
}

/** Seed 000's four steps, each a no-op that adds one field: what the orchestrator itself costs. */
const fourStepNoop = defineSaga<Record<string, boolean>>('four-step-noop', {
  steps: ['validate_user', 'save_health_data', 'update_blockchain', 'trigger_ai_analysis'].map((name) => ({
    name,
    run: () => ({ [name]: true }),
    compensate: () => undefined,
  })),
});

export interface SagaSuiteOptions {
  /** Where the round-trip figures go (default: console.log). */
  log?: (line: string) => void;
}

export function createSagaSuite(options: SagaSuiteOptions = {}): Suite {
  const log = options.log ?? ((line: string) => console.log(line));
  return {
    name: 'saga',
    description:
      'four-step no-op saga (seed 000 shape) on @ballast/saga: Redis store (no events; events in the state scripts; events through the outbox relay) vs in-memory store; and on a private master + 1 replica, plain vs durability WAIT 1',
    async setup() {
      const prefix = `bench:saga:${randomUUID().slice(0, 8)}`;
      const redis = createRedis(benchRedisUrl()) as Redis;
      await loadScripts(redis, SAGA_SCRIPTS); // no NOSCRIPT fallback inside the measurement
      const counted = counting(redis);
      const quiet = createLogger({ level: 'silent' });
      // Events: one bus on the same Redis (and counted client); its streams are trimmed by the bus's MAXLEN.
      const bus = createEventBus({ redis: counted.client, prefix, source: 'bench', events: sagaEvents, logger: quiet });
      const evented = new RedisSagaStore({
        redis: counted.client,
        prefix: `${prefix}:ev`,
        retentionMs: 600_000,
        events: { bus, publishLua: publishEventLua },
      });
      await loadScripts(redis, evented.scripts);
      // The cost of WAIT-based durability: the same store on a private master + replica, plain and WAIT 1.
      const pair = await masterWithReplica('saga');
      await loadScripts(pair.redis, SAGA_SCRIPTS);
      const paired = counting(pair.redis);
      const counters: Record<string, () => number> = {
        'ballast-redis-replicated': paired.count,
        'ballast-redis-replicated+wait1': paired.count,
      };
      const orchestrators: Record<string, SagaOrchestrator> = {
        'ballast-redis': createOrchestrator({
          store: new RedisSagaStore({ redis: counted.client, prefix, retentionMs: 600_000 }),
          sweepIntervalMs: 0,
          logger: quiet,
        }),
        // The saga's 6 events XADDed by its own state scripts: still N + 1 round trips.
        'ballast-redis+events': createOrchestrator({ store: evented, bus, sweepIntervalMs: 0, logger: quiet }),
        // The events through the partition outbox, relayed to the bus (the Cluster's way): what the relay costs.
        'ballast-redis+outbox': createOrchestrator({
          store: new RedisSagaStore({ redis: counted.client, prefix: `${prefix}:ob`, retentionMs: 600_000 }),
          bus,
          sweepIntervalMs: 0,
          logger: quiet,
        }),
        'ballast-memory': createOrchestrator({ store: new MemorySagaStore(), sweepIntervalMs: 0, logger: quiet }),
        'ballast-redis-replicated': createOrchestrator({
          store: new RedisSagaStore({ redis: paired.client, prefix, retentionMs: 600_000 }),
          sweepIntervalMs: 0,
          logger: quiet,
        }),
        // Every state write followed by WAIT 1 on the master: one more round trip per write plus replication lag.
        'ballast-redis-replicated+wait1': createOrchestrator({
          store: new RedisSagaStore({
            redis: paired.client,
            prefix: `${prefix}:w`,
            retentionMs: 600_000,
            durability: { replicas: 1, timeoutMs: 1_000 },
          }),
          sweepIntervalMs: 0,
          logger: quiet,
        }),
      };
      const cases: BenchCase[] = Object.entries(orchestrators).map(([impl, orchestrator]) => {
        const count = counters[impl] ?? counted.count;
        let sagas = 0;
        let before = 0;
        let trips = 0;
        let busyMs = 0;
        return {
          case: 'four-step-noop',
          impl,
          beforeAll: () => {
            sagas = 0;
            busyMs = 0;
            before = count();
          },
          fn: async () => {
            const t0 = performance.now();
            await orchestrator.run(fourStepNoop, {});
            busyMs += performance.now() - t0;
            sagas++;
          },
          afterAll: async () => {
            await orchestrator.relayEvents(); // the outbox case: its relay's round trips are the saga's too
            trips = impl === 'ballast-memory' ? 0 : (count() - before) / Math.max(1, sagas);
            log(`  four-step-noop / ${impl}: ${trips.toFixed(2)} Redis round trips per saga (${sagas} sagas)`);
          },
          // Sagas/s one after another (= opsPerSec), and the round trips each cost (events included).
          extra: () => ({
            sagasPerSec: Math.round((sagas / Math.max(busyMs, 1e-3)) * 1000 * 10) / 10,
            roundTripsPerSaga: Number(trips.toFixed(2)),
          }),
        };
      });
      return {
        cases,
        async teardown() {
          for (const o of Object.values(orchestrators)) await o.close();
          await bus.close();
          let cursor = '0';
          do {
            const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
            cursor = next;
            if (keys.length > 0) await redis.unlink(...keys);
          } while (cursor !== '0');
          redis.disconnect();
          pair.redis.disconnect();
          await Promise.all([pair.replica.stop(), pair.master.stop()]);
        },
      };
    },
  };
}

export const saga: Suite = createSagaSuite();
