import { describe, expect, it } from 'vitest';
import { countCommands, createRedisFixture } from '../src/redis-fixture';

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
