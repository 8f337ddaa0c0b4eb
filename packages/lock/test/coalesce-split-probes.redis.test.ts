// Review probes of the split batches: mixed ticks, close() racing, fair hand-off.
import { createLogger } from '@ballast/core';
import { useRedisServer } from '@ballast/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { RedisLockBackend } from '../src/backends/redis';
import { createLockManager } from '../src/index';

const r = useRedisServer({ args: ['--save', '', '--appendonly', 'no'] });
const silent = createLogger({ level: 'silent' });
let n = 0;

describe('split batches: probes', () => {
  it('a tick of 9 exclusive calls then a shared acquire, an extend and an exclusive acquire of the released key', async () => {
    const redis = r.redis.duplicate();
    const b = new RedisLockBackend({ redis, prefix: `pp${n++}`, logger: silent });
    try {
      await b.tryAcquire('a', 't1', 'exclusive', 10_000);
      await b.tryAcquire('e', 'te', 'exclusive', 10_000);
      for (let round = 0; round < 20; round++) {
        const [rel, , , , , , , , ext, sh] = await Promise.all([
          b.release('a', 't1', 'exclusive'),
          ...Array.from({ length: 7 }, (_, i) => b.tryAcquire(`f${round}:${i}`, 'f', 'exclusive', 1_000)),
          b.extend('e', 'te', 'exclusive', 10_000),
          b.tryAcquire('a', `s${round}`, 'shared', 10_000),
        ]);
        expect(rel).toBe(0);
        expect(ext).toBe(true);
        expect((sh as { acquired: boolean }).acquired).toBe(true);
        const [relS, ex] = await Promise.all([
          b.release('a', `s${round}`, 'shared'),
          ...Array.from({ length: 8 }, (_, i) => b.tryAcquire(`g${round}:${i}`, 'g', 'exclusive', 1_000)),
          b.tryAcquire('a', 't1', 'exclusive', 10_000),
        ]).then((xs) => [xs[0], xs[xs.length - 1]]);
        expect(relS).toBe(0);
        expect((ex as { acquired: boolean }).acquired).toBe(true);
      }
    } finally {
      await b.close();
      redis.disconnect();
    }
  });

  it('close() in the same tick as 30 batched acquires and releases: every key ends free', async () => {
    const redis = r.redis.duplicate();
    const prefix = `pp${n++}`;
    const m = createLockManager({ redis, prefix, logger: silent });
    const held = await Promise.all(Array.from({ length: 15 }, (_, i) => m.acquire(`h${i}`)));
    const pending = [
      ...held.map((l) => l.release()),
      ...Array.from({ length: 15 }, (_, i) => m.acquire(`n${i}`, { waitMs: 0 })),
    ].map((p) => (p as Promise<unknown>).catch((e: unknown) => e));
    await m.close();
    await Promise.all(pending);
    const probe = new RedisLockBackend({ redis: r.redis, prefix, logger: silent });
    try {
      for (let i = 0; i < 15; i++) {
        expect((await probe.holders(`h${i}`)).holders).toEqual({});
        expect((await probe.holders(`n${i}`)).holders).toEqual({});
      }
    } finally {
      await probe.close();
      redis.disconnect();
    }
  });

  it('fair hand-off: 10 workers on one key, 300 grants: no streak over 1, tokens rise, none lost', async () => {
    const redis = r.redis.duplicate();
    const m = createLockManager({ redis, prefix: `pp${n++}`, logger: silent, fair: true });
    try {
      const order: number[] = [];
      const tokens: number[] = [];
      let inside = 0;
      let total = 0;
      await Promise.all(
        Array.from({ length: 10 }, async (_, w) => {
          while (total < 300) {
            const l = await m.acquire('hot', { waitMs: 10_000 });
            inside++;
            expect(inside).toBe(1);
            order.push(w);
            tokens.push(l.fencingToken);
            total++;
            await Promise.resolve();
            inside--;
            await l.release();
          }
        }),
      );
      let streak = 1;
      let maxStreak = 1;
      // Only the tail (workers leaving once 300 are counted) may repeat: the first 20 (workers not all queued yet) neither.
      for (let i = 21; i < Math.min(order.length, 280); i++) {
        streak = order[i] === order[i - 1] ? streak + 1 : 1;
        maxStreak = Math.max(maxStreak, streak);
      }
      for (let i = 1; i < tokens.length; i++) expect(tokens[i]!).toBeGreaterThan(tokens[i - 1]!);
      expect(maxStreak).toBe(1);
      expect(order.length).toBeGreaterThanOrEqual(300);
    } finally {
      await m.close();
      redis.disconnect();
    }
  });
});
