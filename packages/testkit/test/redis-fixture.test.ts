import { type Cluster, createRedis } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import {
  countCommands,
  createRedisClusterFixture,
  createRedisFixture,
  defaultClusterNodes,
  escapeGlob,
} from '../src/redis-fixture';

describe('createRedisFixture', () => {
  it('gives each fixture its own prefix and deletes exactly its keys', async () => {
    const a = await createRedisFixture({ name: 'fixture-a' });
    const b = await createRedisFixture({ name: 'fixture-a' });
    try {
      expect(a.prefix).not.toBe(b.prefix);
      await a.redis.set(a.key('x'), '1');
      await a.redis.set(a.key('{tag}', 'y'), '2');
      await b.redis.set(b.key('x'), '3');
      expect(await a.cleanup()).toBe(2);
      expect(await a.redis.exists(a.key('x'))).toBe(0);
      expect(await b.redis.get(b.key('x'))).toBe('3');
    } finally {
      await a.close();
      await b.close();
    }
    expect(a.redis.status).toMatch(/end|close/);
  });
});

describe('glob characters in a fixture name', () => {
  it('escapeGlob makes * ? [ ] \\ literal', () => {
    expect(escapeGlob('test:a[bc]*:q?\\z')).toBe('test:a\\[bc\\]\\*:q\\?\\\\z');
    expect(escapeGlob('plain:name-1')).toBe('plain:name-1');
  });

  // Unescaped, `test:a[bc]*:<id>*` misses the fixture's own `test:a[bc]*:<id>:x` (`[bc]` is one of b, c) and
  // matches another file's `test:abZZ:<id>:x`; `q?\z` likewise (`\z` is a literal z, not a backslash then z).
  it.each(['a[bc]*', 'q?\\z'])('cleanup deletes exactly its own keys for name %s', async (name) => {
    const fx = await createRedisFixture({ name });
    const id = fx.prefix.slice(fx.prefix.lastIndexOf(':') + 1);
    const foreign = `test:${name === 'a[bc]*' ? 'abZZ' : 'qQz'}:${id}:x`;
    try {
      await fx.redis.set(fx.key('x'), '1');
      await fx.redis.set(foreign, 'not mine');
      expect(await fx.cleanup()).toBe(1);
      expect(await fx.redis.exists(fx.key('x'))).toBe(0);
      expect(await fx.redis.get(foreign)).toBe('not mine');
    } finally {
      await fx.redis.del(foreign);
      await fx.close();
    }
  });

  it('a Cluster fixture deletes exactly its own keys on every master', async () => {
    const fx = await createRedisClusterFixture({ name: 'a[bc]*' });
    const id = fx.prefix.slice(fx.prefix.lastIndexOf(':') + 1);
    // Keys spread over slots, so over every master.
    const mine = Array.from({ length: 12 }, (_, i) => `${fx.prefix}:${i}`);
    const foreign = Array.from({ length: 12 }, (_, i) => `test:abZZ:${id}:${i}`);
    const observer = createRedis({ nodes: defaultClusterNodes() }) as Cluster;
    try {
      await Promise.all([...mine, ...foreign].map((k) => fx.cluster.set(k, '1')));
      await fx.close();
      const left = await Promise.all([...mine, ...foreign].map((k) => observer.exists(k)));
      expect(left).toEqual([...mine.map(() => 0), ...foreign.map(() => 1)]);
    } finally {
      await Promise.all(foreign.map((k) => observer.del(k)));
      observer.disconnect();
    }
  });
});

describe('countCommands', () => {
  it('counts the commands sent through the wrapped client, and only those', async () => {
    const fx = await createRedisFixture({ name: 'count' });
    const other = fx.duplicate();
    try {
      const counted = countCommands(fx.duplicate());
      await counted.client.ping();
      const start = counted.sent();
      await counted.client.set(`${fx.prefix}:k`, '1');
      await counted.client.get(`${fx.prefix}:k`);
      await other.get(`${fx.prefix}:k`); // another client: not counted
      expect(counted.sent() - start).toBe(2);
      counted.client.disconnect();
    } finally {
      other.disconnect();
      await fx.close();
    }
  });
});
