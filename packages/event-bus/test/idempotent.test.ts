import { FakeClock } from '@ballast/testkit';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { type DedupeStore, memoryDedupeStore, redisDedupeStore } from '../src/dedupe';
import type { EventEnvelope } from '../src/envelope';
import { isEventInProgressError } from '../src/errors';
import type { HandlerContext } from '../src/handler';
import { idempotent } from '../src/idempotent';
import { eventKeys } from '../src/keys';
import { deferred } from './bus-harness';

const fx = useRedisFixture({ name: 'event-bus-idempotent' });
const event = (id: string) =>
  ({
    event_id: id,
    event_type: 'order.paid',
    source_service: 's',
    timestamp: '',
    data: {},
    metadata: {},
  }) as EventEnvelope;
let seq = 0;
/** A handler context under a fresh key prefix, as a bus on that prefix passes it. */
const contextFor = (group = 'g'): HandlerContext => ({
  signal: new AbortController().signal,
  deliveries: 1,
  entryId: '1-0',
  group,
  keys: eventKeys(`${fx.current.prefix}:${seq++}:`),
});

describe.each([
  ['memory', (clock: FakeClock) => memoryDedupeStore({ clock })],
  ['redis', () => redisDedupeStore(fx.current.redis)],
] as const)('idempotent handler (%s store)', (_name, makeStore: (clock: FakeClock) => DedupeStore) => {
  it('runs once per event id; a failure (a throw or false) releases the claim, so the retry runs', async () => {
    const clock = new FakeClock();
    const ctx = contextFor();
    let runs = 0;
    let outcome: 'throw' | 'false' | 'ok' = 'throw';
    const h = idempotent(
      async () => {
        runs++;
        if (outcome === 'throw') throw new Error('boom');
        return outcome === 'ok';
      },
      { store: makeStore(clock), clock, ttlMs: 60_000 },
    );
    await expect(h(event('e1'), ctx)).rejects.toThrow('boom');
    outcome = 'false';
    expect(await h(event('e1'), ctx)).toBe(false);
    outcome = 'ok';
    await h(event('e1'), ctx);
    await h(event('e1'), ctx); // done: skipped
    await h(event('e2'), ctx);
    expect(runs).toBe(4);
  });

  it('two deliveries at once: one runs, the other fails with EventInProgressError and later skips', async () => {
    const clock = new FakeClock();
    const ctx = contextFor();
    const inside = deferred();
    const finish = deferred();
    let runs = 0;
    const h = idempotent(
      async () => {
        runs++;
        inside.resolve();
        await finish.promise;
      },
      { store: makeStore(clock), clock },
    );
    const first = h(event('e1'), ctx);
    await inside.promise;
    const second = await Promise.resolve(h(event('e1'), ctx)).catch((e: unknown) => e);
    expect(isEventInProgressError(second)).toBe(true);
    expect(second).toMatchObject({ eventType: 'order.paid', eventId: 'e1' });
    finish.resolve();
    await first;
    await h(event('e1'), ctx); // the redelivery of the second: handled by the first, skipped
    expect(runs).toBe(1);
  });

  it('remembers per group, and per handler name within a group', async () => {
    const clock = new FakeClock();
    const store = makeStore(clock);
    const ctx = contextFor('mailer');
    const otherGroup = { ...ctx, group: 'audit' };
    const runs: string[] = [];
    const mail = idempotent(() => void runs.push('mail'), { store, clock, name: 'mail' });
    const sms = idempotent(() => void runs.push('sms'), { store, clock, name: 'sms' });
    await mail(event('e1'), ctx);
    await sms(event('e1'), ctx);
    await mail(event('e1'), otherGroup);
    await mail(event('e1'), ctx);
    expect(runs).toEqual(['mail', 'sms', 'mail']);
  });

  it('renews the in-progress claim while the handler runs, so a slow run keeps it past leaseMs', async () => {
    const clock = new FakeClock();
    const base = makeStore(clock);
    // The renewal runs off a timer (fire and forget): count the extensions that have landed, so the test reads
    // the TTL after the renewal's command completed, not merely after the timer fired.
    let extended = 0;
    let landed: (() => void) | undefined;
    const store: DedupeStore = {
      claim: (...a) => base.claim(...a),
      complete: (...a) => base.complete(...a),
      release: (...a) => base.release(...a),
      extend: async (...a) => {
        try {
          return await base.extend(...a);
        } finally {
          extended++;
          landed?.();
        }
      },
    };
    const renewals = async (n: number) => {
      while (extended < n) await new Promise<void>((r) => (landed = r));
    };
    const ctx = contextFor();
    const inside = deferred();
    const finish = deferred();
    const h = idempotent(
      async () => {
        inside.resolve();
        await finish.promise;
      },
      { store, clock, leaseMs: 30_000 },
    );
    const running = h(event('e1'), ctx);
    await inside.promise;
    const key = ctx.keys.dedupe('order.paid', 'g', 'e1');
    // The claim is nearly expired (on Redis: its TTL shortened; in memory: time passes) when a renewal fires.
    if (_name === 'redis') await fx.current.redis.pexpire(key, 1_000);
    await clock.advance(20_000); // two renewals (every 10 s)
    await renewals(2);
    if (_name === 'redis') expect(await fx.current.redis.pttl(key)).toBeGreaterThan(20_000);
    await clock.advance(20_000); // 40 s after the claim: still held
    await renewals(4);
    expect(await store.claim(key, 'another-run', 30_000)).toBe('busy');
    finish.resolve();
    await running;
    expect(await store.claim(key, 'another-run', 30_000)).toBe('done');
  });
});

describe('idempotent on Redis: keys', () => {
  it('the default marker key is keys.dedupe(type, group, event_id): the bus prefix, {type} and group', async () => {
    const ctx = contextFor('mailer');
    const h = idempotent(() => {}, { store: redisDedupeStore(fx.current.redis), ttlMs: 60_000 });
    await h(event('e9'), ctx);
    const key = ctx.keys.dedupe('order.paid', 'mailer', 'e9');
    expect(key).toMatch(new RegExp(`^${fx.current.prefix}:\\d+:events:dedupe:\\{order\\.paid\\}:mailer:e9$`));
    expect(await fx.current.redis.get(key)).toBe('done');
    const ttl = await fx.current.redis.pttl(key);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });
});
