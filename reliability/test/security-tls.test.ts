/**
 * TLS: certificates made by openssl in this test (a throwaway CA signing a server certificate for
 * 127.0.0.1), a Redis started with only a TLS port, and every Redis-backed contract suite runs through
 * `rediss://` unchanged: lock, event bus, queue, saga (store and orchestrator), config-center and discovery;
 * and circuit-breaker's Redis users, its rate limiter and its fleet-shared breaker state, as in its own tests.
 * The connections a package opens by itself (the queue workers' blocking connections, the config and
 * discovery subscribers, the bus's blocking readers, the breaker fleet's subscriber) are `duplicate()`s of the one given, so they carry its
 * TLS options; with no plain port, a connection that lost them could not reach Redis at all. A client that
 * does not trust the CA is refused, and the plain protocol gets nowhere: the traffic is really TLS.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CircuitBreaker,
  isBrokenCircuitError,
  RateLimitedError,
  RedisFleet,
  redisRateLimit,
} from '@ballast/circuit-breaker';
import { type RemoteSource, redisHash } from '@ballast/config-center';
import { createLogger, createRedis, type Redis, sleep, systemClock } from '@ballast/core';
import { RedisBackend as RedisDiscoveryBackend } from '@ballast/discovery';
import { RedisTransport } from '@ballast/event-bus';
import { RedisLockBackend } from '@ballast/lock';
import { RedisSagaStore } from '@ballast/saga';
import { FakeClock } from '@ballast/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { remoteContract } from '../../packages/config-center/test/store.contract';
import { backendContract as discoveryContract } from '../../packages/discovery/test/backend.contract';
import { transportContract } from '../../packages/event-bus/test/transport.contract';
import { lockBackendContract } from '../../packages/lock/test/backend.contract';
// The queue's own source, as its contract imports it: `Queue` has private fields, so the dist's type would not fit.
import { createQueue, createWorker, type Queue } from '../../packages/queue/src/index';
import { queueContract } from '../../packages/queue/test/queue.contract';
import { sagaContract } from '../../packages/saga/test/orchestrator.contract';
import { storeContract as sagaStoreContract } from '../../packages/saga/test/store.contract';
import { freePort, type RedisServer, startRedisServer } from '../src/redis-server';

let dir: string;
let server: RedisServer;
let port: number;
let ca: Buffer;
let redis: Redis;
const clients: Redis[] = [];
let n = 0;

/** Another `rediss://` connection trusting the test CA (for the two-instance circuit-breaker tests). */
const connect = () => {
  const c = createRedis({ url: `rediss://127.0.0.1:${port}`, redisOptions: { tls: { ca } } }) as Redis;
  clients.push(c);
  return c;
};

function makeCertificates(where: string): void {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: where, stdio: 'pipe' });
  ssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=ballast-test-ca',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
  );
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'server.key', '-out', 'server.csr');
  writeFileSync(join(where, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    'san.ext',
    '-out',
    'server.crt',
  );
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ballast-tls-'));
  makeCertificates(dir);
  ca = readFileSync(join(dir, 'ca.crt'));
  port = await freePort();
  server = await startRedisServer({
    dir,
    port: 0,
    args: [
      '--tls-port',
      String(port),
      '--tls-cert-file',
      join(dir, 'server.crt'),
      '--tls-key-file',
      join(dir, 'server.key'),
      '--tls-ca-cert-file',
      join(dir, 'ca.crt'),
      '--tls-auth-clients',
      'no',
    ],
  });
  redis = createRedis({ url: `rediss://127.0.0.1:${port}`, redisOptions: { tls: { ca } } }) as Redis;
  await redis.ping();
}, 60_000);

