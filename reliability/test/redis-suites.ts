/**
 * Every Redis-backed contract suite, registered against one connection that a security test file sets up:
 * lock, event bus, queue, saga (store and orchestrator), config-center and discovery, each as in its
 * package's own Redis test; and circuit-breaker's Redis users, its rate limiter and its fleet-shared breaker
 * state, as in packages/circuit-breaker/test/{redis-rate-limit,fleet}.test.ts. security-acl.test.ts runs them
 * through a least-privilege ACL user, security-tls.test.ts over TLS; the suites are the same, only the
 * connection, the key prefix and the names differ. Not a test file itself: vitest runs it through those two.
 */
import {
  CircuitBreaker,
  isBrokenCircuitError,
  RateLimitedError,
  RedisFleet,
  redisRateLimit,
} from '@ballast/circuit-breaker';
import { type RemoteSource, redisHash } from '@ballast/config-center';
import { createLogger, type Redis, sleep, systemClock } from '@ballast/core';
import { RedisBackend as RedisDiscoveryBackend } from '@ballast/discovery';
import { RedisTransport } from '@ballast/event-bus';
import { RedisLockBackend } from '@ballast/lock';
import { RedisSagaStore } from '@ballast/saga';
import { countCommands, FakeClock } from '@ballast/testkit';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { remoteContract } from '../../packages/config-center/test/store.contract';
import { backendContract as discoveryContract } from '../../packages/discovery/test/backend.contract';
import { transportContract } from '../../packages/event-bus/test/transport.contract';
import { lockBackendContract } from '../../packages/lock/test/backend.contract';
// The queue's own source, as its contract imports it: `Queue` has private fields, so the dist's type would not fit.
import { createQueue, type Queue } from '../../packages/queue/src/index';
import { queueContract } from '../../packages/queue/test/queue.contract';
import { sagaContract } from '../../packages/saga/test/orchestrator.contract';
import { storeContract as sagaStoreContract } from '../../packages/saga/test/store.contract';

export interface RedisSuitesOptions {
  /** How Redis is reached, ending the suites' names (`redis <via>`, `circuit-breaker <via>`): 'over TLS'. */
  via: string;
  /** What a test name calls one of these connections ('ACL', 'TLS'): "… between two TLS connections". */
  connection: string;
  /** The prefix every package gets for its keys and channels ('sec', 'tls'). */
  prefix: string;
  /** What every resource, queue, saga, service and breaker name starts with: `<tag>-r0`, `<tag>-q1`, … */
  tag: string;
  /** The connection the suites share; called when a suite needs it, so it may be opened in a `beforeAll`. */
  redis: () => Redis;
  /** Opens one more connection of the same kind (a second rate-limiter client, each breaker fleet's); the caller closes it. */
  connect: () => Redis;
}

export interface RedisSuites {
  /** `<tag>-<base><n>` on the counter the suites use: a name none of them takes. */
  unique(base: string): string;
  /** Closes a queue after the running test, as the queue suite's own queues are. */
  closeAfterTest(queue: Queue): void;
}

