/**
 * Issue 23 §1, fleet-shared OPEN: recovery of messages missed while the subscriber was down (re-read on
 * reconnect), durations instead of the sender's wall clock, and one prober per fleet (a Redis probe lease).
 */
import { createLogger, Redis } from '@ballast/core';
import { FakeClock, FaultProxy } from '@ballast/testkit';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker, type StateChange } from '../src/breaker';
import { type FleetLink, RedisFleet } from '../src/fleet';

const fx = useRedisFixture({ name: 'breaker-fleet-v2' });
const quiet = createLogger({ level: 'silent' });

/** Resolves with what `event` delivers, or 'timed out' after `ms` (real time: Redis and sockets are real). */
function within<T>(event: (listener: (value: T) => void) => unknown, ms: number): Promise<T | 'timed out'> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('timed out'), ms);
    event((value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

describe('fleet-shared OPEN v2', () => {
  it('an OPEN published while the subscriber was disconnected is recovered when it reconnects', async () => {
    const { prefix } = fx.current;
    const proxy = await FaultProxy.start({ target: 'redis://127.0.0.1:6379' });
    const sub = new Redis(proxy.url(), { maxRetriesPerRequest: null });
    sub.on('error', () => {}); // our own connection: its reconnect errors are expected here
    const fleetA = new RedisFleet({ redis: fx.current.duplicate(), prefix, logger: quiet });
    const fleetB = new RedisFleet({ redis: fx.current.duplicate(), subscriber: sub, prefix, logger: quiet });
    const opts = { name: 'missed', volumeThreshold: 1, resetTimeoutMs: 60_000, logger: quiet };
    const a = new CircuitBreaker({ ...opts, fleet: fleetA });
    const b = new CircuitBreaker({ ...opts, fleet: fleetB });
    try {
      await Promise.all([fleetA.ready(), fleetB.ready()]);
      // B's subscriber goes away and cannot come back yet.
      proxy.down();
      proxy.cut();
      await a.execute(() => Promise.reject(new Error('down'))).catch(() => {});
      expect(a.state).toBe('open');
      expect(b.state).toBe('closed');
      // The message went out while B was away; once B's subscriber is back, B re-reads the shared key.
      const opened = within<StateChange>(b.onOpen, 8_000);
      proxy.up();
      expect(await opened).toMatchObject({ to: 'open', reason: 'fleet' });
    } finally {
      await Promise.all([a.close(), b.close()]);
      await Promise.all([fleetA.close(), fleetB.close()]);
      sub.disconnect();
      await proxy.close();
    }
  });

  it("receivers use the message's duration, not the sender's wall-clock instant", async () => {
    const { prefix } = fx.current;
    // The sender's clock is years behind: an `untilMs` compared with the receiver's wall clock is long past.
    const senderClock = new FakeClock({ now: Date.UTC(2020, 0, 1) });
    const fleetA = new RedisFleet({ redis: fx.current.duplicate(), prefix, logger: quiet });
    const fleetB = new RedisFleet({ redis: fx.current.duplicate(), prefix, logger: quiet });
    const opts = { name: 'skew', volumeThreshold: 1, resetTimeoutMs: 30_000, logger: quiet };
    const a = new CircuitBreaker({ ...opts, clock: senderClock, fleet: fleetA });
    const b = new CircuitBreaker({ ...opts, fleet: fleetB });
    try {
      await Promise.all([fleetA.ready(), fleetB.ready()]);
      const opened = within<StateChange>(b.onOpen, 5_000);
      await a.execute(() => Promise.reject(new Error('down'))).catch(() => {});
      expect(await opened).toMatchObject({ to: 'open', reason: 'fleet' });
      // And a late starter reads the time left from Redis' own PTTL.
      const current = await fleetB.current('skew');
      expect(current?.ttlMs).toBeGreaterThan(25_000);
      expect(current?.ttlMs).toBeLessThanOrEqual(30_000);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await Promise.all([fleetA.close(), fleetB.close()]);
    }
  });

  it('only one instance of the fleet probes (Redis probe lease); the others stay open until it reports', async () => {
    const { prefix } = fx.current;
    const clock = new FakeClock();
    const leases: Promise<number>[] = [];
    /** The fleet, with each lease request observed. */
    const observed = (fleet: RedisFleet): FleetLink => ({
      publish: (m) => fleet.publish(m),
      subscribe: (n, l) => fleet.subscribe(n, l),
      current: (n) => fleet.current(n),
      onResync: (l) => fleet.onResync(l),
      acquireProbe: (n) => {
        const p = fleet.acquireProbe!(n);
        leases.push(p);
        return p;
      },
    });
    const fleets = [0, 1, 2].map(() => new RedisFleet({ redis: fx.current.duplicate(), prefix, logger: quiet }));
    const opts = { name: 'lease', volumeThreshold: 1, resetTimeoutMs: 1_000, clock, logger: quiet };
    const breakers = fleets.map((f) => new CircuitBreaker({ ...opts, fleet: observed(f) }));
    const listener = new RedisFleet({ redis: fx.current.duplicate(), prefix, logger: quiet });
    let announced = 0;
    const allAnnounced = new Promise<void>((resolve) =>
      listener.subscribe('lease', () => {
        if (++announced === 3) resolve();
      }),
    );
    try {
      await Promise.all([...fleets, listener].map((f) => f.ready()));
      for (const b of breakers) b.forceOpen();
      await allAnnounced; // every open written (and any old lease released) before the reset timeout passes
      await clock.advance(1_000);
      expect(leases).toHaveLength(3);
      await Promise.all(leases);
      const states = breakers.map((b) => b.state).sort();
      expect(states).toEqual(['half-open', 'open', 'open']);
      // The prober's success is its report: the others half-open then (the fleet's close message).
      const prober = breakers.find((b) => b.state === 'half-open')!;
      const others = breakers.filter((b) => b !== prober);
      const heard = others.map((b) => within(b.onHalfOpen, 5_000));
      await prober.execute(() => 'ok');
      expect(prober.state).toBe('closed');
      expect(await Promise.all(heard)).not.toContain('timed out');
    } finally {
      await Promise.all(breakers.map((b) => b.close()));
      await Promise.all([...fleets, listener].map((f) => f.close()));
    }
  });
});
