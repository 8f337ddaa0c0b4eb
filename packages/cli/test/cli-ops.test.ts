/**
 * The built `ballast` bin's saga, lock, breaker and discovery commands against real Redis (and the testkit's
 * Consul emulator for `discovery list --consul`): each reads what a running service wrote, and each action is
 * seen by that service — a retried saga dead letter is compensated by the service's recovery sweeper, a cancel
 * reaches the saga's owner, a force-released lock's holder finds its lease lost.
 */
import { randomUUID } from 'node:crypto';
import { CircuitBreaker, redisFleet } from '@ballast/circuit-breaker';
import { createLogger } from '@ballast/core';
import { ConsulBackend, createConsulClient, RedisBackend } from '@ballast/discovery';
import { LockManager } from '@ballast/lock';
import { createOrchestrator, defineSaga, isSagaFailedError, RedisSagaStore } from '@ballast/saga';
import { type ConsulEmulator, startConsulEmulator } from '@ballast/testkit/consul';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { binRunner } from './bin';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

const prefix = `cli-ops-${randomUUID().slice(0, 8)}`;
const { ballast, json } = binRunner(prefix);
const quiet = createLogger({ level: 'silent' });
// Each poll spawns the bin (seconds on a loaded machine): expect.poll's default 1 s would give up mid-spawn.
const POLL = { timeout: 45_000, interval: 200 };
let redis: Redis;

beforeAll(() => {
  redis = new Redis('redis://127.0.0.1:6379');
});
afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

describe('ballast saga', () => {
  let undoWorks = false;
  let reserveUndone = 0;
  const booking = defineSaga<{ n: number }>('booking', {
    steps: [
      {
        name: 'reserve',
        run: async () => ({}),
        compensate: async () => {
          if (!undoWorks) throw new Error('inventory service down');
          reserveUndone++;
        },
      },
      {
        name: 'charge',
        run: async (c, { signal }) => {
          if (c.n === 0) throw new Error('card declined');
          // A long step that ends only when aborted (a cancel).
          await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
          return {};
        },
      },
    ],
  });
  const orchestrator = () =>
    createOrchestrator({
      store: new RedisSagaStore({ redis, prefix }),
      sagas: [booking],
      logger: quiet,
      compensationMaxRetries: 0,
      leaseMs: 900,
      sweepIntervalMs: 0,
    });

  it('lists dead letters, shows the timeline, and a retry is compensated by the service sweeper', async () => {
    const o = orchestrator();
    const failed = await o.run(booking, { n: 0 }, { sagaId: `s-${randomUUID()}` }).catch((e: unknown) => e);
    expect(isSagaFailedError(failed) && failed.status).toBe('compensation_failed');
    const sagaId = (failed as { sagaId: string }).sagaId;

    const letters = await json('saga', 'dlq', 'list');
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ sagaId, saga: 'booking', step: 'reserve' });
    const shown = await json('saga', 'show', sagaId);
    expect(shown.status).toBe('compensation_failed');
    expect(shown.timeline.map((t: { step: string; event: string }) => `${t.step}: ${t.event}`)).toEqual([
      'reserve: executed',
      'charge: failed: card declined',
      'reserve: compensation failed: inventory service down',
    ]);
    const table = await ballast('saga', 'show', sagaId);
    expect(table.out).toMatch(/compensation_failed/);

    // Dry run and refusal change nothing.
    expect((await ballast('saga', 'retry', letters[0].id, '--dry-run')).code).toBe(0);
    expect((await ballast('saga', 'retry', letters[0].id)).code).toBe(4);
    expect(await json('saga', 'dlq', 'list')).toHaveLength(1);

    undoWorks = true;
    const retried = await json('saga', 'retry', letters[0].id, '--yes');
    expect(retried).toEqual([expect.objectContaining({ entry: letters[0].id, saga: sagaId })]);
    expect(await json('saga', 'dlq', 'list')).toEqual([]);
    expect((await json('saga', 'show', sagaId)).status).toBe('compensating');
    // The service (which has the saga's code) finishes it at its next sweep.
    expect(await o.sweep()).toEqual([sagaId]);
    expect((await o.settled(sagaId))?.status).toBe('compensated');
    expect(reserveUndone).toBe(1);
    expect((await ballast('saga', 'retry', letters[0].id, '--yes')).code).toBe(3);
    await o.close();
  });

  it('lists a running saga and cancels it from the terminal: its owner compensates', async () => {
    const o = orchestrator();
    const sagaId = `s-${randomUUID()}`;
    const running = o.run(booking, { n: 1 }, { sagaId }).catch((e: unknown) => e);
    await expect
      .poll(async () => (await json('saga', 'list', 'booking')).sagas.map((s: { id: string }) => s.id), POLL)
      .toContain(sagaId);
    const before = reserveUndone;
    expect((await ballast('saga', 'cancel', sagaId, '--yes', '-m', 'customer asked')).code).toBe(0);
    const outcome = await running;
    expect(isSagaFailedError(outcome) && outcome.status).toBe('compensated');
    expect(reserveUndone).toBe(before + 1);
    expect((await json('saga', 'list', 'booking')).sagas).toEqual([]);
    expect((await ballast('saga', 'cancel', sagaId, '--yes')).code).toBe(3);
    expect((await ballast('saga', 'show', 'nope')).code).toBe(3);
    await o.close();
  });
});

