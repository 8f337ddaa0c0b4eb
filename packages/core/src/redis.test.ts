import { describe, expect, it } from 'vitest';
import { countSocketWrites } from '../test/socket-writes';
import { InvalidOptionsError } from './errors';
import { Cluster, coalesceWrites, createRedis, InvalidRedisUrlError, isCluster, parseRedisUrl, Redis } from './redis';

describe('parseRedisUrl', () => {
  it('reads host, port, db, ACL user and password, TLS', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6379')).toEqual({ host: '127.0.0.1', port: 6379, db: 0, tls: false });
    expect(parseRedisUrl('rediss://app:s3cr%40t@redis.internal:6380/2')).toEqual({
      host: 'redis.internal',
      port: 6380,
      db: 2,
      tls: true,
      username: 'app',
      password: 's3cr@t',
    });
    expect(parseRedisUrl('redis://:onlypass@h')).toMatchObject({ password: 'onlypass', port: 6379 });
    expect(parseRedisUrl('redis://:onlypass@h').username).toBeUndefined();
    expect(parseRedisUrl('h:7000')).toMatchObject({ host: 'h', port: 7000 });
    expect(parseRedisUrl('redis://[::1]:6379')).toMatchObject({ host: '::1' });
  });

  it('rejects bad URLs with a typed error that hides the password', () => {
    expect(() => parseRedisUrl('http://h')).toThrow(InvalidRedisUrlError);
    expect(() => parseRedisUrl('redis://u:pw@h/abc')).toThrow(/database must be a number/);
    try {
      parseRedisUrl('mysql://u:topsecret@h');
    } catch (e) {
      expect((e as Error).message).not.toContain('topsecret');
    }
  });
});

describe('createRedis', () => {
  it('connects to the real server from a URL', async () => {
    const r = createRedis({ url: 'redis://127.0.0.1:6379/0', connectionName: 'ballast-core-test' });
    try {
      expect(r).toBeInstanceOf(Redis);
      expect(isCluster(r)).toBe(false);
      expect(await r.ping()).toBe('PONG');
      expect(await r.client('GETNAME')).toBe('ballast-core-test');
    } finally {
      r.disconnect();
    }
  });

  it('makes a Cluster client from a nodes list or a comma-separated URL', () => {
    const lazy = { clusterOptions: { lazyConnect: true } };
    const a = createRedis({ nodes: ['10.0.0.1:7000', 'redis://u:p@10.0.0.2:7001'], ...lazy });
    const b = createRedis({ url: 'redis://u:p@10.0.0.1:7000,10.0.0.2:7001', ...lazy });
    for (const c of [a, b]) {
      expect(c).toBeInstanceOf(Cluster);
      expect(isCluster(c)).toBe(true);
      c.disconnect();
    }
    expect((b as unknown as { startupNodes: unknown }).startupNodes).toEqual([
      { host: '10.0.0.1', port: 7000 },
      { host: '10.0.0.2', port: 7001 },
    ]);
    expect((b as Cluster).options.redisOptions).toMatchObject({ username: 'u', password: 'p' });
  });

  it('rejects options it does not know, naming the field', () => {
    expect(() => createRedis({ url: 'redis://h', host: 'x' } as never)).toThrow(InvalidOptionsError);
    expect(() => createRedis({} as never)).toThrow(/url/);
  });
});

describe('coalesceWrites', () => {
  it('sends the commands of one tick in one socket write, each settling with its own reply', async () => {
    const r = createRedis('redis://127.0.0.1:6379') as Redis;
    try {
      await r.ping();
      const key = `ballast:core-test:coalesce:${process.pid}`;
      const counter = countSocketWrites(r);
      const send = (n: number) =>
        Array.from({ length: n }, (_, i) => {
          coalesceWrites(r);
          return r.incrby(key, i + 1);
        });
      const replies = await Promise.all(send(10));
      expect(counter.writes).toBe(1);
      expect(replies).toEqual([1, 3, 6, 10, 15, 21, 28, 36, 45, 55]); // in order, each its own reply
      // Without it, each command is a write of its own.
      counter.writes = 0;
      await Promise.all(Array.from({ length: 5 }, () => r.incr(key)));
      expect(counter.writes).toBe(5);
      // The cork ends with the tick: a command of the next tick is written again at once.
      counter.writes = 0;
      coalesceWrites(r);
      const first = r.incr(key);
      await first;
      const second = r.incr(key);
      expect(counter.writes).toBe(2);
      expect(await second).toBe(62);
      await r.del(key);
    } finally {
      r.disconnect();
    }
  });

  it('leaves a client alone while it is not connected, and a Cluster', async () => {
    const r = createRedis({ url: 'redis://127.0.0.1:6379', redisOptions: { lazyConnect: true } }) as Redis;
    expect(() => coalesceWrites(r)).not.toThrow();
    await r.connect();
    expect(await r.ping()).toBe('PONG');
    r.disconnect();
    const c = createRedis({ nodes: ['127.0.0.1:7001'], clusterOptions: { lazyConnect: true } });
    expect(() => coalesceWrites(c)).not.toThrow();
    c.disconnect();
  });
});
