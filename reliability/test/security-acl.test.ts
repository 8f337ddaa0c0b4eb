/**
 * Least privilege: a Redis started by this test on its own port, whose default user is off and whose only
 * user may run data, scripting and pub/sub commands — no admin or dangerous ones — on `sec:*` keys and
 * channels only. Every Redis-backed contract suite runs through that user unchanged: lock, event bus, queue,
 * saga (store and orchestrator), config-center and discovery; and circuit-breaker's Redis users, its rate
 * limiter and its fleet-shared breaker state, as in its own real-Redis tests. Each package gets the key prefix `sec`, and
 * every package builds its keys as `<prefix>:<scope>:{<tag>}:…` (core's `createKeyBuilder`: the prefix
 * first, the hash tag after it), so `~sec:*` covers all of them, hash-tagged ones included, and `&sec:*`
 * covers their channels (bus, config `…:changed`, discovery `…:discovery:changes`). The user is shown to be
 * really limited (other keys, FLUSHALL, CONFIG, KEYS refused).
 */
import { connect as connectSocket } from 'node:net';
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
import { createQueue, type Queue } from '../../packages/queue/src/index';
import { queueContract } from '../../packages/queue/test/queue.contract';
import { sagaContract } from '../../packages/saga/test/orchestrator.contract';
import { storeContract as sagaStoreContract } from '../../packages/saga/test/store.contract';
import { type RedisServer, startRedisServer } from '../src/redis-server';

const PASSWORD = 'acl-test-pw-4711';
/**
 * What every package needs: data commands (BLPOP of the queue workers, XADD/XRANGE of the saga DLQ and the bus
 * included: they are in @write/@read), scripts, pub/sub, TIME (leases on the server clock), and the bus
 * connection's own CLIENT ID/UNBLOCK. Queue, saga, config-center, discovery and circuit-breaker (its GCRA
 * script reads TIME; its fleet SETs with PX, GETs, DELs, PUBLISHes and SUBSCRIBEs) needed nothing beyond what
 * the lock and the bus already did.
 */
const RULES: string[] = [
  'on',
  `>${PASSWORD}`,
  'resetkeys',
  '~sec:*',
  'resetchannels',
  '&sec:*',
  '-@all',
  '+@read',
  '+@write',
  '+@scripting',
  '+@pubsub',
  '+@connection',
  '-@dangerous',
  '-@admin',
  '+info',
  '+time',
  '+client|id',
  '+client|unblock',
  '+client|setname',
];

/**
 * A second user that may run ACL LOG and nothing else (no keys, no channels), for the test alone: a refusal
 * inside a suite could be swallowed (a worker's BLPOP error only ends its wait, a subscriber error is only
 * logged), so the file ends by asserting that Redis refused the app user nothing once the limits were shown.
 */
const AUDIT_PASSWORD = 'acl-audit-pw-0815';
const AUDIT_RULES: string[] = ['on', `>${AUDIT_PASSWORD}`, 'resetkeys', 'resetchannels', '-@all', '+acl|log'];

/** One inline command on a fresh socket; resolves with the first reply line. */
function rawCommand(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connectSocket(port, '127.0.0.1', () => socket.write(`${command}\r\n`));
    socket.setEncoding('utf8');
    socket.once('data', (line: string) => {
      socket.destroy();
      resolve(line.trim());
    });
    socket.once('error', reject);
  });
}

let server: RedisServer;
let redis: Redis;
let auditor: Redis;
const clients: Redis[] = [];
let n = 0;

const connect = () => {
  const c = createRedis(`redis://app:${PASSWORD}@127.0.0.1:${server.port}`) as Redis;
  clients.push(c);
  return c;
};

beforeAll(async () => {
  server = await startRedisServer({
    args: ['--user', 'default', 'off', '--user', 'app', ...RULES, '--user', 'audit', ...AUDIT_RULES],
  });
  redis = connect();
  await redis.ping();
  auditor = createRedis({
    url: `redis://audit:${AUDIT_PASSWORD}@127.0.0.1:${server.port}`,
    redisOptions: { enableReadyCheck: false },
  }) as Redis;
  clients.push(auditor);
});

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await server?.stop();
});

describe('the ACL user is really limited', () => {
  it('refuses keys outside its pattern, admin and dangerous commands, and the default user', async () => {
    await expect(redis.set('other:key', '1')).rejects.toThrow(/NOPERM/);
    await expect(redis.flushall()).rejects.toThrow(/NOPERM/);
    await expect(redis.config('GET', 'requirepass')).rejects.toThrow(/NOPERM/);
    await expect(redis.keys('sec:*')).rejects.toThrow(/NOPERM/);
    await expect(redis.publish('other-channel', 'x')).rejects.toThrow(/NOPERM/);
    expect(await redis.set('sec:ok', '1')).toBe('OK');
    await redis.del('sec:ok');
    // Without credentials (the default user is off) nothing is allowed, not even PING.
    expect(await rawCommand(server.port, 'PING')).toMatch(/^-NOAUTH/);
    expect(await rawCommand(server.port, 'AUTH default nopass')).toMatch(/^-WRONGPASS/);
    // The auditor may read the ACL log and nothing else.
    await expect(auditor.get('sec:ok')).rejects.toThrow(/NOPERM/);
    // The refusals above are in the ACL log; the suites start with it empty (see the last test).
    expect(((await auditor.call('ACL', 'LOG')) as unknown[]).length).toBeGreaterThan(0);
    await auditor.call('ACL', 'LOG', 'RESET');
  });
});

lockBackendContract('redis via least-privilege ACL user', {
  create: () => ({
    backend: new RedisLockBackend({ redis, prefix: 'sec', lingerMs: 50 }),
    resource: () => `acl-r${n++}`,
  }),
  destroy: ({ backend }) => backend.close(),
});

