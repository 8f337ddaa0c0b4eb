/**
 * A write whose commit is still on its way when the config closes: it settles as soon as the commit does,
 * instead of waiting for a commit notification that a closed config no longer takes (on a live timer).
 */
import { createLogger } from '@ballast/core';
import { FakeClock, track } from '@ballast/testkit';
import { expect, it } from 'vitest';
import { z } from 'zod';
import { type ConfigStore, createConfig, MemoryConfigStore, remote } from '../src';

it('set() racing close() resolves with its record once the commit lands, leaving no timer behind', async () => {
  const clock = new FakeClock();
  const inner = new MemoryConfigStore({ initial: { a: 1 } });
  let committing = false;
  let land!: () => void;
  const landed = new Promise<void>((r) => {
    land = r;
  });
  // The remote takes the commit only when the test says so.
  const slow: ConfigStore = {
    name: 'slow',
    read: () => inner.read(),
    commit: async (expected, entries, meta) => {
      committing = true;
      await landed;
      return inner.commit(expected, entries, meta);
    },
    history: () => inner.history(),
    getVersion: (v) => inner.getVersion(v),
    watch: (listener) => inner.watch(listener),
    close: async () => {},
  };
  const config = await createConfig({
    schema: z.object({ a: z.number() }),
    clock,
    logger: createLogger({ level: 'silent' }),
    sources: [remote(slow, 'slow')],
  });
  const writing = track(config.set('a', 2));
  await expect.poll(() => committing).toBe(true);
  await config.close();
  land();
  await expect.poll(() => writing.done).toBe(true);
  expect(writing.error).toBeUndefined();
  expect((writing.value as { version: number }).version).toBe(2);
  expect(clock.pendingCount).toBe(0);
});
