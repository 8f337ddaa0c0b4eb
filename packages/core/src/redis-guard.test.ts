import { createServer } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { BackendUnavailableError, isBackendUnavailableError } from './backend';
import { Redis, type RedisOptions } from './redis';
import { blockingMs, guardRedis, unguardedRedis } from './redis-guard';

const url = process.env.BALLAST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const key = `test:redis-guard:${process.pid}`;
const clients: Redis[] = [];
function client(u = url, extra: RedisOptions = {}): Redis {
  const c = new Redis(u, { lazyConnect: false, ...extra });
  c.on('error', () => {});
  clients.push(c);
  return c;
}
/** A port with nothing listening on it: every connection attempt is refused. */
function deadPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

afterAll(async () => {
  await clients[0]?.del(key, `${key}:list`);
  for (const c of clients) c.disconnect();
});

describe('blockingMs', () => {
  it('reads the block time of blocking reads', () => {
    expect(blockingMs('xreadgroup', ['GROUP', 'g', 'c', 'COUNT', 10, 'BLOCK', 5000, 'STREAMS', 's', '>'])).toBe(5000);
    expect(blockingMs('xread', ['BLOCK', 0, 'STREAMS', 's', '$'])).toBe(Number.POSITIVE_INFINITY);
    expect(blockingMs('bzpopmin', ['k', 2])).toBe(2000);
    expect(blockingMs('brpoplpushBuffer', ['a', 'b', 1.5])).toBe(1500);
    expect(blockingMs('blmpop', [3, 1, 'k', 'LEFT'])).toBe(3000);
    expect(blockingMs('get', ['k'])).toBe(0);
    expect(blockingMs('xread', ['COUNT', 1, 'STREAMS', 's', '0'])).toBe(0);
  });
});

describe('guardRedis on a live server', () => {
  it('answers as the client does; a command error passes through untouched', async () => {
    const redis = guardRedis(client(), { commandTimeoutMs: 1_000 });
    expect(await redis.set(key, '1')).toBe('OK');
    expect(await redis.get(key)).toBe('1');
    expect(await redis.multi().incr(key).get(key).exec()).toEqual([
      [null, 2],
      [null, '2'],
    ]);
    const error = await redis.lpush(key, 'x').catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/^WRONGTYPE/);
    expect(isBackendUnavailableError(error)).toBe(false);
    expect(redis.status).toBe('ready');
    expect(redis).toBeInstanceOf(Redis);
  });

  it('gives a blocking read its block time on top of the command timeout', async () => {
    const redis = guardRedis(client(), { commandTimeoutMs: 100 });
    // BLPOP for 1 s on an empty list: ten command timeouts, yet no error.
    expect(await redis.blpop(`${key}:list`, 1)).toBeNull();
  });

  it('guards the duplicates made from it', async () => {
    const redis = guardRedis(client(), { commandTimeoutMs: 1_000 });
    const dup = redis.duplicate();
    clients.push(unguardedRedis(dup));
    dup.on('error', () => {});
    expect(unguardedRedis(dup)).not.toBe(dup);
    expect(await dup.ping()).toBe('PONG');
  });
});

describe('guardRedis with the server unreachable', () => {
  it('rejects within commandTimeoutMs with BackendUnavailableError, where ioredis alone waits ~10 s', async () => {
    const raw = client(`redis://127.0.0.1:${await deadPort()}`);
    const redis = guardRedis(raw, { commandTimeoutMs: 300 });
    const started = performance.now();
    const error = await redis.get(key).catch((e: unknown) => e);
    const took = performance.now() - started;
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect(error).toMatchObject({ backend: 'redis', operation: 'get' });
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(2_000);
  });

  it("maps the client's own give-up (MaxRetriesPerRequestError) to BackendUnavailableError", async () => {
    const raw = client(`redis://127.0.0.1:${await deadPort()}`, { maxRetriesPerRequest: 0 });
    const error = await guardRedis(raw, { commandTimeoutMs: 5_000 })
      .evalsha('0'.repeat(40), 0)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'BACKEND_UNAVAILABLE', operation: 'evalsha' });
    expect((error as Error).cause).toMatchObject({ name: 'MaxRetriesPerRequestError' });
  });
});

describe('duplicateClient', () => {
  it('a duplicate of an enableOfflineQueue: false client takes commands before it is connected', async () => {
    const { duplicateClient } = await import('./redis');
    const raw = client(url, { enableOfflineQueue: false });
    await new Promise((r) => (raw.status === 'ready' ? r(undefined) : raw.once('ready', r)));
    // A plain duplicate refuses its first command (what our subscribers and blocking readers met).
    const plain = raw.duplicate();
    clients.push(plain);
    plain.on('error', () => {});
    await expect(plain.ping()).rejects.toThrow('enableOfflineQueue');
    const own = duplicateClient(raw);
    clients.push(own);
    own.on('error', () => {});
    expect(own.status).not.toBe('ready');
    expect(await own.ping()).toBe('PONG');
    expect(await own.subscribe(`${key}:ch`)).toBe(1);
    // The user's client keeps its own choice.
    expect(raw.options.enableOfflineQueue).toBe(false);
  });
});