transportContract('redis via least-privilege ACL user', {
  create: () => ({ transport: new RedisTransport({ redis, prefix: 'sec:' }), type: `acl-t${n++}` }),
  destroy: ({ transport }) => transport.close(),
});

// Queue: as packages/queue/test/redis.test.ts, each queue a fresh name under the `sec` prefix; the workers'
// blocking connections (BLPOP, in @write) are duplicates of this one, so they log in as the same user.
const queues: Queue[] = [];
const configs: RemoteSource[] = [];
afterEach(async () => {
  for (const q of queues.splice(0)) await q.close();
  for (const s of configs.splice(0)) await s.store.close();
});
queueContract('redis via least-privilege ACL user', {
  create: () => ({
    newQueue: (options = {}) => {
      const q = createQueue(`acl-q${n++}`, { ...options, backend: 'redis', redis, prefix: 'sec' });
      queues.push(q);
      return q;
    },
  }),
});

// Saga: as packages/saga/test/redis.test.ts (leases on the Redis server's clock, hence +time).
const SAGA_LEASE_MS = 250;
sagaContract('redis via least-privilege ACL user', {
  create: () => ({
    store: new RedisSagaStore({ redis, prefix: 'sec', partitions: 4 }),
    clock: new FakeClock(),
    leaseMs: SAGA_LEASE_MS,
    expireLeases: () => sleep(systemClock, SAGA_LEASE_MS + 30),
  }),
});
sagaStoreContract('redis via least-privilege ACL user', {
  create: () => ({
    store: new RedisSagaStore({ redis, prefix: 'sec', partitions: 4 }),
    leaseMs: 100,
    expire: () => sleep(systemClock, 130),
    id: () => `acl-s-${Date.now().toString(36)}-${n++}`,
  }),
});

// Config-center: as packages/config-center/test/redis.test.ts; each source SUBSCRIBEs on a duplicate.
remoteContract('redis via least-privilege ACL user', {
  create: () => {
    const name = `acl-svc${n++}`;
    return {
      maxVersions: 5,
      open: () => {
        const source = redisHash({ redis, prefix: 'sec', name, maxVersions: 5 });
        configs.push(source);
        return source;
      },
    };
  },
});

// Discovery: its Redis backend, as packages/discovery/test/backends.test.ts.
discoveryContract('redis via least-privilege ACL user', {
  create: () => ({
    backend: new RedisDiscoveryBackend({ redis, prefix: 'sec', sweepIntervalMs: 100 }),
    name: (base: string) => `acl-${base}-${n++}`,
  }),
  destroy: ({ backend }) => backend.close(),
});

// Circuit-breaker: its Redis rate limiter (GCRA in one script, on the server's TIME) and its fleet-shared state
// (SET … PX / GET / DEL of `sec:breaker:{name}:open`, PUBLISH and SUBSCRIBE on `sec:breaker:fleet`), as in
// packages/circuit-breaker/test/{redis-rate-limit,fleet}.test.ts. The fleet only logs a refused publish or
// subscribe, so its warnings are captured and must be none (the ACL-log audit below catches them too).
describe('circuit-breaker via least-privilege ACL user', () => {
  it('the Redis rate limiter admits up to its limit, then refuses; its key is under sec:', async () => {
    const rl = redisRateLimit({ redis, prefix: 'sec', name: `acl-rl${n++}`, limit: 5, periodMs: 5_000 });
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
    expect(key).toBe(`sec:ratelimit:{${rl.name}}:default`);
    const pttl = await redis.pttl(key);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(5_000);
  });

  it('the Redis rate limiter shares one budget between two ACL connections (atomic)', async () => {
    const options = { prefix: 'sec', name: `acl-rl${n++}`, limit: 6, periodMs: 60_000 };
    const a = redisRateLimit({ ...options, redis: connect() });
    const b = redisRateLimit({ ...options, redis: connect() });
    const decisions = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).check('user-1')));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(6);
    expect((await a.check('user-1')).allowed).toBe(false);
    expect((await b.check('user-1')).allowed).toBe(false);
    expect(await redis.exists(`sec:ratelimit:{${options.name}}:user-1`)).toBe(1);
  });

  it('fleet-shared OPEN: one instance opening opens the other, with no Redis call on its call path', async () => {
    const warnings: string[] = [];
    const fleetLogger = createLogger({ level: 'warn', destination: { write: (line: string) => warnings.push(line) } });
    const quiet = createLogger({ level: 'silent' });
    const name = `acl-users${n++}`;
    const fleetA = new RedisFleet({ redis: connect(), prefix: 'sec', logger: fleetLogger });
    const countedB = counting(connect());
    const fleetB = new RedisFleet({ redis: countedB.client, prefix: 'sec', logger: fleetLogger });
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
      expect(await redis.pttl(`sec:breaker:{${name}}:open`)).toBeGreaterThan(50_000);

      // A late starter sees the fleet state from the key.
      const fleetC = new RedisFleet({ redis: connect(), prefix: 'sec', logger: fleetLogger });
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
      expect(await redis.exists(`sec:breaker:{${name}}:open`)).toBe(0); // DELeted before the close was published
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

describe('after every suite', () => {
  it('Redis refused the app user nothing: no key, channel or command was missing from its rules', async () => {
    const log = (await auditor.call('ACL', 'LOG')) as unknown[][];
    const entries = log.map((entry) => {
      const fields: Record<string, unknown> = {};
      for (let i = 0; i + 1 < entry.length; i += 2) fields[String(entry[i])] = entry[i + 1];
      return `${fields.username} ${fields.reason} ${fields.context} ${fields.object}`;
    });
    expect(entries).toEqual([]);
  });
});