afterAll(async () => {
  redis?.disconnect();
  for (const c of clients) c.disconnect();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the TLS Redis is really TLS', () => {
  it('serves rediss:// with the test CA; refuses a client that does not trust it', async () => {
    expect(await redis.set('tls:probe', 'ok')).toBe('OK');
    expect(await redis.get('tls:probe')).toBe('ok');
    await redis.del('tls:probe');
    const untrusting = createRedis({
      url: `rediss://127.0.0.1:${port}`,
      redisOptions: { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null },
    }) as Redis;
    const errors: Error[] = [];
    untrusting.on('error', (e: Error) => errors.push(e));
    await expect(untrusting.connect()).rejects.toThrow();
    expect(errors.map((e) => e.message).join('\n')).toMatch(/self[- ]signed|unable to verify|certificate/i);
    untrusting.disconnect();
  });

  it('the plain protocol on the TLS port gets no Redis reply', async () => {
    const plain = createRedis({
      url: `redis://127.0.0.1:${port}`,
      redisOptions: {
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
        connectTimeout: 2_000,
        commandTimeout: 2_000,
      },
    }) as Redis;
    plain.on('error', () => {});
    await expect(plain.connect().then(() => plain.ping())).rejects.toThrow();
    plain.disconnect();
  });
});

lockBackendContract('redis over TLS', {
  create: () => ({
    backend: new RedisLockBackend({ redis, prefix: 'tls', lingerMs: 50 }),
    resource: () => `tls-r${n++}`,
  }),
  destroy: ({ backend }) => backend.close(),
});

transportContract('redis over TLS', {
  create: () => ({ transport: new RedisTransport({ redis, prefix: 'tls:' }), type: `tls-t${n++}` }),
  destroy: ({ transport }) => transport.close(),
});

// Queue: as packages/queue/test/redis.test.ts, each queue a fresh name under the `tls` prefix.
const queues: Queue[] = [];
const configs: RemoteSource[] = [];
afterEach(async () => {
  for (const q of queues.splice(0)) await q.close();
  for (const s of configs.splice(0)) await s.store.close();
});
queueContract('redis over TLS', {
  create: () => ({
    newQueue: (options = {}) => {
      const q = createQueue(`tls-q${n++}`, { ...options, backend: 'redis', redis, prefix: 'tls' });
      queues.push(q);
      return q;
    },
  }),
});

describe('connections a package opens itself are TLS too', () => {
  // The one the contract could miss: a worker's waiter turns any BLPOP error into "wake up and fetch", so a
  // blocking connection that could not reach the TLS-only server would leave a polling worker, not a failure.
  it("an idle worker's own blocking connection is up on the TLS-only server, and an add wakes it", async () => {
    const q = createQueue(`tls-q${n++}`, { backend: 'redis', redis, prefix: 'tls' });
    queues.push(q);
    const done = new Promise<unknown>((resolve) => {
      createWorker(q, (job) => resolve(job.data), { blockMs: 60_000 });
    });
    await expect
      .poll(async () => String(await redis.client('LIST')).includes('cmd=blpop'), { timeout: 5_000 })
      .toBe(true);
    await q.add('t', 7);
    expect(await done).toBe(7);
  });
});

// Saga: as packages/saga/test/redis.test.ts.
const SAGA_LEASE_MS = 250;
sagaContract('redis over TLS', {
  create: () => ({
    store: new RedisSagaStore({ redis, prefix: 'tls', partitions: 4 }),
    clock: new FakeClock(),
    leaseMs: SAGA_LEASE_MS,
    expireLeases: () => sleep(systemClock, SAGA_LEASE_MS + 30),
  }),
});
sagaStoreContract('redis over TLS', {
  create: () => ({
    store: new RedisSagaStore({ redis, prefix: 'tls', partitions: 4 }),
    leaseMs: 100,
    expire: () => sleep(systemClock, 130),
    id: () => `tls-s-${Date.now().toString(36)}-${n++}`,
  }),
});

// Config-center: as packages/config-center/test/redis.test.ts; each source SUBSCRIBEs on a duplicate.
remoteContract('redis over TLS', {
  create: () => {
    const name = `tls-svc${n++}`;
    return {
      maxVersions: 5,
      open: () => {
        const source = redisHash({ redis, prefix: 'tls', name, maxVersions: 5 });
        configs.push(source);
        return source;
      },
    };
  },
});