/** Registers the suites at the point of the call (the file's own tests before or after it keep their order). */
export function registerRedisSuites(options: RedisSuitesOptions): RedisSuites {
  const { via, connection, prefix, tag, connect } = options;
  const redisLabel = `redis ${via}`;
  let n = 0;
  const unique = (base: string) => `${tag}-${base}${n++}`;

  lockBackendContract(redisLabel, {
    create: () => ({
      backend: new RedisLockBackend({ redis: options.redis(), prefix, lingerMs: 50 }),
      resource: () => unique('r'),
    }),
    destroy: ({ backend }) => backend.close(),
  });

  transportContract(redisLabel, {
    create: () => ({
      transport: new RedisTransport({ redis: options.redis(), prefix: `${prefix}:` }),
      type: unique('t'),
    }),
    destroy: ({ transport }) => transport.close(),
  });

  // Queue: as packages/queue/test/redis.test.ts, each queue a fresh name under the prefix; the workers'
  // blocking connections (BLPOP) are `duplicate()`s of the shared connection.
  const queues: Queue[] = [];
  const configs: RemoteSource[] = [];
  afterEach(async () => {
    for (const q of queues.splice(0)) await q.close();
    for (const s of configs.splice(0)) await s.store.close();
  });
  queueContract(redisLabel, {
    create: () => ({
      newQueue: (queueOptions = {}) => {
        const q = createQueue(unique('q'), { ...queueOptions, backend: 'redis', redis: options.redis(), prefix });
        queues.push(q);
        return q;
      },
    }),
  });

  // Saga: as packages/saga/test/redis.test.ts (leases on the Redis server's clock: TIME).
  const SAGA_LEASE_MS = 250;
  sagaContract(redisLabel, {
    create: () => ({
      store: new RedisSagaStore({ redis: options.redis(), prefix, partitions: 4 }),
      clock: new FakeClock(),
      leaseMs: SAGA_LEASE_MS,
      expireLeases: () => sleep(systemClock, SAGA_LEASE_MS + 30),
    }),
  });
  sagaStoreContract(redisLabel, {
    create: () => ({
      store: new RedisSagaStore({ redis: options.redis(), prefix, partitions: 4 }),
      leaseMs: 100,
      expire: () => sleep(systemClock, 130),
      id: () => `${tag}-s-${Date.now().toString(36)}-${n++}`,
    }),
  });

  // Config-center: as packages/config-center/test/redis.test.ts; each source SUBSCRIBEs on a duplicate.
  remoteContract(redisLabel, {
    create: () => {
      const name = unique('svc');
      return {
        maxVersions: 5,
        open: () => {
          const source = redisHash({ redis: options.redis(), prefix, name, maxVersions: 5 });
          configs.push(source);
          return source;
        },
      };
    },
  });

  // Discovery: its Redis backend, as packages/discovery/test/backends.test.ts.
  discoveryContract(redisLabel, {
    create: () => ({
      backend: new RedisDiscoveryBackend({ redis: options.redis(), prefix, sweepIntervalMs: 100 }),
      name: (base: string) => `${tag}-${base}-${n++}`,
    }),
    destroy: ({ backend }) => backend.close(),
  });

  // Circuit-breaker: its Redis rate limiter (GCRA in one script, on the server's TIME) and its fleet-shared state
  // (SET … PX / GET / DEL of `<prefix>:breaker:{name}:open`, PUBLISH and SUBSCRIBE on `<prefix>:breaker:fleet`,
  // the SUBSCRIBE on a `duplicate()` the fleet opens itself). The fleet only logs a failed publish or subscribe,
  // so its warnings are captured and must be none.
  describe(`circuit-breaker ${via}`, () => {
    it(`the Redis rate limiter admits up to its limit, then refuses; its key is under ${prefix}:`, async () => {
      const redis = options.redis();
      const rl = redisRateLimit({ redis, prefix, name: unique('rl'), limit: 5, periodMs: 5_000 });
      const remaining: number[] = [];
      for (let i = 0; i < 5; i++) {
        const d = await rl.check();
        expect(d).toMatchObject({ allowed: true, retryAfterMs: 0 });
        remaining.push(d.remaining);
      }
      expect(remaining).toEqual([4, 3, 2, 1, 0]);
      const refused = await rl.check();
      expect(refused).toMatchObject({ allowed: false, remaining: 0 });
      expect(refused.retryAfterMs).toBeGreaterThan(0);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(1_000);
      const fn = vi.fn();
      await expect(rl.execute(fn)).rejects.toBeInstanceOf(RateLimitedError);
      expect(fn).not.toHaveBeenCalled();
      const key = rl.keys.key('default');
      expect(key).toBe(`${prefix}:ratelimit:{${rl.name}}:default`);
      const pttl = await redis.pttl(key);
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(5_000);
    });

    it(`the Redis rate limiter shares one budget between two ${connection} connections (atomic)`, async () => {
      const limiter = { prefix, name: unique('rl'), limit: 6, periodMs: 60_000 };
      const a = redisRateLimit({ ...limiter, redis: connect() });
      const b = redisRateLimit({ ...limiter, redis: connect() });
      const decisions = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).check('user-1')));
      expect(decisions.filter((d) => d.allowed)).toHaveLength(6);
      expect((await a.check('user-1')).allowed).toBe(false);
      expect((await b.check('user-1')).allowed).toBe(false);
      expect(await options.redis().exists(`${prefix}:ratelimit:{${limiter.name}}:user-1`)).toBe(1);
    });

    it('fleet-shared OPEN: one instance opening opens the other, with no Redis call on its call path', async () => {
      const redis = options.redis();
      const warnings: string[] = [];
      const fleetLogger = createLogger({
        level: 'warn',
        destination: { write: (line: string) => warnings.push(line) },
      });
      const quiet = createLogger({ level: 'silent' });
      const name = unique('users');
      const fleetA = new RedisFleet({ redis: connect(), prefix, logger: fleetLogger });
      const countedB = countCommands(connect());
      const fleetB = new RedisFleet({ redis: countedB.client, prefix, logger: fleetLogger });
      const opts = { name, volumeThreshold: 2, resetTimeoutMs: 60_000, logger: quiet };
      const a = new CircuitBreaker({ ...opts, fleet: fleetA });
      const b = new CircuitBreaker({ ...opts, fleet: fleetB });
      await Promise.all([fleetA.ready(), fleetB.ready()]);
      try {
        const before = countedB.sent();
        expect(before).toBeGreaterThan(0); // B's start-up read of the fleet state
        for (let i = 0; i < 50; i++) await b.execute(() => 'ok');
        expect(countedB.sent() - before).toBe(0);

        const bOpened = new Promise((resolve) => b.onOpen(resolve));
        await a.execute(() => Promise.reject(new Error('down'))).catch(() => {});
        await a.execute(() => Promise.reject(new Error('down'))).catch(() => {});
        expect(a.state).toBe('open');
        await expect(bOpened).resolves.toMatchObject({ name, to: 'open', reason: 'fleet' });
        const sentWhileOpen = countedB.sent();
        const fn = vi.fn(() => 'ok');
        expect(isBrokenCircuitError(await b.execute(fn).catch((e: unknown) => e))).toBe(true);
        expect(fn).not.toHaveBeenCalled();
        expect(countedB.sent()).toBe(sentWhileOpen); // rejected locally, no Redis call
        expect(await redis.pttl(`${prefix}:breaker:{${name}}:open`)).toBeGreaterThan(50_000);

        // A late starter sees the fleet state from the key.
        const fleetC = new RedisFleet({ redis: connect(), prefix, logger: fleetLogger });
        const c = new CircuitBreaker({ ...opts, fleet: fleetC });
        await new Promise((resolve) => c.onOpen(resolve));
        expect(c.state).toBe('open');
        // Closed only once its SUBSCRIBE is in: closing the fleet with it in flight logs "fleet subscribe failed".
        await fleetC.ready();
        await c.close();
        await fleetC.close();

        // A closes (its probe succeeded): B moves to half-open to probe for itself, and the key is gone.
        const bHalf = new Promise((resolve) => b.onHalfOpen(resolve));
        a.forceClose();
        await bHalf;
        expect(b.state).toBe('half-open');
        expect(await redis.exists(`${prefix}:breaker:{${name}}:open`)).toBe(0); // DELeted before the close was published
        expect(warnings).toEqual([]);
      } finally {
        await Promise.all([a.close(), b.close()]);
        await fleetA.close();
        await fleetB.close();
      }
    });
  });

  return {
    unique,
    closeAfterTest: (queue) => {
      queues.push(queue);
    },
  };
}
