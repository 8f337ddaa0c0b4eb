/**
 * Payload size on the bus. The bus refuses an event whose encoded data is over `maxPayloadBytes` (default
 * 1 MiB) with a typed `PayloadTooLargeError` before anything is written. With the limit turned off (0) the
 * only bound left is the server's `proto-max-bulk-len`: on a Redis started with the minimum (1 MB) an
 * oversized publish is refused — the server drops the connection, an untyped connection error — and nothing
 * of it is written. That is why the client-side limit is on by default.
 */
import { createLogger, createRedis, isBallastError, type Redis } from '@ballast/core';
import { createEventBus, isPayloadTooLargeError, RedisTransport } from '@ballast/event-bus';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type RedisServer, startRedisServer } from '../src/redis-server';

const events = { 'big.blob': z.object({ blob: z.string() }) };
const fx = useRedisFixture({ name: 'reliability-payload' });

describe('the bus limit: maxPayloadBytes', () => {
  it('a 4 MB event is refused with a typed error by default and nothing is written', async () => {
    const transport = new RedisTransport({ redis: fx.current.redis, prefix: `${fx.current.prefix}:` });
    const bus = createEventBus({ transport, source: 'p', events, logger: createLogger({ level: 'silent' }) });
    const error = await bus.publish('big.blob', { blob: 'x'.repeat(4 * 1024 * 1024) }).catch((e: unknown) => e);
    expect(isPayloadTooLargeError(error)).toBe(true);
    expect(await fx.current.redis.xlen(transport.keys.stream('big.blob'))).toBe(0);
    // A configured larger limit lets it through, delivered whole.
    const roomy = createEventBus({
      transport,
      source: 'p',
      events,
      logger: createLogger({ level: 'silent' }),
      maxPayloadBytes: 8 * 1024 * 1024,
    });
    await roomy.publish('big.blob', { blob: 'x'.repeat(4 * 1024 * 1024) });
    expect(await fx.current.redis.xlen(transport.keys.stream('big.blob'))).toBe(1);
    await bus.close();
    await roomy.close();
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

  it('with the bus limit off, an event over the server limit is refused (connection dropped, untyped error) and nothing is written', async () => {
    const transport = new RedisTransport({ redis, prefix: 'p:' });
    const bus = createEventBus({
      transport,
      source: 'p',
      events,
      logger: createLogger({ level: 'silent' }),
      maxPayloadBytes: 0, // the client-side limit off: only the server's bound is left
    });
    await bus.publish('big.blob', { blob: 'x'.repeat(100_000) });
    const error = await bus.publish('big.blob', { blob: 'x'.repeat(2 * 1024 * 1024) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    // The server drops the connection mid-command; the caller gets a raw connection error, not a typed
    // Ballast error (ioredis reconnects on its own) — the reason the bus limit is on by default.
    expect(isBallastError(error)).toBe(false);
    expect(`${(error as Error).message} ${connectionErrors.join(' ')}`).toMatch(/ECONNRESET|EPIPE|closed|Protocol/i);
    expect(await redis.xlen(transport.keys.stream('big.blob'))).toBe(1);
    expect(await redis.xlen(transport.keys.all())).toBe(1);
    await bus.close();
    await transport.close();
  });
});
