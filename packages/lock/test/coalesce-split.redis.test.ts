// Review probes of the split batches (a tick's exclusive calls in up to three script calls).
import { createLogger } from '@ballast/core';
import { useRedisServer } from '@ballast/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { RedisLockBackend } from '../src/backends/redis';
import { okKeysOnlyClient } from './acl-user';

const r = useRedisServer({ args: ['--save', '', '--appendonly', 'no'] });
const silent = createLogger({ level: 'silent' });
let n = 0;

describe('split batches: call order across the chunks of one tick', () => {
  it("an ACL NOPERM in the first chunk: a release in it still runs before a later chunk's acquire of that key", async () => {
    const prefix = `sp${n++}`;
    const redis = await okKeysOnlyClient(r.redis, 'splitacl', prefix);
    const b = new RedisLockBackend({ redis, prefix, logger: silent });
    try {
      // Every script loaded first (lone acquire, lone release, batch): a NOSCRIPT fallback re-sends a script
      // after whatever followed it, a separate matter.
      await b.tryAcquire('ok:a', 't0', 'exclusive', 10_000);
      await b.release('ok:a', 't0', 'exclusive');
      await Promise.all([
        b.tryAcquire('ok:x', 'x', 'exclusive', 10_000),
        b.tryAcquire('ok:y', 'y', 'exclusive', 10_000),
      ]);
      const held = await b.tryAcquire('ok:a', 't1', 'exclusive', 10_000);
      expect(held.acquired).toBe(true);
      // Five calls: chunks of 4 + 1. The first chunk holds the release of ok:a and a refused key; the second,
      // ok:a's acquire by another owner, called after the release.
      const rs = await Promise.allSettled([
        b.release('ok:a', 't1', 'exclusive'),
        b.tryAcquire('no:1', 'u1', 'exclusive', 10_000),
        b.tryAcquire('ok:b', 'u2', 'exclusive', 10_000),
        b.tryAcquire('ok:c', 'u3', 'exclusive', 10_000),
        b.tryAcquire('ok:a', 't2', 'exclusive', 10_000),
      ]);
      expect(rs.map((x) => x.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
      const last = rs[4] as PromiseFulfilledResult<{ acquired: boolean; fencingToken?: number }>;
      expect(last.value.acquired).toBe(true);
      expect(last.value.fencingToken).toBeGreaterThan(held.acquired ? held.fencingToken : 0);
    } finally {
      await b.close();
      redis.disconnect();
      await r.redis.acl('DELUSER', 'splitacl');
    }
  });

  it("after a SCRIPT FLUSH with only the lone-call script reloaded: a later chunk's acquire still sees the earlier chunk's release", async () => {
    const redis = r.redis.duplicate();
    redis.on('error', () => {});
    const b = new RedisLockBackend({ redis, prefix: `sp${n++}`, logger: silent });
    try {
      const held = await b.tryAcquire('a', 't1', 'exclusive', 10_000);
      expect(held.acquired).toBe(true);
      await r.redis.script('FLUSH');
      // A lone call (any key, any client) reloads the single-acquire script, not the batch script.
      const lone = await b.tryAcquire('other', 'x', 'exclusive', 10_000);
      expect(lone.acquired).toBe(true);
      const [released, , , , next] = await Promise.all([
        b.release('a', 't1', 'exclusive'),
        b.tryAcquire('b', 'u1', 'exclusive', 10_000),
        b.tryAcquire('c', 'u2', 'exclusive', 10_000),
        b.tryAcquire('d', 'u3', 'exclusive', 10_000),
        b.tryAcquire('a', 't2', 'exclusive', 10_000),
      ]);
      expect(released).toBe(0);
      expect(next.acquired).toBe(true);
    } finally {
      await b.close();
      redis.disconnect();
    }
  });

  it('the same key released and re-acquired by a new owner in each of 50 ticks of 9 calls: always granted, tokens rise', async () => {
    const redis = r.redis.duplicate();
    redis.on('error', () => {});
    const b = new RedisLockBackend({ redis, prefix: `sp${n++}`, logger: silent });
    try {
      let owner = 'o0';
      let last = (await b.tryAcquire('k', owner, 'exclusive', 10_000)) as { acquired: boolean; fencingToken: number };
      for (let round = 1; round <= 50; round++) {
        const next = `o${round}`;
        const fillers = Array.from({ length: 7 }, (_, i) => b.tryAcquire(`f${round}:${i}`, 'f', 'exclusive', 1_000));
        // 9 calls: chunks of 4, 4, 1 — the release first, the acquire last.
        const [released, ...rest] = await Promise.all([
          b.release('k', owner, 'exclusive'),
          ...fillers,
          b.tryAcquire('k', next, 'exclusive', 10_000),
        ]);
        const got = rest[rest.length - 1] as { acquired: boolean; fencingToken: number };
        expect(released).toBe(0);
        expect(got.acquired).toBe(true);
        expect(got.fencingToken).toBeGreaterThan(last.fencingToken);
        last = got;
        owner = next;
      }
    } finally {
      await b.close();
      redis.disconnect();
    }
  });
});
