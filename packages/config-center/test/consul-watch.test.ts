/**
 * The Consul watch follows Consul's blocking-query rules through core's shared loop
 * (https://developer.hashicorp.com/consul/api-docs/features/blocking, "Implementation Details"): an answer
 * without `X-Consul-Index` (index 0) must not turn it into a busy loop (it made ~1,500 requests a second).
 */
import { FakeClock } from '@ballast/testkit';
import { describe, expect, it } from 'vitest';
import { ConsulConfigStore, type ConsulKv, type KvListOptions } from '../src';

/** A KV client whose list answers at once with index 0, as through a proxy that strips Consul's headers. */
function indexlessKv(stopAfter: number, stop: () => void) {
  const sent: (number | undefined)[] = [];
  const kv = {
    async list(_prefix: string, o: KvListOptions = {}) {
      sent.push(o.index);
      if (sent.length >= stopAfter) stop(); // a runaway loop: end it so the test reports instead of hanging
      return { index: 0, pairs: [{ key: 'p/a', value: '1', modifyIndex: 3, flags: 0 }] };
    },
  } as unknown as ConsulKv;
  return { kv, sent };
}

describe('Consul watch: blocking-query rules', () => {
  it('an answer without X-Consul-Index: the index is clamped to >= 1 and requests are rate-limited', async () => {
    const clock = new FakeClock();
    let off = () => {};
    const { kv, sent } = indexlessKv(1_000, () => off());
    const store = new ConsulConfigStore({ kv, clock, prefix: 'p/', watchRateLimit: { burst: 5, perSecond: 10 } });
    const states: unknown[] = [];
    off = store.watch(
      (s) => void states.push(s),
      () => {},
    );
    await expect.poll(() => sent.length).toBeGreaterThanOrEqual(5);
    await clock.advance(1_000);
    await expect.poll(() => sent.length).toBeGreaterThanOrEqual(14);
    off();
    await store.close();
    // The bucket: 5 at once, then 10 a second.
    expect(sent.length).toBeLessThanOrEqual(16);
    expect(sent[0]).toBe(0); // the first read does not block
    expect(sent.slice(1).every((i) => (i ?? 0) >= 1)).toBe(true);
    expect(states).toHaveLength(1); // the same state is delivered once
  });
});
