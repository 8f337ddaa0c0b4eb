import { createRedis, type Redis } from '@ballast/core';
import { afterAll, afterEach, beforeAll, describe } from 'vitest';
import { type SilentServer, startSilentServer, unreachablePort } from './dead-endpoints';
import {
  clusterFixturePrefix,
  createRedisClusterFixture,
  createRedisFixture,
  type RedisClusterFixture,
  type RedisFixture,
  type RedisFixtureOptions,
} from './redis-fixture';
import { type RedisServer, type StartRedisOptions, startRedisServer } from './redis-server';

/**
 * A Redis fixture for the current test file: connected in `beforeAll`, keys deleted and connections closed
 * in `afterAll`. Read `.current` inside tests.
 *
 * @example
 * const fx = useRedisFixture({ name: 'lock' });
 * it('…', async () => { await fx.current.redis.set(fx.current.key('a'), '1'); });
 */
export function useRedisFixture(options: RedisFixtureOptions = {}): { readonly current: RedisFixture } {
  let fixture: RedisFixture | undefined;
  beforeAll(async () => {
    fixture = await createRedisFixture(options);
  });
  afterAll(async () => {
    await fixture?.close();
  });
  return {
    get current(): RedisFixture {
      if (!fixture) throw new Error('useRedisFixture: read .current inside a test or hook, not at collection time');
      return fixture;
    },
  };
}

/**
 * A private `redis-server` for the current test file (see `startRedisServer`) and an ioredis client of it, for
 * outage tests that `kill()`/`restart()` or `pause()`/`resume()` the server. Its data survives `restart()`
 * (AOF, fsync always) unless `args` say otherwise; the client has an `'error'` listener (the outage is the
 * point) and ioredis's defaults otherwise. Started in `beforeAll`, disconnected and stopped in `afterAll`.
 *
 * @example
 * const r = useRedisServer();
 * it('…', async () => { await r.server.kill(); await expect(op(r.redis)).rejects.toThrow(); });
 */
export function useRedisServer(options: StartRedisOptions = {}): {
  readonly server: RedisServer;
  readonly redis: Redis;
} {
  let server: RedisServer | undefined;
  let redis: Redis | undefined;
  beforeAll(async () => {
    server = await startRedisServer({
      ...options,
      args: options.args ?? ['--appendonly', 'yes', '--appendfsync', 'always'],
    });
    redis = createRedis(server.url) as Redis;
    redis.on('error', () => {});
  });
  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });
  const read = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('useRedisServer: read .server/.redis inside a test or hook');
    return value;
  };
  return {
    get server() {
      return read(server);
    },
    get redis() {
      return read(redis);
    },
  };
}

/**
 * Backends that fail, for the current test file: `url('down')` is a loopback address nothing listens on,
 * `url('hung')` one that accepts connections and never answers; the hung servers are closed after the file.
 */
export function useDeadEndpoints(): { url(kind: 'down' | 'hung'): Promise<string> } {
  const hung: SilentServer[] = [];
  afterAll(async () => {
    await Promise.all(hung.splice(0).map((s) => s.close()));
  });
  return {
    async url(kind) {
      if (kind === 'down') return `http://127.0.0.1:${await unreachablePort()}`;
      const server = await startSilentServer();
      hung.push(server);
      return server.url;
    },
  };
}

/**
 * A Redis Cluster fixture for the current test file (the local 3-master Cluster on 7001-7003 unless
 * `BALLAST_REDIS_CLUSTER_NODES` says otherwise): connected in `beforeAll`; in `afterAll` its prefix's keys are
 * deleted on every master and it disconnects. `prefix` is known at once; read `cluster` inside tests or hooks.
 */
export function useRedisClusterFixture(options: { name?: string } = {}): {
  readonly prefix: string;
  readonly cluster: RedisClusterFixture['cluster'];
} {
  const prefix = clusterFixturePrefix(options.name);
  let fixture: RedisClusterFixture | undefined;
  beforeAll(async () => {
    fixture = await createRedisClusterFixture({ prefix });
  });
  afterAll(async () => {
    await fixture?.close();
  });
  return {
    prefix,
    get cluster() {
      if (!fixture) throw new Error('useRedisClusterFixture: read .cluster inside a test or hook');
      return fixture.cluster;
    },
  };
}

/** How a contract suite gets a fresh instance of one backend for each test, and disposes of it. */
export interface ContractBackend<B> {
  create(): B | Promise<B>;
  destroy?(backend: B): void | Promise<void>;
}

/**
 * Defines a contract: the behaviour every backend of an interface must show. Returns a function that
 * registers the suite for one backend; call it once per backend (memory, redis, rabbitmq, consul…).
 * Inside the suite, `make()` gives a fresh backend destroyed after the test.
 *
 * @example
 * export const storeContract = defineContract<Store>('Store', (make) => {
 *   it('reads what it wrote', async () => { const s = await make(); … });
 * });
 * storeContract('memory', { create: () => new MemoryStore() });
 * storeContract('redis', { create: () => new RedisStore(fx.current.redis), destroy: (s) => s.close() });
 */
export function defineContract<B>(
  name: string,
  tests: (make: () => Promise<B>) => void,
): (backendName: string, backend: ContractBackend<B>) => void {
  return (backendName, backend) => {
    describe(`${name} contract [${backendName}]`, () => {
      const created: B[] = [];
      afterEach(async () => {
        const list = created.splice(0);
        for (const b of list) await backend.destroy?.(b);
      });
      tests(async () => {
        const b = await backend.create();
        created.push(b);
        return b;
      });
    });
  };
}
