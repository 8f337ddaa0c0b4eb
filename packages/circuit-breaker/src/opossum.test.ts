import { createLogger } from '@ballast/core';
import { useInMemoryMetrics } from '@ballast/testkit/otel';
import OpossumBreaker from 'opossum';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fromOpossum } from './opossum';
import { BreakerRegistry } from './registry';

const collect = useInMemoryMetrics();
const quiet = createLogger({ level: 'silent' });

function logCapture() {
  const lines: { level: number; msg: string }[] = [];
  const logger = createLogger({
    level: 'debug',
    destination: { write: (s: string) => void lines.push(JSON.parse(s)) },
  });
  return { lines, logger };
}

/** The adopted breaker's metric points: requests by status, durations by status, its state. */
async function pointsOf(name: string) {
  const find = await collect();
  const mine = (metric: string) => find(metric)?.dataPoints.filter((p) => p.attributes.name === name) ?? [];
  const requests = Object.fromEntries(
    mine('circuit_breaker_requests_total').map((p) => [p.attributes.status, p.value]),
  );
  const durations = Object.fromEntries(
    mine('ballast_circuit_breaker_call_duration_ms').map((p) => [
      p.attributes.status,
      (p.value as { count: number }).count,
    ]),
  );
  const state = mine('circuit_breaker_state')[0];
  return { requests, durations, state };
}

// opossum times calls with the global timers and Date: fake them, so nothing waits on a real clock.
beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('fromOpossum', () => {
  it('counts a capacity rejection as shed only (opossum 9 also emits failure for it)', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const op = new OpossumBreaker(() => gate, { name: 'cap', capacity: 1, volumeThreshold: 100 });
    const source = fromOpossum(op, { logger: quiet });
    const running = op.fire();
    const shed = await op.fire().catch((e: { code?: string }) => e.code);
    expect(shed).toBe('ESEMLOCKED');
    release();
    await running;
    expect(source.totals).toMatchObject({ success: 1, shed: 1, failure: 0 });
    expect(source.stats().stats).toMatchObject({ shed: 1, failures: 0, successes: 1 });
    const { requests, durations } = await pointsOf('cap');
    expect(requests).toMatchObject({ success: 1, shed: 1, failure: 0 });
    expect(durations).toEqual({ success: 1 });
    await source.close();
    op.shutdown();
  });

  it('a timeout accepted by errorFilter does not swallow the next real failure', async () => {
    let attempt = 0;
    const op = new OpossumBreaker(
      () => {
        attempt++;
        return attempt === 1 ? new Promise(() => {}) : Promise.reject(new Error('down'));
      },
      {
        name: 'filtered',
        timeout: 100,
        volumeThreshold: 100,
        errorFilter: (e: { code?: string }) => e.code === 'ETIMEDOUT',
      },
    );
    const source = fromOpossum(op, { logger: quiet });
    const first = op.fire().catch((e: { code?: string }) => e.code);
    await vi.advanceTimersByTimeAsync(100);
    expect(await first).toBe('ETIMEDOUT'); // timeout, then 'success' (filtered)
    await op.fire().catch(() => {}); // a real failure
    expect(source.totals).toMatchObject({ timeout: 1, failure: 1, success: 0 });
    const { requests, durations } = await pointsOf('filtered');
    expect(requests).toMatchObject({ timeout: 1, failure: 1, success: 0 });
    expect(durations).toEqual({ timeout: 1, failure: 1 });
    await source.close();
    op.shutdown();
  });

  it('records durations from the latency opossum reports, the state gauge, and its group as service', async () => {
    const op = new OpossumBreaker(
      async (ms: number) => {
        await new Promise((r) => setTimeout(r, ms));
        if (ms > 100) throw new Error('slow and broken');
        return ms;
      },
      { name: 'legacy', group: 'users-service', timeout: 10_000, volumeThreshold: 1, errorThresholdPercentage: 1 },
    );
    const source = fromOpossum(op, { logger: quiet });
    const ok = op.fire(40);
    await vi.advanceTimersByTimeAsync(40);
    await ok;
    const broken = op.fire(250).catch(() => {});
    await vi.advanceTimersByTimeAsync(250);
    await broken;
    const { requests, durations, state } = await pointsOf('legacy');
    expect(requests).toMatchObject({ success: 1, failure: 1 });
    expect(durations).toEqual({ success: 1, failure: 1 });
    expect(state).toMatchObject({ value: 2, attributes: { name: 'legacy', service: 'users-service' } }); // open
    const find = await collect();
    const sums = find('ballast_circuit_breaker_call_duration_ms')!
      .dataPoints.filter((p) => p.attributes.name === 'legacy')
      .map((p) => [p.attributes.status, (p.value as { sum: number }).sum]);
    expect(Object.fromEntries(sums)).toEqual({ success: 40, failure: 250 });
    await source.close();
    op.shutdown();
  });

  it("logs seed 003's lines for the opossum breaker's transitions and fallbacks", async () => {
    const { lines, logger } = logCapture();
    const op = new OpossumBreaker(() => Promise.reject(new Error('down')), {
      name: 'legacy',
      volumeThreshold: 1,
      resetTimeout: 1_000,
    });
    op.fallback(() => 'cached');
    const source = fromOpossum(op, { logger, metrics: false });
    await op.fire(); // fails → fallback, opens
    await vi.advanceTimersByTimeAsync(1_000); // half-open
    op.close();
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [50, '🔴 Circuit breaker OPENED for legacy'],
      [40, '⚠️ Circuit breaker FALLBACK triggered for legacy'],
      [40, '🟡 Circuit breaker HALF-OPEN for legacy'],
      [30, '🟢 Circuit breaker CLOSED for legacy'],
    ]);
    await source.close();
    op.shutdown();
  });

  it('close() detaches: later opossum events are no longer counted or logged; the registry closes it', async () => {
    const op = new OpossumBreaker(async () => 'ok', { name: 'gone' });
    const registry = new BreakerRegistry();
    const source = fromOpossum(op, { logger: quiet });
    registry.add(source);
    await op.fire();
    await registry.close();
    await op.fire();
    expect(source.totals.success).toBe(1);
    await source.close(); // idempotent
    op.shutdown();
  });
});
