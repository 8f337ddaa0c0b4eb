import { EventEmitter } from 'node:events';
import { createLogger, Redis, type RedisClient } from '@ballast/core';
import { countCommands, FakeClock } from '@ballast/testkit';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { describe, expect, it, vi } from 'vitest';
import type { StateChange } from '../src/breaker';
import { CircuitBreaker } from '../src/breaker';
import { isBrokenCircuitError } from '../src/errors';
import { type FleetMessage, RedisFleet } from '../src/fleet';

const fx = useRedisFixture({ name: 'breaker-fleet' });
const quiet = createLogger({ level: 'silent' });

function logCapture() {
  const lines: { level: number; msg: string }[] = [];
  const logger = createLogger({ level: 'info', destination: { write: (s: string) => void lines.push(JSON.parse(s)) } });
  return { lines, logger };
}

describe('fleet-shared OPEN on real Redis', () => {
  it('one instance opening opens the other, with no Redis call on the protected path', async () => {
    const { redis, prefix } = fx.current;
    const fleetA = new RedisFleet({ redis: fx.current.duplicate(), prefix, logger: quiet });
    // B's commands are counted on B's own client (not server-wide): a server-wide count would see every other
    // test file's commands, since vitest runs files in parallel against the same Redis.
    const countedB = countCommands(fx.current.duplicate());
    const fleetB = new RedisFleet({ redis: countedB.client, prefix, logger: quiet });
    const opts = { name: 'users', volumeThreshold: 2, resetTimeoutMs: 60_000, logger: quiet };
    const a = new CircuitBreaker({ ...opts, fleet: fleetA });
    const b = new CircuitBreaker({ ...opts, fleet: fleetB });
    await Promise.all([fleetA.ready(), fleetB.ready()]);
    try {
      // Count commands B's client sends while B serves calls: must be none.
      const before = countedB.sent();
      expect(before).toBeGreaterThan(0); // the counter sees B's start-up read of the fleet state
      for (let i = 0; i < 50; i++) await b.execute(() => 'ok');
      expect(countedB.sent() - before).toBe(0);

      const bOpened = new Promise<StateChange>((resolve) => b.onOpen(resolve));
      await a.execute(() => Promise.reject(new Error('down'))).catch(() => {});
      await a.execute(() => Promise.reject(new Error('down'))).catch(() => {});
      expect(a.state).toBe('open');
      await expect(bOpened).resolves.toMatchObject({ name: 'users', to: 'open', reason: 'fleet' });
      expect(isBrokenCircuitError(await b.execute(() => 'ok').catch((e: unknown) => e))).toBe(true);
      const ttl = await redis.pttl(`${prefix}:breaker:{users}:open`);
      expect(ttl).toBeGreaterThan(50_000);

      // A late starter sees the fleet state from the key.
      const fleetC = new RedisFleet({ redis: fx.current.duplicate(), prefix, logger: quiet });
      const c = new CircuitBreaker({ ...opts, fleet: fleetC });
      await new Promise((r) => c.onOpen(r));
      expect(c.state).toBe('open');
      await fleetC.ready();
      await c.close();
      await fleetC.close();

      // A closes the circuit (its probe succeeded): B moves to half-open to probe for itself.
      const bHalf = new Promise((r) => b.onHalfOpen(r));
      a.forceClose();
      await bHalf;
      expect(b.state).toBe('half-open');
      expect(await redis.exists(`${prefix}:breaker:{users}:open`)).toBe(0);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await Promise.all([fleetA.close(), fleetB.close()]);
    }
  });

  it("sets the shared key's TTL from the breaker's own clock and reset timeout, not this process's wall clock", async () => {
    const { redis, prefix } = fx.current;
    // A test clock months away from the wall clock: a TTL computed as `untilMs - Date.now()` would be negative.
    const clock = new FakeClock({ now: Date.UTC(2020, 0, 1) });
    const fleetA = new RedisFleet({ redis: fx.current.duplicate(), prefix, logger: quiet });
    const listener = new RedisFleet({ redis: fx.current.duplicate(), prefix, logger: quiet });
    const heard = new Promise<FleetMessage>((resolve) => listener.subscribe('ttl', resolve));
    await listener.ready();
    const a = new CircuitBreaker({
      name: 'ttl',
      clock,
      volumeThreshold: 1,
      resetTimeoutMs: 45_000,
      logger: quiet,
      fleet: fleetA,
    });
    try {
      await a.execute(() => Promise.reject(new Error('down'))).catch(() => {});
      // The key is written before the message is published: once heard, it is there.
      // A duration only: no wall-clock instant for receivers to compare with their own clocks.
      const message = await heard;
      expect(message).toMatchObject({ state: 'open', ttlMs: 45_000 });
      expect(message.untilMs).toBeUndefined();
      const ttl = await redis.pttl(`${prefix}:breaker:{ttl}:open`);
      expect(ttl).toBeGreaterThan(40_000);
      expect(ttl).toBeLessThanOrEqual(45_000);
    } finally {
      await a.close();
      await Promise.all([fleetA.close(), listener.close()]);
    }
  });
});

