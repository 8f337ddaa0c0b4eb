/**
 * Least privilege: a Redis started by this test on its own port, whose default user is off and whose only
 * user may run data, scripting and pub/sub commands — no admin or dangerous ones — on `sec:*` keys and
 * channels only. Every Redis-backed contract suite runs through that user unchanged: lock, event bus, queue,
 * saga (store and orchestrator), config-center and discovery. Each package gets the key prefix `sec`, and
 * every package builds its keys as `<prefix>:<scope>:{<tag>}:…` (core's `createKeyBuilder`: the prefix
 * first, the hash tag after it), so `~sec:*` covers all of them, hash-tagged ones included, and `&sec:*`
 * covers their channels (bus, config `…:changed`, discovery `…:discovery:changes`). The user is shown to be
 * really limited (other keys, FLUSHALL, CONFIG, KEYS refused).
 */
import { connect as connectSocket } from 'node:net';
import { type RemoteSource, redisHash } from '@ballast/config-center';
import { createRedis, type Redis, sleep, systemClock } from '@ballast/core';
import { RedisBackend as RedisDiscoveryBackend } from '@ballast/discovery';
import { RedisTransport } from '@ballast/event-bus';
import { RedisLockBackend } from '@ballast/lock';
import { RedisSagaStore } from '@ballast/saga';
import { FakeClock } from '@ballast/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
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
 * connection's own CLIENT ID/UNBLOCK. Queue, saga, config-center and discovery needed nothing beyond what the
 * lock and the bus already did.
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
