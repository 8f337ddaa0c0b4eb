// Review probes of the split batches on the Cluster: many resources sharing a slot, over several slots.
import { createLogger, hashSlot } from '@ballast/core';
import { useRedisClusterFixture } from '@ballast/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { RedisLockBackend } from '../src/backends/redis';

const fx = useRedisClusterFixture({ name: 'lock-coalesce-split' });
const silent = createLogger({ level: 'silent' });

/** `count` slots with `per` resource names each (names whose hash slots collide). */
function collidingResources(count: number, per: number): string[][] {
  const bySlot = new Map<number, string[]>();
  const out: string[][] = [];
  for (let i = 0; out.length < count; i++) {
    const name = `c${i}`;
    const slot = hashSlot(name);
    const list = bySlot.get(slot) ?? [];
    list.push(name);
    bySlot.set(slot, list);
    if (list.length === per) out.push(list);
  }
  return out;
}

describe('split batches on the Cluster', () => {
  it('per slot: a release then 8 acquires of other keys then the released key by a new owner, 4 slots, 20 rounds', async () => {
    const b = new RedisLockBackend({ redis: fx.cluster, prefix: `${fx.prefix}:split`, logger: silent });
    try {
      const slots = collidingResources(4, 9);
      const owner = new Map<string, string>();
      const last = new Map<string, number>();
      for (const names of slots) {
        const got = await b.tryAcquire(names[0]!, 'o0', 'exclusive', 10_000);
        expect(got.acquired).toBe(true);
        owner.set(names[0]!, 'o0');
      }
      for (let round = 1; round <= 20; round++) {
        const calls: Promise<unknown>[] = [];
        for (const names of slots) {
          const key = names[0]!;
          calls.push(b.release(key, owner.get(key)!, 'exclusive'));
          for (const other of names.slice(1)) calls.push(b.tryAcquire(`${other}`, `f${round}`, 'exclusive', 500));
          calls.push(b.tryAcquire(key, `o${round}`, 'exclusive', 10_000));
        }
        const rs = await Promise.all(calls);
        for (const [s, names] of slots.entries()) {
          const base = s * 10;
          expect(rs[base]).toBe(0);
          const got = rs[base + 9] as { acquired: boolean; fencingToken: number };
          expect(got.acquired).toBe(true);
          expect(got.fencingToken).toBeGreaterThan(last.get(names[0]!) ?? -1);
          last.set(names[0]!, got.fencingToken);
          owner.set(names[0]!, `o${round}`);
          for (const other of names.slice(1)) await b.release(other, `f${round}`, 'exclusive');
        }
      }
    } finally {
      await b.close();
    }
  });
});
