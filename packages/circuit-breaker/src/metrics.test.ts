import { createLogger } from '@ballast/core';
import { useInMemoryMetrics } from '@ballast/testkit/otel';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './breaker';

const collect = useInMemoryMetrics();

describe('breaker metrics (in-memory OTel SDK)', () => {
  it('records state, requests by status and call durations under the seed names', async () => {
    const b = new CircuitBreaker({ name: 'users', volumeThreshold: 3, logger: createLogger({ level: 'silent' }) });
    await b.execute(() => 'ok');
    await b.execute(() => Promise.reject(new Error('x'))).catch(() => {});
    let find = await collect();
    const state = find('circuit_breaker_state')!;
    expect(state.dataPoints.find((p) => p.attributes.name === 'users')).toMatchObject({
      value: 0,
      attributes: { name: 'users', service: 'users' },
    });
    await b.execute(() => Promise.reject(new Error('x'))).catch(() => {});
    await b.execute(() => 'ok').catch(() => {}); // rejected
    find = await collect();
    expect(find('circuit_breaker_state')!.dataPoints.find((p) => p.attributes.name === 'users')?.value).toBe(2);
    const requests = find('circuit_breaker_requests_total')!;
    const byStatus = Object.fromEntries(
      requests.dataPoints.filter((p) => p.attributes.name === 'users').map((p) => [p.attributes.status, p.value]),
    );
    expect(byStatus).toMatchObject({ success: 1, failure: 2, rejected: 1, timeout: 0, shed: 0, cancelled: 0 });
    const duration = find('ballast_circuit_breaker_call_duration_ms')!;
    const counts = Object.fromEntries(
      duration.dataPoints.map((p) => [p.attributes.status, (p.value as { count: number }).count]),
    );
    expect(counts).toEqual({ success: 1, failure: 2 });
    await b.close();
  });

  it('records every call duration with an SDK registered, past the latency sampling threshold', async () => {
    // Without an SDK the duration histogram is the API's no-op and the breaker samples its own latency; with
    // one, each call is timed and recorded.
    const b = new CircuitBreaker({ name: 'busy', logger: createLogger({ level: 'silent' }) });
    for (let i = 0; i < 600; i++) await b.execute(async () => 'ok');
    const find = await collect();
    const point = find('ballast_circuit_breaker_call_duration_ms')!.dataPoints.find(
      (p) => p.attributes.name === 'busy' && p.attributes.status === 'success',
    );
    expect(point).toBeDefined();
    expect((point!.value as { count: number }).count).toBe(600);
    expect(b.latency().count).toBe(600);
    await b.close();
  });

  it("reports the breaker's group (opossum's) as the service attribute", async () => {
    const b = new CircuitBreaker({ name: 'users-read', group: 'users', logger: createLogger({ level: 'silent' }) });
    const find = await collect();
    expect(find('circuit_breaker_state')!.dataPoints.find((p) => p.attributes.name === 'users-read')).toMatchObject({
      value: 0,
      attributes: { name: 'users-read', service: 'users' },
    });
    await b.close();
  });
});
