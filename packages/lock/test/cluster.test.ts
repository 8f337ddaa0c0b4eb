/**
 * The lock on the local 3-master Redis Cluster: every script's keys share a slot (the `{resource}` tag, and
 * the fencing counter named for that slot), so the contract holds there too and a lock leaves behind only its
 * slot's counter.
 */
import { createLogger, hashSlot } from '@ballast/core';
import { useRedisClusterFixture } from '@ballast/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { RedisLockBackend } from '../src/backends/redis';
import { lockKeys } from '../src/keys';
import type { Lease } from '../src/lease';
import { LockManager } from '../src/manager';
import { lockBackendContract } from './backend.contract';

const fx = useRedisClusterFixture({ name: 'lock-cluster' });
let n = 0;

lockBackendContract('redis cluster', {
  create: () => ({
    backend: new RedisLockBackend({ redis: fx.cluster, prefix: fx.prefix, lingerMs: 50 }),
    resource: () => `k${n++}`,
  }),
  destroy: ({ backend }) => backend.close(),
});

describe('LockManager on Redis Cluster', () => {
  it('2,000 distinct keys leave only per-slot fencing counters; tokens per lock strictly grow', async () => {
    const prefix = `${fx.prefix}:many`;
    const m = new LockManager({
      redis: fx.cluster,
      prefix,
      autoExtend: false,
      logger: createLogger({ level: 'silent' }),
    });
    try {
      const first = new Map<string, number>();
      for (let i = 0; i < 2_000; i += 200) {
        const leases: Lease[] = await Promise.all(
          Array.from({ length: 200 }, (_, j) => m.acquire(`user:${i + j}`, { ttlMs: 60_000 })),
        );
        for (const l of leases) first.set(l.key, l.fencingToken);
        await Promise.all(leases.map((l) => l.release()));
      }
      for (const key of ['user:0', 'user:1999']) {
        const again = await m.acquire(key);
        expect(again.fencingToken).toBeGreaterThan(first.get(key)!);
        await again.release();
      }
      const left: string[] = [];
      for (const node of fx.cluster.nodes('master')) {
        let cursor = '0';
        do {
          const [next, found] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 5_000);
          cursor = next;
          left.push(...found);
        } while (cursor !== '0');
      }
      const slots = new Set(Array.from({ length: 2_000 }, (_, i) => hashSlot(lockKeys(prefix, `user:${i}`).owners)));
      expect(left.length).toBe(slots.size); // one counter per slot used, none per key
      expect(left.every((k) => k.startsWith(`${prefix}:lock:fences:{`))).toBe(true);
    } finally {
      await m.close();
    }
  }, 20_000);

  it('fair hand-off across two managers on the Cluster', async () => {
    const logger = createLogger({ level: 'silent' });
    const a = new LockManager({ redis: fx.cluster, prefix: fx.prefix, logger });
    const other = fx.cluster.duplicate(); // another process
    const b = new LockManager({ redis: other, prefix: fx.prefix, logger });
    try {
      const lease = await a.acquire('fair');
      const next = b.acquire('fair', { waitMs: 5_000 });
      // b queues (its entry appears), then a's release hands it the lock.
      await expect.poll(() => fx.cluster.llen(lockKeys(fx.prefix, 'fair').queue)).toBe(1);
      await lease.release();
      const got = await next;
      expect(got.fencingToken).toBeGreaterThan(lease.fencingToken);
      await got.release();
    } finally {
      await a.close();
      await b.close();
      other.disconnect();
    }
  });
});

describe('coalesceScripts on the Cluster', () => {
  /** `count` resources whose keys hash to the slot of `seed`'s (found by trying names). */
  function sameSlot(prefix: string, seed: string, count: number): string[] {
    const slot = hashSlot(lockKeys(prefix, seed, { perSlot: true }).owners);
    const found = [seed];
    for (let i = 0; found.length < count; i++) {
      if (hashSlot(lockKeys(prefix, `${seed}~${i}`, { perSlot: true }).owners) === slot) found.push(`${seed}~${i}`);
    }
    return found;
  }

  it("a tick's acquires spanning slots go out as one script call per slot, each caller granted its own key", async () => {
    const prefix = `${fx.prefix}:batch`;
    const cluster = fx.cluster.duplicate();
    const evals: string[][] = [];
    const send = cluster.sendCommand.bind(cluster);
    cluster.sendCommand = ((command: { name: string; args: unknown[] }, ...rest: unknown[]) => {
      if (command.name === 'evalsha' || command.name === 'eval') {
        const n = Number(command.args[1]);
        evals.push(command.args.slice(2, 2 + n).map(String));
      }
      return (send as (...a: unknown[]) => unknown)(command, ...rest);
    }) as typeof cluster.sendCommand;
    const m = new LockManager({ redis: cluster, prefix, logger: createLogger({ level: 'silent' }) });
    try {
      await (await m.acquire('warm')).release();
      const groupA = sameSlot(prefix, 'a', 4);
      const groupB = sameSlot(prefix, 'b', 3);
      const singles = ['c', 'd', 'e', 'f', 'g'];
      const resources = [...groupA, ...groupB, ...singles];
      const slots = new Set(resources.map((r) => hashSlot(lockKeys(prefix, r, { perSlot: true }).owners)));
      expect(slots.size).toBe(2 + singles.length); // the singles do not collide (checked, not assumed)
      evals.length = 0;
      const leases = await Promise.all(resources.map((r) => m.acquire(r, { waitMs: 1_000 })));
      // One script per slot (a NOSCRIPT fallback on a node adds an EVAL with the same keys: counted once).
      const sent = new Map(evals.map((keys) => [keys.join(' '), keys]));
      expect(sent.size).toBe(slots.size);
      for (const keys of sent.values()) expect(new Set(keys.map(hashSlot)).size).toBe(1);
      const batched = [...sent.values()].map((keys) => keys.length / 6).sort();
      expect(batched).toEqual([1, 1, 1, 1, 1, 3, 4]);
      expect(leases.map((l) => l.key)).toEqual(resources);
      for (const l of leases) expect((await m.backend.holders(l.key)).holders).toEqual({ [l.token]: 1 });
      // Fencing per key still rises across batches: re-acquire the same keys in one tick.
      await Promise.all(leases.map((l) => l.release()));
      const again = await Promise.all(resources.map((r) => m.acquire(r, { waitMs: 1_000 })));
      for (const [i, l] of again.entries()) expect(l.fencingToken).toBeGreaterThan(leases[i]!.fencingToken);
      await Promise.all(again.map((l) => l.release()));
      for (const r of resources) expect((await m.backend.holders(r)).holders).toEqual({});
    } finally {
      await m.close();
      cluster.disconnect();
    }
  });
});
