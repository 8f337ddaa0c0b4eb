/**
 * Seed 001 state on the real server, and the cost: a happy saga of N steps takes at most N + 1 round trips —
 * including its N + 2 events, written into the event bus's streams by the state scripts themselves.
 */
import { createLogger, loadScripts } from '@ballast/core';
// Test-only: @ballast/saga has no dependency on event-bus (its src never imports it).
import { createEventBus, publishEventLua, type RedisTransport } from '@ballast/event-bus';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createOrchestrator, defineSaga, RedisSagaStore, SAGA_SCRIPTS } from '../src/index';
import { partitionKeys, partitionOf } from '../src/keys';
import { countingClient } from './counting-client';
import {
  consultationInput,
  consultationSaga,
  HEALTH_STEPS,
  healthDataSaga,
  healthInput,
  services,
} from './fixtures/sagas';

const fx = useRedisFixture({ name: 'saga-rt' });
const quiet = createLogger({ level: 'silent' });
const ev = z.object({ sagaId: z.string(), saga: z.string() }).passthrough();
const sagaEvents = {
  'saga.started': ev,
  'step.completed': ev,
  'saga.completed': ev,
  'saga.compensated': ev,
  'saga.failed': ev,
};

describe('Redis round trips', () => {
  it.each([1, 4, 8])('a happy saga of %i steps costs N + 1 round trips', async (n) => {
    await loadScripts(fx.current.redis, SAGA_SCRIPTS);
    const counted = countingClient(fx.current.redis);
    const store = new RedisSagaStore({ redis: counted.client, prefix: fx.current.prefix });
    const orch = createOrchestrator({ store, sweepIntervalMs: 0, logger: quiet });
    const saga = defineSaga<{ i: number }>(`noop-${n}`, {
      steps: Array.from({ length: n }, (_, i) => ({ name: `s${i}`, run: (c) => ({ i: c.i + 1 }) })),
    });
    counted.reset();
    expect(await orch.run(saga, { i: 0 })).toEqual({ i: n });
    expect(counted.count()).toBe(n + 1);
    await orch.close();
  });

  it.each([1, 4, 8])(
    'with an event bus on the same Redis, a happy saga of %i steps still costs N + 1 round trips: its N + 2 events are in the state writes',
    async (n) => {
      const counted = countingClient(fx.current.redis);
      const bus = createEventBus({
        redis: counted.client,
        prefix: fx.current.prefix,
        source: 'saga-rt',
        events: sagaEvents,
        logger: quiet,
      });
      const store = new RedisSagaStore({
        redis: counted.client,
        prefix: fx.current.prefix,
        events: { bus, publishLua: publishEventLua },
      });
      await loadScripts(fx.current.redis, store.scripts);
      const orch = createOrchestrator({ store, bus, sweepIntervalMs: 0, logger: quiet });
      const saga = defineSaga<{ i: number }>(`evented-${n}`, {
        steps: Array.from({ length: n }, (_, i) => ({ name: `s${i}`, run: (c) => ({ i: c.i + 1 }) })),
      });
      counted.reset();
      const sagaId = `evented-${n}-${Date.now()}`;
      expect(await orch.run(saga, { i: 0 }, { sagaId })).toEqual({ i: n });
      expect(counted.count()).toBe(n + 1);
      const keys = (bus.transport as RedisTransport).keys;
      const read = async (type: string) =>
        (await fx.current.redis.xrange(keys.stream(type), '-', '+'))
          .map(([, f]) => f[f.indexOf('data') + 1] ?? '')
          .filter((d) => d.includes(sagaId));
      expect(await read('saga.started')).toHaveLength(1);
      expect(await read('step.completed')).toHaveLength(n);
      expect(await read('saga.completed')).toHaveLength(1);
      const all = (await fx.current.redis.xrange(keys.all(), '-', '+')).filter(([, f]) => f.join().includes(sagaId));
      expect(all).toHaveLength(n + 2);
      await orch.close();
      await bus.close();
    },
  );

  it('both seed sagas stay within N + 1 (the consultation saga has 7 steps, 3 of them parallel)', async () => {
    await loadScripts(fx.current.redis, SAGA_SCRIPTS);
    const counted = countingClient(fx.current.redis);
    const store = new RedisSagaStore({ redis: counted.client, prefix: fx.current.prefix });
    const orch = createOrchestrator({ store, sweepIntervalMs: 0, logger: quiet });
    counted.reset();
    await orch.run(healthDataSaga(services()), healthInput);
    expect(counted.count()).toBeLessThanOrEqual(HEALTH_STEPS.length + 1);
    counted.reset();
    await orch.run(consultationSaga(services()), consultationInput);
    expect(counted.count()).toBeLessThanOrEqual(7 + 1);
    await orch.close();
  });

  it('the saga:{id} hash holds seed 001 fields plus version and lease owner; a finished saga leaves the lease index', async () => {
    const redis = fx.current.redis;
    const store = new RedisSagaStore({ redis, prefix: fx.current.prefix, partitions: 4 });
    const orch = createOrchestrator({ store, sweepIntervalMs: 0, logger: quiet });
    const s = services();
    s.block.add('update_blockchain');
    const sagaId = 'seed-001-shape';
    const run = orch.run(healthDataSaga(s), healthInput, { sagaId });
    await s.started('update_blockchain');
    const k = partitionKeys(fx.current.prefix, partitionOf(sagaId, 4));
    const live = await redis.hgetall(k.saga(sagaId));
    expect(live).toMatchObject({
      status: 'running',
      current_step: '2',
      executed_steps: 'validate_user,save_health_data',
      saga: 'health-data',
      version: '3',
      owner: orch.id,
    });
    expect(JSON.parse(live.context!)).toMatchObject({ userId: 'u1', recordId: 'rec-d1' });
    expect(Number(await redis.zscore(k.leasesOf('health-data'), sagaId))).toBe(Number(live.lease_until));
    s.release('update_blockchain');
    await run;
    expect(await redis.hgetall(k.saga(sagaId))).toMatchObject({ status: 'completed', owner: '', current_step: '4' });
    expect(await redis.zscore(k.leasesOf('health-data'), sagaId)).toBeNull();
    expect(await redis.pttl(k.saga(sagaId))).toBeGreaterThan(0); // retention
    await orch.close();
  });
});