describe('fleet teardown and outages', () => {
  it('close() with the SUBSCRIBE still in flight logs no warning (the teardown is ours); close() is idempotent', async () => {
    const { lines, logger } = logCapture();
    const fleet = new RedisFleet({ redis: fx.current.redis, prefix: fx.current.prefix, logger });
    fleet.subscribe('users', () => {});
    const closing = fleet.close(); // disconnects its own subscriber before SUBSCRIBE is answered
    expect(fleet.close()).toBe(closing);
    await closing;
    await fleet.ready(); // the SUBSCRIBE has settled (failed: connection closed)
    expect(lines.filter((l) => l.level >= 40)).toEqual([]);
  });

  it('logs its own subscriber connection failing once per outage, and its return', async () => {
    const sub = Object.assign(new EventEmitter(), {
      subscribe: async () => 1,
      unsubscribe: async () => 1,
      disconnect: () => {},
    });
    const redis = { duplicate: () => sub } as unknown as RedisClient;
    const { lines, logger } = logCapture();
    const fleet = new RedisFleet({ redis, logger });
    for (let i = 0; i < 5; i++) sub.emit('error', new Error('connect ECONNREFUSED'));
    sub.emit('ready');
    sub.emit('error', new Error('connect ECONNREFUSED'));
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [40, 'fleet subscriber connection failed: OPEN is not shared until it is back'],
      [30, 'fleet subscriber connection is back'],
      [40, 'fleet subscriber connection failed: OPEN is not shared until it is back'],
    ]);
    await fleet.close();
    sub.emit('error', new Error('after close'));
    expect(lines).toHaveLength(3);
  });

  it('with Redis unreachable, ioredis prints no "Unhandled error event": the fleet listens', async () => {
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => {});
    const { lines, logger } = logCapture();
    // Port 1: connection refused at once; retried every 5 ms.
    const down = new Redis({ port: 1, lazyConnect: true, retryStrategy: () => 5 });
    let sub: Redis | undefined;
    const duplicate = down.duplicate.bind(down);
    down.duplicate = (...args: Parameters<Redis['duplicate']>) => {
      sub = duplicate(...args);
      return sub;
    };
    const fleet = new RedisFleet({ redis: down, logger });
    fleet.subscribe('users', () => {}); // the subscriber connects (and fails, again and again)
    try {
      // Waiting on 'reconnecting', not 'error' (nor with events.once, which listens to 'error' too): a
      // listener of ours would hide the very problem under test.
      for (let i = 0; i < 3; i++) await new Promise((resolve) => sub!.once('reconnecting', resolve));
      expect(lines.filter((l) => l.level === 40)).toHaveLength(1);
      expect(consoleError.mock.calls.flat().join(' ')).not.toContain('Unhandled error event');
    } finally {
      await fleet.close();
      down.disconnect();
      consoleError.mockRestore();
    }
  });
});
