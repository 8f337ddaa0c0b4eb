import { createLogger } from '@ballast/core';
import { FakeClock } from '@ballast/testkit';
import OpossumBreaker from 'opossum';
import { describe, expect, it, vi } from 'vitest';
import { CircuitBreaker } from './breaker';
import { fromOpossum } from './opossum';
import { BreakerRegistry, getBreakerRegistry, setBreakerRegistry } from './registry';

const quiet = createLogger({ level: 'silent' });

describe('BreakerRegistry', () => {
  it('gets or creates per-service breakers with shared defaults', () => {
    const reg = new BreakerRegistry({ timeoutMs: 5_000, logger: quiet });
    const users = reg.get('users');
    expect(reg.get('users')).toBe(users);
    expect(users.options.timeoutMs).toBe(5_000);
    expect(reg.get('devices', { timeoutMs: 1_000 }).options.timeoutMs).toBe(1_000);
    expect(reg.names()).toEqual(['users', 'devices']);
    expect(() => reg.add(new CircuitBreaker({ name: 'users', logger: quiet }))).toThrow(/already registered/);
    void reg.close();
    expect(reg.names()).toEqual([]);
  });

  it("stats() has seed 003's GET /circuit-breaker/stats shape", async () => {
    const clock = new FakeClock();
    const reg = new BreakerRegistry({ clock, logger: quiet, volumeThreshold: 3 });
    const users = reg.get('users');
    await users.execute(() => 'ok');
    await users.execute(() => Promise.reject(new Error('x'))).catch(() => {});
    await users.execute(() => Promise.reject(new Error('x'))).catch(() => {});
    await users.execute(() => 'ok').catch(() => {}); // rejected: open
    reg.get('devices');
    const s = reg.stats();
    expect(new Date(s.timestamp).toISOString()).toBe(s.timestamp);
    expect(Object.keys(s.circuitBreakers)).toEqual(['users', 'devices']);
    expect(s.circuitBreakers.users).toMatchObject({
      state: 'OPEN',
      stats: { fires: 4, successes: 1, failures: 2, timeouts: 0, rejects: 1, shed: 0, cancelled: 0 },
      totals: { success: 1, failure: 2, rejected: 1 },
    });
    expect(s.circuitBreakers.users!.stats.percentiles).toHaveProperty('p99');
    expect(s.circuitBreakers.devices!.state).toBe('CLOSED');
    await reg.close();
  });

  it('the default registry is replaceable', () => {
    const mine = new BreakerRegistry();
    setBreakerRegistry(mine);
    expect(getBreakerRegistry()).toBe(mine);
  });
});

describe('fromOpossum', () => {
  it('puts an existing opossum breaker into stats and counts its outcomes', async () => {
    const action = async (x: number) => {
      if (x < 0) throw new Error('negative');
      return x;
    };
    const op = new OpossumBreaker(action, {
      name: 'legacy',
      timeout: 1_000,
      volumeThreshold: 2,
      errorThresholdPercentage: 50,
    });
    const reg = new BreakerRegistry();
    reg.add(fromOpossum(op, { logger: quiet }));
    await op.fire(1);
    await op.fire(-1).catch(() => {});
    await op.fire(-1).catch(() => {});
    await op.fire(1).catch(() => {}); // rejected: opossum opened
    const s = reg.stats().circuitBreakers.legacy!;
    expect(s.state).toBe('OPEN');
    expect(s.stats).toMatchObject({ successes: 1, failures: 2, rejects: 1 });
    expect(s.totals).toMatchObject({ success: 1, failure: 2, rejected: 1, timeout: 0 });
    await reg.close();
    op.shutdown();
  });
});

describe('the default registry is process-wide', () => {
  it('a second copy of the package (its ESM and CJS builds in one process) gets the same registry', async () => {
    const registry = getBreakerRegistry();
    vi.resetModules();
    const copy = await import('./registry');
    expect(copy.getBreakerRegistry).not.toBe(getBreakerRegistry);
    expect(copy.getBreakerRegistry()).toBe(registry);
  });
});
