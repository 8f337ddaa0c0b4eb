import { createLogger } from '@ballast/core';
import { countCommands } from '@ballast/testkit';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../src/breaker';
import { isBrokenCircuitError } from '../src/errors';
import { RedisFleet } from '../src/fleet';

const fx = useRedisFixture({ name: 'breaker-fleet' });
const quiet = createLogger({ level: 'silent' });

describe('fleet-shared OPEN on real Redis', () => {
  it('one instance opening opens the other, with no Redis call on the protected path', async () => {
    const { redis, prefix } = fx.current;
    const fleetA = new RedisFleet({ redis: fx.current.duplicate(), prefix, logger: quiet });
    // B's commands are counted on its own client: a server-wide count would see every other test file's
    // commands, since vitest runs files in parallel against the same Redis.
    const countedB = countCommands(fx.current.duplicate());
    const fleetB = new RedisFleet({ redis: countedB.client, prefix, logger: quiet });
    const opts = { name: 'users', volumeThreshold: 2, resetTimeoutMs: 60_000, logger: quiet };
    const a = new CircuitBreaker({ ...opts, fleet: fleetA });
    const b = new CircuitBreaker({ ...opts, fleet: fleetB });
    await Promise.all([fleetA.ready(), fleetB.ready()]);
    try {
      // Count commands B's connection sends while B serves calls: must be none.
      const before = countedB.sent();
      expect(before).toBeGreaterThan(0); // the counter sees B's start-up read of the fleet state
      for (let i = 0; i < 50; i++) await b.execute(() => 'ok');
      expect(countedB.sent() - before).toBe(0);

      const bOpened = b.onOpen.length >= 0 ? new Promise((r) => b.onOpen(r)) : undefined;
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
      c.dispose();
      await fleetC.close();

      // A closes (its probe succeeded): B moves to half-open to probe for itself.
      const bHalf = new Promise((r) => b.onHalfOpen(r));
      a.close();
      await bHalf;
      expect(b.state).toBe('half-open');
      expect(await redis.exists(`${prefix}:breaker:{users}:open`)).toBe(0);
    } finally {
      a.dispose();
      b.dispose();
      await fleetA.close();
      await fleetB.close();
    }
  });
});

describe('fleet teardown', () => {
  it('close() with the SUBSCRIBE still in flight logs no warning (the teardown is ours)', async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'warn', destination: { write: (line: string) => void lines.push(line) } });
    const fleet = new RedisFleet({ redis: fx.current.redis, prefix: fx.current.prefix, logger });
    fleet.subscribe('users', () => {});
    await fleet.close(); // disconnects its own subscriber before SUBSCRIBE is answered
    await fleet.ready(); // the SUBSCRIBE has settled (failed: connection closed)
    expect(lines.filter((l) => l.includes('fleet subscribe failed'))).toEqual([]);
  });
});
