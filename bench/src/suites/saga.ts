import { randomUUID } from 'node:crypto';
import { createLogger, createRedis, loadScripts, type Redis } from '@ballast/core';
import {
  createOrchestrator,
  defineSaga,
  MemorySagaStore,
  RedisSagaStore,
  SAGA_SCRIPTS,
  type SagaOrchestrator,
} from '@ballast/saga';
import { benchRedisUrl } from '../env';
import type { BenchCase, Suite } from '../harness';

/** Commands the Redis saga store sends; each call is one round trip. */
const COMMANDS = new Set(['evalsha', 'eval', 'hgetall', 'xadd', 'xrange', 'xdel', 'script']);

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
    description: 'four-step no-op saga (seed 000 shape) on @ballast/saga: Redis store vs in-memory store',
    async setup() {
      const prefix = `bench:saga:${randomUUID().slice(0, 8)}`;
      const redis = createRedis(benchRedisUrl()) as Redis;
      await loadScripts(redis, SAGA_SCRIPTS); // no NOSCRIPT fallback inside the measurement
      const counted = counting(redis);
      const quiet = createLogger({ level: 'silent' });
      const orchestrators: Record<string, SagaOrchestrator> = {
        'ballast-redis': createOrchestrator({
          store: new RedisSagaStore({ redis: counted.client, prefix, retentionMs: 600_000 }),
          sweepIntervalMs: 0,
          logger: quiet,
        }),
        'ballast-memory': createOrchestrator({ store: new MemorySagaStore(), sweepIntervalMs: 0, logger: quiet }),
      };
      const cases: BenchCase[] = Object.entries(orchestrators).map(([impl, orchestrator]) => {
        let sagas = 0;
        let before = 0;
        return {
          case: 'four-step-noop',
          impl,
          beforeAll: () => {
            sagas = 0;
            before = counted.count();
          },
          fn: async () => {
            await orchestrator.run(fourStepNoop, {});
            sagas++;
          },
          afterAll: () => {
            const trips = impl === 'ballast-redis' ? (counted.count() - before) / Math.max(1, sagas) : 0;
            log(`  four-step-noop / ${impl}: ${trips.toFixed(2)} Redis round trips per saga (${sagas} sagas)`);
          },
        };
      });
      return {
        cases,
        async teardown() {
          for (const o of Object.values(orchestrators)) await o.close();
          let cursor = '0';
          do {
            const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
            cursor = next;
            if (keys.length > 0) await redis.unlink(...keys);
          } while (cursor !== '0');
          redis.disconnect();
        },
      };
    },
  };
}

export const saga: Suite = createSagaSuite();
