/**
 * Least privilege: a Redis started by this test on its own port, whose default user is off and whose only
 * user may run data, scripting and pub/sub commands — no admin or dangerous ones — on `sec:*` keys and
 * channels only. The lock and event-bus Redis contract suites run through that user unchanged, and the
 * user is shown to be really limited (other keys, FLUSHALL, CONFIG, KEYS refused).
 */
import { connect as connectSocket } from 'node:net';
import { createRedis, type Redis } from '@ballast/core';
import { RedisTransport } from '@ballast/event-bus';
import { RedisLockBackend } from '@ballast/lock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transportContract } from '../../packages/event-bus/test/transport.contract';
import { lockBackendContract } from '../../packages/lock/test/backend.contract';
import { type RedisServer, startRedisServer } from '../src/redis-server';

const PASSWORD = 'acl-test-pw-4711';
/** What the lock and the bus need: data commands, scripts, pub/sub, and the connection's own CLIENT ID/UNBLOCK. */
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
const clients: Redis[] = [];
let n = 0;

const connect = () => {
  const c = createRedis(`redis://app:${PASSWORD}@127.0.0.1:${server.port}`) as Redis;
  clients.push(c);
  return c;
};

beforeAll(async () => {
  server = await startRedisServer({ args: ['--user', 'default', 'off', '--user', 'app', ...RULES] });
  redis = connect();
  await redis.ping();
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