describe('ballast lock', () => {
  it('lists and shows holders with fencing tokens; force-release makes the holder lose its lease', async () => {
    const m = new LockManager({ redis, prefix, autoExtend: false, logger: quiet });
    const acquired = Date.now();
    const lease = await m.acquire('order:1', { ttlMs: 600_000 });
    const listed = await json('lock', 'list');
    expect(listed).toEqual([
      expect.objectContaining({
        resource: 'order:1',
        mode: 'exclusive',
        holders: [expect.objectContaining({ fencingToken: lease.fencingToken, count: 1 })],
      }),
    ]);
    expect((await ballast('lock', 'list')).out).toContain('order:1');
    const ttl = (await json('lock', 'show', 'order:1')).holders[0].ttlMs;
    expect(ttl).toBeGreaterThanOrEqual(600_000 - (Date.now() - acquired) - 100);
    expect(ttl).toBeLessThanOrEqual(600_000);
    expect((await ballast('lock', 'force-release', 'order:1')).code).toBe(4);
    expect(await json('lock', 'force-release', 'order:1', '--yes')).toEqual([
      { resource: 'order:1', 'holders removed': 1 },
    ]);
    expect(await lease.extend()).toBe(false);
    expect(lease.signal.aborted).toBe(true);
    expect((await ballast('lock', 'show', 'order:1')).code).toBe(3);
    await m.close();
  });
});

describe('ballast breaker', () => {
  it('shows a breaker open fleet-wide and for how long', async () => {
    const fleet = redisFleet({ redis, prefix });
    const users = new CircuitBreaker({ name: 'users', fleet, resetTimeoutMs: 300_000 });
    const opened = Date.now();
    users.forceOpen();
    await expect
      .poll(async () => (await json('breaker', 'stats')).map((b: { breaker: string }) => b.breaker), POLL)
      .toEqual(['users']);
    const [row] = await json('breaker', 'stats');
    const elapsed = Date.now() - opened;
    expect(row.state).toBe('open');
    // Redis' PTTL: the reset timeout less the time since the open (a 100 ms allowance for clock granularity).
    expect(row.openForMs).toBeGreaterThanOrEqual(300_000 - elapsed - 100);
    expect(row.openForMs).toBeLessThanOrEqual(300_000);
    users.forceClose();
    await expect.poll(async () => await json('breaker', 'stats'), POLL).toEqual([]);
    await users.close?.();
    await fleet.close();
  });
});

describe('ballast discovery', () => {
  let consul: ConsulEmulator;
  beforeAll(async () => {
    consul = await startConsulEmulator();
  });
  afterAll(async () => {
    await consul.close();
  });
  const spec = (id: string, port: number) => ({
    id,
    name: 'reports',
    address: '127.0.0.1',
    port,
    tags: ['v2'],
    meta: {},
    status: 'passing' as const,
  });

  it('lists every service registered in the Redis registry, or the ones named', async () => {
    const backend = new RedisBackend({ redis, prefix });
    await backend.register(spec('reports-1', 8001));
    await backend.register({ ...spec('billing-1', 8002), name: 'billing' });
    const all = await json('discovery', 'list');
    expect(all.map((i: { name: string; id: string; status: string }) => `${i.name}/${i.id}/${i.status}`)).toEqual([
      'billing/billing-1/passing',
      'reports/reports-1/passing',
    ]);
    expect((await json('discovery', 'list', 'reports')).map((i: { id: string }) => i.id)).toEqual(['reports-1']);
    await backend.close();
  });

  it('reads Consul (here the testkit emulator) with --consul', async () => {
    const client = createConsulClient({ url: consul.url, timeoutMs: 2_000 });
    const backend = new ConsulBackend({ client });
    await backend.register(spec('reports-c1', 9001));
    const listed = await json('--consul', consul.url, 'discovery', 'list');
    expect(listed.map((i: { id: string; url: string }) => `${i.id} ${i.url}`)).toEqual([
      'reports-c1 http://127.0.0.1:9001',
    ]);
    client.close();
  });
});
