import { randomUUID } from 'node:crypto';
import {
  type Config,
  consulKv,
  createConfig,
  createConsulKv,
  defaults,
  MemoryConfigStore,
  memoryStore,
  type RemoteSource,
  redisHash,
} from '@ballast/config-center';
import { createLogger, createRedis, type Redis } from '@ballast/core';
// The bench has no dependency on @ballast/testkit (its package.json is not ours to change), so the Consul
// emulator is imported from the testkit's source. With CONSUL_HTTP_ADDR set, a real Consul is used instead.
import { type ConsulEmulator, startConsulEmulator } from '@ballast/testkit/consul';
import { z } from 'zod';
import { benchRedisUrl } from '../env';
import type { BenchCase, Suite } from '../harness';

/** Configs watching the remote besides the writer, in the `propagation` case. */
const WATCHERS = 3;
/** A write no watcher has seen after this long fails the run instead of hanging it. */
const ROUND_TIMEOUT_MS = 10_000;

const schema = z.object({
  app: z.object({ name: z.string(), port: z.number().int() }),
  db: z.object({ url: z.string(), pool: z.object({ min: z.number().int(), max: z.number().int().positive() }) }),
  features: z.record(z.string(), z.boolean()),
});
type Schema = typeof schema;
const base = {
  app: { name: 'user-service', port: 8000 },
  db: { url: 'postgres://localhost/users', pool: { min: 1, max: 10 } },
  features: { beta: false },
};
const logger = createLogger({ level: 'silent' });

export interface ConfigSuiteOptions {
  /** Watching configs per remote. Default 3. */
  watchers?: number;
}

interface Remote {
  name: string;
  /** A new client on the shared remote. */
  open(): RemoteSource;
  close(): Promise<void>;
}

/**
 * Config: `@ballast/config-center` only (no peer in the bench's dependencies offers a remote config with watchers).
 * - `get`: a typed read — `config.get('db.pool.max')` (impl `ballast-path`) and `config.get().db.pool.max`
 *   (`ballast-snapshot`, the frozen snapshot), beside a plain property read of a frozen object (`plain-object`),
 *   the floor. 1,000 reads per call.
 * - `propagation`: one `config.set('db.pool.max', n)` on a writer config, until every one of `watchers` other
 *   configs on the same remote has fired its `watch('db.pool.max')` callback with `n`. p50/p99 are per write,
 *   write included (CAS commit + the writer seeing its own commit + fan-out). Remotes: in-process memory store
 *   (`ballast-memory`), Redis hash + pub/sub (`ballast-redis`, the local Redis), Consul KV blocking queries on the
 *   testkit's Consul emulator (`ballast-consul-emulator`; `ballast-consul` on a real Consul when
 *   CONSUL_HTTP_ADDR is set). Target: p99 ≤ 100 ms on Redis and on the emulator.
 */
export function createConfigSuite(options: ConfigSuiteOptions = {}): Suite {
  const watchers = options.watchers ?? WATCHERS;
  return {
    name: 'config',
    description: `config-center: typed get, and propagation of a remote write to ${watchers} watching configs`,
    async setup() {
      const run = randomUUID().slice(0, 8);
      const redis = createRedis(benchRedisUrl()) as Redis;
      const extra: Redis[] = [];
      let emulator: ConsulEmulator | undefined;
      const realConsul = process.env.CONSUL_HTTP_ADDR;
      if (!realConsul) emulator = await startConsulEmulator({ port: 0 });
      const consulUrl = realConsul ?? emulator!.url;
      const consulPrefix = `bench/config/${run}/`;
      const memory = new MemoryConfigStore();

      const remotes: Remote[] = [
        { name: 'ballast-memory', open: () => memoryStore({ store: memory }), close: async () => {} },
        {
          name: 'ballast-redis',
          open: () => {
            const client = redis.duplicate();
            extra.push(client);
            return redisHash({ redis: client, prefix: `bench:config:${run}`, name: 'user-service' });
          },
          close: async () => {
            const keys = await redis.keys(`bench:config:${run}:*`);
            if (keys.length > 0) await redis.del(...keys);
          },
        },
        {
          name: realConsul ? 'ballast-consul' : 'ballast-consul-emulator',
          open: () => consulKv({ url: consulUrl, prefix: consulPrefix, waitMs: 30_000 }),
          close: async () => {
            const kv = createConsulKv({ url: consulUrl });
            await kv.delete(consulPrefix, { recurse: true });
            await kv.delete(`ballast/config-history/${consulPrefix}`, { recurse: true });
          },
        },
      ];

      const configs: Config<Schema>[] = [];
      const open = async (source: RemoteSource) => {
        const c = await createConfig({ schema, logger, sources: [defaults(base), source] });
        configs.push(c);
        return c;
      };

      const reader = await open(memoryStore());
      const plain = Object.freeze({ db: Object.freeze({ pool: Object.freeze({ max: 10 }) }) });
      const READS = 1_000;
      let sink = 0;
      const cases: BenchCase[] = [
        {
          case: 'get',
          impl: 'ballast-path',
          opsPerCall: READS,
          fn: () => {
            for (let i = 0; i < READS; i++) sink += reader.get('db.pool.max');
          },
        },
        {
          case: 'get',
          impl: 'ballast-snapshot',
          opsPerCall: READS,
          fn: () => {
            for (let i = 0; i < READS; i++) sink += reader.get().db.pool.max;
          },
        },
        {
          case: 'get',
          impl: 'plain-object',
          opsPerCall: READS,
          fn: () => {
            for (let i = 0; i < READS; i++) sink += plain.db.pool.max;
          },
        },
      ];

      for (const remote of remotes) {
        const writer = await open(remote.open());
        const watching: Config<Schema>[] = [];
        for (let i = 0; i < watchers; i++) watching.push(await open(remote.open()));
        let n = 100;
        cases.push({
          case: 'propagation',
          impl: remote.name,
          fn: async () => {
            const value = ++n;
            const seen = Promise.all(
              watching.map(
                (c) =>
                  new Promise<void>((resolve, reject) => {
                    const timer = setTimeout(() => {
                      off();
                      reject(new Error(`${remote.name}: a watcher did not see ${value} within ${ROUND_TIMEOUT_MS} ms`));
                    }, ROUND_TIMEOUT_MS);
                    const off = c.watch('db.pool.max', (v) => {
                      if (v !== value) return;
                      clearTimeout(timer);
                      off();
                      resolve();
                    });
                  }),
              ),
            );
            await writer.set('db.pool.max', value);
            await seen;
          },
        });
      }

      return {
        cases,
        teardown: async () => {
          try {
            for (const c of configs) await c.close();
            for (const r of remotes) await r.close();
          } finally {
            if (sink === -1) console.log(sink);
            for (const c of extra) c.disconnect();
            redis.disconnect();
            await emulator?.close();
          }
        },
      };
    },
  };
}

export const config: Suite = createConfigSuite();
