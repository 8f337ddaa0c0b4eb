import { useRedisFixture } from '@ballast/testkit/vitest';
import { describe, expect, it } from 'vitest';
import type { EventEnvelope } from '../src/envelope';
import { idempotent, memoryDedupeStore, redisDedupeStore } from '../src/idempotent';

const fx = useRedisFixture({ name: 'event-bus-idempotent' });
const event = (id: string) =>
  ({ event_id: id, event_type: 't', source_service: 's', timestamp: '', data: {}, metadata: {} }) as EventEnvelope;
const ctx = { signal: new AbortController().signal, deliveries: 1, entryId: '1-0' };

describe.each([
  ['memory', () => memoryDedupeStore()],
  ['redis', () => redisDedupeStore(fx.current.redis)],
] as const)('idempotent handler (%s store)', (_name, store) => {
  it('runs once per event id; a failure is not remembered, so the retry runs', async () => {
    let runs = 0;
    let fail = true;
    const h = idempotent(
      async () => {
        runs++;
        if (fail) throw new Error('boom');
      },
      { store: store(), key: (e) => `${fx.current.prefix}:dedupe:${e.event_id}`, ttlMs: 60_000 },
    );
    await expect(h(event('e1'), ctx)).rejects.toThrow('boom');
    fail = false;
    await h(event('e1'), ctx);
    await h(event('e1'), ctx);
    await h(event('e2'), ctx);
    expect(runs).toBe(3);
  });
});
