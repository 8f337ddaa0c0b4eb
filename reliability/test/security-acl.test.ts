/**
 * Least privilege: a Redis started by this test on its own port, whose default user is off and whose only
 * user may run data, scripting and pub/sub commands — no admin or dangerous ones — on `sec:*` keys and
 * channels only. Every Redis-backed contract suite runs through that user unchanged (registered by
 * redis-suites.ts, as for the TLS test): lock, event bus, queue, saga (store and orchestrator), config-center
 * and discovery; and circuit-breaker's Redis users, its rate limiter and its fleet-shared breaker state, as in
 * its own real-Redis tests. Each package gets the key prefix `sec`, and
 * every package builds its keys as `<prefix>:<scope>:{<tag>}:…` (core's `createKeyBuilder`: the prefix
 * first, the hash tag after it), so `~sec:*` covers all of them, hash-tagged ones included, and `&sec:*`
 * covers their channels (bus, config `…:changed`, discovery `…:discovery:changes`). The user is shown to be
 * really limited (other keys, FLUSHALL, CONFIG, KEYS refused), and after every suite the ACL log shows that
 * Redis refused it nothing.
 */
import { connect as connectSocket } from 'node:net';
import { createRedis, type Redis } from '@ballast/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedisServer } from '../src/redis-server';
import { registerRedisSuites } from './redis-suites';

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

// Every Redis-backed suite (redis-suites.ts) through the app user, the key prefix `sec`. The queue workers'
// blocking connections (BLPOP, in @write), the config and discovery subscribers and the breaker fleet's are
// `duplicate()`s of the connection given, so they log in as the same user; the saga's leases read the server's
// TIME (hence +time). A refusal the packages only log or swallow shows in the ACL-log audit below.
registerRedisSuites({
  via: 'via least-privilege ACL user',
  connection: 'ACL',
  prefix: 'sec',
  tag: 'acl',
  redis: () => redis,
  connect,
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