// Discovery: its Redis backend, as packages/discovery/test/backends.test.ts.
discoveryContract('redis over TLS', {
  create: () => ({
    backend: new RedisDiscoveryBackend({ redis, prefix: 'tls', sweepIntervalMs: 100 }),
    name: (base: string) => `tls-${base}-${n++}`,
  }),
  destroy: ({ backend }) => backend.close(),
});

// Circuit-breaker: its Redis rate limiter (GCRA in one script) and its fleet-shared state (a key with a TTL,
// PUBLISH/SUBSCRIBE), as in packages/circuit-breaker/test/{redis-rate-limit,fleet}.test.ts. The fleet's
// subscriber is a `duplicate()` it opens itself; it only logs a failed publish or subscribe, so its warnings
// are captured and must be none.
describe('circuit-breaker over TLS', () => {
  it('the Redis rate limiter admits up to its limit, then refuses; its key is under tls:', async () => {
    const rl = redisRateLimit({ redis, prefix: 'tls', name: `tls-rl${n++}`, limit: 5, periodMs: 5_000 });
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
    expect(key).toBe(`tls:ratelimit:{${rl.name}}:default`);
    const pttl = await redis.pttl(key);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(5_000);
  });

  it('the Redis rate limiter shares one budget between two TLS connections (atomic)', async () => {
    const options = { prefix: 'tls', name: `tls-rl${n++}`, limit: 6, periodMs: 60_000 };
    const a = redisRateLimit({ ...options, redis: connect() });
    const b = redisRateLimit({ ...options, redis: connect() });
    const decisions = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).check('user-1')));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(6);
    expect((await a.check('user-1')).allowed).toBe(false);
    expect((await b.check('user-1')).allowed).toBe(false);
    expect(await redis.exists(`tls:ratelimit:{${options.name}}:user-1`)).toBe(1);
  });

  it('fleet-shared OPEN: one instance opening opens the other, with no Redis call on its call path', async () => {
    const warnings: string[] = [];
    const fleetLogger = createLogger({ level: 'warn', destination: { write: (line: string) => warnings.push(line) } });
    const quiet = createLogger({ level: 'silent' });
    const name = `tls-users${n++}`;
    const fleetA = new RedisFleet({ redis: connect(), prefix: 'tls', logger: fleetLogger });
    const countedB = counting(connect());
    const fleetB = new RedisFleet({ redis: countedB.client, prefix: 'tls', logger: fleetLogger });
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
      expect(await redis.pttl(`tls:breaker:{${name}}:open`)).toBeGreaterThan(50_000);

      // A late starter sees the fleet state from the key.
      const fleetC = new RedisFleet({ redis: connect(), prefix: 'tls', logger: fleetLogger });
      const c = new CircuitBreaker({ ...opts, fleet: fleetC });
      await new Promise((resolve) => c.onOpen(resolve));
      expect(c.state).toBe('open');
      // Closed only once its SUBSCRIBE is in: closing the fleet with it in flight logs "fleet subscribe failed".
      await fleetC.ready();
      c.dispose();
      await fleetC.close();

      // A closes (its probe succeeded): B moves to half-open to probe for itself, and the key is gone.
      const bHalf = new Promise((resolve) => b.onHalfOpen(resolve));
      a.close();
      await bHalf;
      expect(b.state).toBe('half-open');
      expect(await redis.exists(`tls:breaker:{${name}}:open`)).toBe(0); // DELeted before the close was published
      expect(warnings).toEqual([]);
    } finally {
      a.dispose();
      b.dispose();
      await fleetA.close();
      await fleetB.close();
    }
  });
});

/** Counts the commands a client sends (every ioredis command goes through `sendCommand`). */
function counting<C extends object>(client: C): { client: C; sent(): number } {
  let sent = 0;
  const proxy = new Proxy(client, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop === 'sendCommand' && typeof value === 'function') {
        return (...args: unknown[]) => {
          sent++;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return value;
    },
  });
  return { client: proxy, sent: () => sent };
}
