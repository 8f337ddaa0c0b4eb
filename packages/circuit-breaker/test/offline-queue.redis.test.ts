/**
 * Fleets on clients made with `enableOfflineQueue: false` (fail-fast clients): each fleet's subscriber is a
 * fresh duplicate, which would refuse its SUBSCRIBE until connected: an OPEN would never be shared.
 */
import { createLogger, isBackendUnavailableError } from '@ballast/core';
import { startRedisServer } from '@ballast/testkit';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { Redis } from 'ioredis';
import { afterEach, expect, it } from 'vitest';
import { CircuitBreaker, type StateChange } from '../src/breaker';
import { RedisFleet } from '../src/fleet';

const fx = useRedisFixture({ name: 'breaker-offline-queue' });
const quiet = createLogger({ level: 'silent' });
const open: { f: RedisFleet; b: CircuitBreaker; c: Redis }[] = [];
async function closeAll() {
  for (const { f, b, c } of open.splice(0)) {
    await b.close();
    await f.close();
    c.disconnect();
  }
}
afterEach(closeAll);

/** The breaker every test uses, on `fleet` (it logs its own OPEN at error level: kept quiet). */
const users = (fleet: RedisFleet) =>
  new CircuitBreaker({ name: 'users', volumeThreshold: 2, resetTimeoutMs: 60_000, fleet, logger: quiet });

async function member(lines: string[]) {
  const { port, db } = fx.current.redis.options;
  const c = new Redis({ host: '127.0.0.1', port: port ?? 6379, db: db ?? 0, enableOfflineQueue: false });
  await new Promise((r) => c.once('ready', r));
  const logger = createLogger({ level: 'warn', destination: { write: (l: string) => void lines.push(l) } });
  const f = new RedisFleet({ redis: c, prefix: fx.current.prefix, logger });
  const b = users(f); // only the fleet's log is checked
  open.push({ f, b, c });
  await f.ready();
  return b;
}

it("an OPEN published by one fleet opens the other fleet's breaker, with nothing logged at warn", async () => {
  const lines: string[] = [];
  const [a, b] = [await member(lines), await member(lines)];
  const bOpened = new Promise<StateChange>((resolve) => b.onOpen(resolve));
  for (let i = 0; i < 2; i++) await a.execute(() => Promise.reject(new Error('down'))).catch(() => {});
  expect(a.state).toBe('open');
  await expect.poll(() => b.state, { timeout: 5_000 }).toBe('open');
  await expect(bOpened).resolves.toMatchObject({ name: 'users', to: 'open', reason: 'fleet' });
  expect(lines).toEqual([]);
});

it('started while Redis is down: ready() fails in bounded time; once Redis is back the fleet subscribes and shares OPEN', async () => {
  const server = await startRedisServer();
  try {
    await server.kill();
    // Fail-fast, and a command gives up after one reconnection attempt (the fleet's own subscriber keeps its
    // SUBSCRIBE queued until Redis is back; a given one with these options would fail it and retry on 'ready').
    const c = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    c.on('error', () => {});
    const f = new RedisFleet({ redis: c, prefix: 'offline', logger: quiet });
    const b = users(f);
    open.push({ f, b, c });
    const error = await f.ready(300).catch((e: unknown) => e);
    expect(isBackendUnavailableError(error)).toBe(true);
    await server.restart();
    await expect.poll(() => c.status, { timeout: 10_000 }).toBe('ready');
    // The SUBSCRIBE is in place once the subscriber is connected again.
    await expect
      .poll(
        () =>
          f.ready(300).then(
            () => true,
            () => false,
          ),
        { timeout: 10_000 },
      )
      .toBe(true);
    await expect.poll(async () => (await c.pubsub('NUMSUB', 'offline:breaker:fleet'))[1], { timeout: 10_000 }).toBe(1);
    const other = new Redis(server.url);
    const g = new RedisFleet({ redis: other, prefix: 'offline', logger: quiet });
    const a = users(g);
    open.push({ f: g, b: a, c: other });
    await g.ready();
    for (let i = 0; i < 2; i++) await a.execute(() => Promise.reject(new Error('down'))).catch(() => {});
    await expect.poll(() => b.state, { timeout: 5_000 }).toBe('open');
  } finally {
    await closeAll(); // before the server goes
    await server.stop();
  }
}, 30_000);
