// `coalesceScripts` (#18 §2): the exclusive acquires and releases called in one tick go out as ONE script call,
// each caller still settling on its own. Counted on a private redis-server (no other client's commands land in
// INFO's counters) and on the client's own sendCommand.
import { createLogger, isBallastError, type Redis } from '@ballast/core';
import { useRedisServer } from '@ballast/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { RedisLockBackend } from '../src/backends/redis';
import { createLockManager, type Lease, type LockManager } from '../src/index';
import { lockKeys } from '../src/keys';

const r = useRedisServer({ args: ['--save', '', '--appendonly', 'no'] });
const silent = createLogger({ level: 'silent' });
let n = 0;

/** A fresh client on the private server, whose sent commands are recorded (name and first argument). */
async function recordedClient(): Promise<{ redis: Redis; sent: { name: string; arg: string }[] }> {
  const redis = r.redis.duplicate();
  await redis.ping();
  const sent: { name: string; arg: string }[] = [];
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = ((command: { name: string; args: unknown[] }, ...rest: unknown[]) => {
    sent.push({ name: command.name, arg: String(command.args[0]) });
    return (send as (...a: unknown[]) => unknown)(command, ...rest);
  }) as typeof redis.sendCommand;
  return { redis, sent };
}

/** EVALSHA/EVAL calls the private server ran since `reset()`. */
async function scriptCalls(): Promise<number> {
  const info = await r.redis.info('commandstats');
  let calls = 0;
  for (const m of info.matchAll(/^cmdstat_(evalsha|eval):calls=(\d+)/gm)) calls += Number(m[2]);
  return calls;
}

async function reset(): Promise<void> {
  await r.redis.config('RESETSTAT');
}

async function withManager<T>(
  options: { coalesceScripts?: boolean },
  body: (m: LockManager, c: Awaited<ReturnType<typeof recordedClient>>) => Promise<T>,
): Promise<T> {
  const c = await recordedClient();
  const m = createLockManager({ redis: c.redis, prefix: `co${n++}`, logger: silent, ...options });
  try {
    // Warm: scripts loaded (a first EVALSHA may fall back to EVAL), so only the calls under test are counted.
    await (await m.acquire('warm')).release();
    await Promise.all([m.acquire('warm1'), m.acquire('warm2')].map(async (p) => (await p).release()));
    c.sent.length = 0;
    return await body(m, c);
  } finally {
    await m.close();
    c.redis.disconnect();
  }
}

