/**
 * Lease renewal on the real server's clock: a step that runs for several lease lengths keeps its saga (the
 * orchestrator renews every leaseMs / 3), so a sweeper polling all the while never claims it.
 */
import { createLogger, sleep, systemClock } from '@ballast/core';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { expect, it } from 'vitest';
import { createOrchestrator, defineSaga, RedisSagaStore } from '../src/index';

const fx = useRedisFixture({ name: 'saga-lease' });
const quiet = createLogger({ level: 'silent' });
const LEASE_MS = 150;

it('a step longer than the lease keeps its saga: another sweeper claims nothing until it is done', async () => {
  const store = new RedisSagaStore({ redis: fx.current.redis, prefix: fx.current.prefix, partitions: 2 });
  const opts = { store, leaseMs: LEASE_MS, sweepIntervalMs: 0, logger: quiet };
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const saga = defineSaga('long-step', { steps: [{ name: 'long', run: () => gate.then(() => ({ done: true })) }] });
  const a = createOrchestrator(opts);
  const b = createOrchestrator({ ...opts, sagas: [saga] });
  const run = a.run(saga, {}, { sagaId: 'long-1' });
  const claimed: string[] = [];
  // Six lease lengths of real time, sweeping every 50 ms (the time passing is what is under test).
  for (let i = 0; i < 18; i++) {
    await sleep(systemClock, 50);
    claimed.push(...(await b.sweep()));
  }
  expect(claimed).toEqual([]);
  release();
  expect(await run).toEqual({ done: true });
  expect((await a.get('long-1'))?.owner).toBe('');
  await a.close();
  await b.close();
});
