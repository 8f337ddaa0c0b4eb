/**
 * A subscriber connection that drops again while ioredis' automatic re-SUBSCRIBE (sent on each reconnect) has no
 * reply yet, and whose client gives up on a command after one retry: that SUBSCRIBE's promise — which nobody
 * holds — rejected unhandled (a crash under Node's default), and the fleet stayed unsubscribed for good. The
 * fleet's own subscriber keeps its commands queued across reconnections (core `duplicateClient(…, 'subscriber')`).
 */
import { once } from 'node:events';
import { createLogger } from '@ballast/core';
import { FaultProxy, startRedisServer } from '@ballast/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type FleetMessage, RedisFleet } from '../src/fleet';

const quiet = createLogger({ level: 'silent' });
const unhandled: unknown[] = [];
const onUnhandled = (e: unknown) => void unhandled.push(e);
beforeAll(() => void process.on('unhandledRejection', onUnhandled));
afterAll(() => void process.off('unhandledRejection', onUnhandled));

it('a re-SUBSCRIBE cut off before its reply: no unhandled rejection, and the fleet is subscribed once Redis is back', async () => {
  const server = await startRedisServer();
  let proxy = await FaultProxy.start({ target: server.url });
  const port = proxy.port;
  const c = new Redis(`redis://127.0.0.1:${port}`, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  c.on('error', () => {});
  let sub!: Redis;
  const duplicate = c.duplicate.bind(c);
  c.duplicate = ((o) => {
    sub = duplicate(o);
    return sub;
  }) as typeof c.duplicate;
  const f = new RedisFleet({ redis: c, prefix: 'rs', logger: quiet });
  const other = new Redis(server.url);
  const g = new RedisFleet({ redis: other, prefix: 'rs', logger: quiet });
  try {
    const got: FleetMessage[] = [];
    f.subscribe('b', (m) => got.push(m));
    await f.ready();
    // Replies come late; on reconnecting, ioredis writes its re-SUBSCRIBE once the connection is 'ready'.
    proxy.delay(400);
    proxy.cut();
    await once(sub, 'ready');
    // The connection drops before that SUBSCRIBE's reply, and reconnecting is refused past the one retry allowed.
    await proxy.close();
    let attempts = 0;
    sub.on('reconnecting', () => attempts++);
    await expect.poll(() => attempts, { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
    proxy = await FaultProxy.start({ target: server.url, port });
    await once(sub, 'ready');
    await expect.poll(async () => (await other.pubsub('NUMSUB', 'rs:breaker:fleet'))[1], { timeout: 5_000 }).toBe(1);
    g.publish({ breaker: 'b', state: 'open', ttlMs: 60_000 });
    await expect.poll(() => got.length, { timeout: 5_000 }).toBe(1);
    expect(unhandled).toEqual([]);
  } finally {
    await g.close();
    await f.close();
    other.disconnect();
    c.disconnect();
    await proxy.close();
    await server.stop();
  }
}, 30_000);