describe('coalesceScripts', () => {
  it('by default, a tick of concurrent acquires on distinct keys is a few script calls (three at most), and so are their releases', async () => {
    await withManager({}, async (m, c) => {
      await reset();
      const leases = await Promise.all(Array.from({ length: 10 }, (_, i) => m.acquire(`user:${i}`)));
      // 10 calls: 4 + 4 + 2 entries (split in three, none under 4), not 10 calls and not one.
      expect(c.sent.map((s) => s.name)).toEqual(['evalsha', 'evalsha', 'evalsha']);
      expect(await scriptCalls()).toBe(3);
      // Each caller got its own hold: its own key, a fencing token of its own.
      expect(new Set(leases.map((l) => l.fencingToken)).size).toBe(10);
      for (const [i, l] of leases.entries()) {
        expect(l.key).toBe(`user:${i}`);
        expect((await m.backend.holders(`user:${i}`)).holders).toEqual({ [l.token]: 1 });
      }
      c.sent.length = 0;
      await reset();
      await Promise.all(leases.map((l) => l.release()));
      expect(c.sent.map((s) => s.name)).toEqual(['evalsha', 'evalsha', 'evalsha']);
      expect(await scriptCalls()).toBe(3);
      for (let i = 0; i < 10; i++) expect((await m.backend.holders(`user:${i}`)).holders).toEqual({});
    });
  });

  it('with coalesceScripts: false, each acquire and each release is a script call of its own', async () => {
    await withManager({ coalesceScripts: false }, async (m, c) => {
      await reset();
      const leases = await Promise.all(Array.from({ length: 10 }, (_, i) => m.acquire(`user:${i}`)));
      expect(await scriptCalls()).toBe(10);
      await Promise.all(leases.map((l) => l.release()));
      expect(await scriptCalls()).toBe(20);
      expect(c.sent.filter((s) => s.name === 'evalsha')).toHaveLength(20);
    });
  });

  it('a tick of 250 calls is three script calls; of 700, four (no call over 200 entries); of 3, one', async () => {
    await withManager({}, async (m, c) => {
      for (const [count, calls] of [
        [250, 3],
        [700, 4],
        [3, 1],
      ] as const) {
        c.sent.length = 0;
        await reset();
        const leases = await Promise.all(Array.from({ length: count }, (_, i) => m.acquire(`many:${count}:${i}`)));
        expect(await scriptCalls()).toBe(calls);
        expect(c.sent.filter((s) => s.name === 'evalsha')).toHaveLength(calls);
        expect(new Set(leases.map((l) => l.fencingToken)).size).toBe(count);
        await Promise.all(leases.map((l) => l.release()));
      }
    });
  });

  it("a tick's acquires and releases share the call, in call order; a lone call is the plain script", async () => {
    await withManager({}, async (m, c) => {
      const held = await m.acquire('a');
      c.sent.length = 0;
      await reset();
      // Same tick: release a, acquire a (another owner: a's release runs first, so it gets it), acquire b.
      const [, again, b] = await Promise.all([held.release(), m.acquire('a', { waitMs: 0 }), m.acquire('b')]);
      expect(await scriptCalls()).toBe(1);
      expect(again.fencingToken).toBeGreaterThan(held.fencingToken);
      const batchSha = c.sent[0]!.arg;
      c.sent.length = 0;
      await again.release();
      // Alone in its tick: the release script itself, not the batch.
      expect(c.sent).toHaveLength(1);
      expect(c.sent[0]!.arg).not.toBe(batchSha);
      await b.release();
    });
  });

  it("one entry's error (a key of the wrong type) rejects that caller only", async () => {
    await withManager({}, async (m) => {
      const prefix = `co${n - 1}`;
      await r.redis.set(lockKeys(prefix, 'broken').owners, 'not a hash');
      await reset();
      const results = await Promise.allSettled([
        m.acquire('ok:1', { waitMs: 0 }),
        m.acquire('broken', { waitMs: 0 }),
        m.acquire('ok:2', { waitMs: 0 }),
      ]);
      expect(await scriptCalls()).toBe(1);
      expect(results.map((x) => x.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/WRONGTYPE/);
      for (const x of results) if (x.status === 'fulfilled') await x.value.release();
      // The others were granted and released for real; the broken key was left as it was.
      expect(await r.redis.get(lockKeys(prefix, 'broken').owners)).toBe('not a hash');
      expect(await r.redis.exists(lockKeys(prefix, 'ok:1').owners, lockKeys(prefix, 'ok:2').owners)).toBe(0);
    });
  });

  it('the batch script falls back to EVAL after a SCRIPT FLUSH, for every entry', async () => {
    await withManager({}, async (m, c) => {
      await r.redis.script('FLUSH');
      // Four calls: one batch (the smallest a tick is split into).
      const leases = await Promise.all(Array.from({ length: 4 }, (_, i) => m.acquire(`flushed:${i}`)));
      expect(c.sent.map((s) => s.name)).toEqual(['evalsha', 'eval']);
      expect(leases.map((l) => l.count)).toEqual([1, 1, 1, 1]);
      await Promise.all(leases.map((l) => l.release()));
    });
  });

  it("a lease's validity counts from its own acquire call, not from when the batch left", async () => {
    await withManager({}, async (m) => {
      const ttlMs = 10_000;
      const calledBy: number[] = [];
      const pending: Promise<Lease>[] = [];
      for (let i = 0; i < 5; i++) {
        pending.push(m.acquire(`valid:${i}`, { ttlMs }));
        calledBy.push(performance.now());
      }
      // The batch leaves after this tick's code: hold the tick 30 ms past the calls.
      const until = performance.now() + 30;
      while (performance.now() < until) {
        // busy: the flush cannot run before this returns
      }
      const leases = await Promise.all(pending);
      const drift = ttlMs * 0.01 + 2;
      for (const [i, l] of leases.entries()) expect(l.validUntil).toBeLessThanOrEqual(calledBy[i]! + ttlMs - drift);
      await Promise.all(leases.map((l) => l.release()));
    });
  });

  it('an abort in the same tick as a batched acquire: that caller rejects, a grant it got is handed back', async () => {
    await withManager({}, async (m) => {
      const controller = new AbortController();
      const aborted = m.acquire('abort:me', { signal: controller.signal });
      const other = m.acquire('abort:other');
      controller.abort();
      await expect(aborted).rejects.toSatisfy((e: unknown) => isBallastError(e) && e.code === 'ABORTED');
      const lease = await other;
      expect(lease.key).toBe('abort:other');
      // The aborted caller's grant (the batch ran its entry) is released: the key is free for anyone.
      await expect.poll(async () => (await m.backend.holders('abort:me')).holders).toEqual({});
      await lease.release();
    });
  });

  it('close() racing a tick of batched acquires: every grant is released, nothing stays held', async () => {
    const c = await recordedClient();
    const prefix = `co${n++}`;
    const m = createLockManager({ redis: c.redis, prefix, logger: silent });
    const pending = Array.from({ length: 8 }, (_, i) => m.acquire(`close:${i}`));
    const closed = m.close();
    const results = await Promise.allSettled(pending);
    await closed;
    for (const x of results) {
      expect(x.status).toBe('rejected');
      expect((x as PromiseRejectedResult).reason).toMatchObject({ code: 'LOCK_MANAGER_CLOSED' });
    }
    expect(c.sent.filter((s) => s.name === 'evalsha' || s.name === 'eval').length).toBeGreaterThan(0);
    const keys = Array.from({ length: 8 }, (_, i) => lockKeys(prefix, `close:${i}`).owners);
    expect(await r.redis.exists(...keys)).toBe(0);
    c.redis.disconnect();
  });

  it('the backend alone: per-entry replies of mixed acquires and releases in one call', async () => {
    const c = await recordedClient();
    const b = new RedisLockBackend({ redis: c.redis, prefix: `co${n++}`, logger: silent });
    try {
      await b.tryAcquireFair('x', 'warm', 1_000, { queueMs: 0 });
      await b.release('x', 'warm', 'exclusive');
      await reset();
      const [a1, a2, rel, a3] = await Promise.all([
        b.tryAcquireFair('x', 't1', 10_000, { queueMs: 0 }),
        b.tryAcquireFair('x', 't2', 10_000, { queueMs: 0 }), // refused: t1 has it
        b.release('y', 'nobody', 'exclusive'), // -1: not held
        b.tryAcquire('z', 't3', 'exclusive', 10_000),
      ]);
      expect(await scriptCalls()).toBe(1);
      expect(a1.acquired).toBe(true);
      expect(a2.acquired).toBe(false);
      expect(rel).toBe(-1);
      expect(a3.acquired).toBe(true);
    } finally {
      await b.close();
      c.redis.disconnect();
    }
  });
});
