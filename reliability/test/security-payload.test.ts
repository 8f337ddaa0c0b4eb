/**
 * Payload size on the bus. @ballast/event-bus has no payload size option today (a known gap, pinned here so
 * it stays visible): a multi-megabyte event is published and delivered whole. The only bound is the server's
 * `proto-max-bulk-len`: on a Redis started with the minimum (1 MB) an oversized publish is refused — the server
 * drops the connection, the caller gets an untyped connection error, not a BallastError — and nothing of it is written.
 */
import { createLogger, createRedis, isBallastError, type Redis } from '@ballast/core';
import { createEventBus, RedisTransport } from '@ballast/event-bus';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type RedisServer, startRedisServer } from '../src/redis-server';

const events = { 'big.blob': z.object({ blob: z.string() }) };
const fx = useRedisFixture({ name: 'reliability-payload' });

describe('known gap: no payload size limit in the bus (reported, not fixed here)', () => {
  it('a 4 MB event is published and delivered whole: nothing bounds it on the client', async () => {
    const transport = new RedisTransport({ redis: fx.current.redis, prefix: `${fx.current.prefix}:` });
    const bus = createEventBus({ transport, source: 'p', events, logger: createLogger({ level: 'silent' }) });
    const blob = 'x'.repeat(4 * 1024 * 1024);
    let got = 0;
    let done: () => void = () => {};
    const delivered = new Promise<void>((r) => {
      done = r;
    });
    await bus.subscribe(
      'big.blob',
      (e) => {
        got = e.data.blob.length;
        done();
      },
      { blockMs: 50 },
    );
    await bus.publish('big.blob', { blob });
    await delivered;
    expect(got).toBe(blob.length);
    await bus.close();
    await transport.close();
  });
});

describe('the server bound: proto-max-bulk-len', () => {
  let server: RedisServer;
  let redis: Redis;
  const connectionErrors: string[] = [];
  beforeAll(async () => {
    server = await startRedisServer({ args: ['--proto-max-bulk-len', '1mb'] });
    redis = createRedis(`redis://127.0.0.1:${server.port}`) as Redis;
    redis.on('error', (e: Error) => connectionErrors.push(e.message));
  });
  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  it('an event over the server limit is refused (connection dropped, untyped error) and nothing is written', async () => {
    const transport = new RedisTransport({ redis, prefix: 'p:' });
    const bus = createEventBus({ transport, source: 'p', events, logger: createLogger({ level: 'silent' }) });
    await bus.publish('big.blob', { blob: 'x'.repeat(100_000) });
    const error = await bus.publish('big.blob', { blob: 'x'.repeat(2 * 1024 * 1024) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    // The gap: the server drops the connection mid-command; the caller gets a raw connection error, not a
    // typed Ballast error (ioredis reconnects on its own).
    expect(isBallastError(error)).toBe(false);
    expect(`${(error as Error).message} ${connectionErrors.join(' ')}`).toMatch(/ECONNRESET|EPIPE|closed|Protocol/i);
    expect(await redis.xlen(transport.keys.stream('big.blob'))).toBe(1);
    expect(await redis.xlen(transport.keys.all())).toBe(1);
    await bus.close();
    await transport.close();
  });
});
