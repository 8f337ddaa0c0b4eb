/**
 * The `LockBackend` contract: what every backend (memory, Redis) must do, asserted only through the interface
 * and only as far as its comments and the owner's rules promise. Nothing here waits on real time but the one
 * expiry test (Redis' clock cannot be faked): other leases are long (`LONG`) and released explicitly.
 */
import { defineContract } from '@ballast/testkit/vitest';
import { expect, it } from 'vitest';
import type { AcquireResult, FairGrant, LockBackend } from '../src/backend';

export interface LockBackendUnderTest {
  backend: LockBackend;
  /** A resource name no other test uses (so tests never collide on a shared Redis). */
  resource: () => string;
}

const LONG = 10_000;
const WP = { writerPreference: true } as const;

/** The fencing token of a successful acquisition; fails the test on a refusal. */
function fence(r: AcquireResult): number {
  expect(r.acquired).toBe(true);
  return r.acquired ? r.fencingToken : Number.NaN;
}

/**
 * A listener and a promise resolved on its first call. Backends with a remote channel (Redis pub/sub) expose
 * `subscribed(resource)`, as the lock manager uses it; a wake-up published before the SUBSCRIBE is lost.
 */
async function listen(backend: LockBackend, resource: string) {
  let calls = 0;
  let resolve!: () => void;
  const fired = new Promise<void>((r) => {
    resolve = r;
  });
  const off = backend.onRelease(resource, () => {
    calls++;
    resolve();
  });
  await (backend as { subscribed?: (resource: string) => Promise<void> }).subscribed?.(resource);
  return { fired, off, calls: () => calls };
}

export const lockBackendContract = defineContract<LockBackendUnderTest>('LockBackend', (make) => {
  it('an exclusive holder excludes other exclusive and shared requests', async () => {
    const { backend: b, resource } = await make();
    const r = resource();
    expect(await b.tryAcquire(r, 'a', 'exclusive', LONG)).toMatchObject({ acquired: true, count: 1 });
    expect((await b.tryAcquire(r, 'b', 'exclusive', LONG)).acquired).toBe(false);
    expect((await b.tryAcquire(r, 'c', 'shared', LONG)).acquired).toBe(false);
    expect(await b.release(r, 'a', 'exclusive')).toBe(0);
    expect((await b.tryAcquire(r, 'b', 'exclusive', LONG)).acquired).toBe(true);
  });

  it('shared holders admit more shared holders and exclude an exclusive request', async () => {
    const { backend: b, resource } = await make();
    const r = resource();
    for (const t of ['a', 'b', 'c']) {
      expect(await b.tryAcquire(r, t, 'shared', LONG)).toMatchObject({ acquired: true, count: 1 });
    }
    expect((await b.tryAcquire(r, 'w', 'exclusive', LONG)).acquired).toBe(false);
    for (const t of ['a', 'b']) expect(await b.release(r, t, 'shared')).toBe(0);
    expect((await b.tryAcquire(r, 'w', 'exclusive', LONG)).acquired).toBe(false); // 'c' still reads
    expect(await b.release(r, 'c', 'shared')).toBe(0);
    expect((await b.tryAcquire(r, 'w', 'exclusive', LONG)).acquired).toBe(true);
  });

  it('re-acquiring in the same mode is reentrant and counted; release counts down to 0, then -1', async () => {
    const { backend: b, resource } = await make();
    for (const mode of ['exclusive', 'shared'] as const) {
      const r = resource();
      expect(await b.tryAcquire(r, 'a', mode, LONG)).toMatchObject({ acquired: true, count: 1 });
      expect(await b.tryAcquire(r, 'a', mode, LONG)).toMatchObject({ acquired: true, count: 2 });
      expect(await b.holders(r)).toEqual({ mode, holders: { a: 2 } });
      expect(await b.release(r, 'a', mode)).toBe(1);
      expect(await b.holders(r)).toEqual({ mode, holders: { a: 1 } });
      expect(await b.release(r, 'a', mode)).toBe(0);
      expect(await b.release(r, 'a', mode)).toBe(-1);
      expect(await b.holders(r)).toEqual({ mode: undefined, holders: {} });
    }
  });

  it('a holder asking for the other mode is refused (no upgrade, no downgrade), its hold unchanged', async () => {
    const { backend: b, resource } = await make();
    const r1 = resource();
    await b.tryAcquire(r1, 'a', 'shared', LONG);
    expect((await b.tryAcquire(r1, 'a', 'exclusive', LONG)).acquired).toBe(false); // even as the only reader
    expect(await b.holders(r1)).toEqual({ mode: 'shared', holders: { a: 1 } });

    const r2 = resource();
    await b.tryAcquire(r2, 'a', 'exclusive', LONG);
    expect((await b.tryAcquire(r2, 'a', 'shared', LONG)).acquired).toBe(false);
    expect(await b.holders(r2)).toEqual({ mode: 'exclusive', holders: { a: 1 } });
  });

  it('fencing tokens strictly increase on every new hold, shared and after the resource was free', async () => {
    const { backend: b, resource } = await make();
    const r = resource();
    const seen: number[] = [];
    seen.push(fence(await b.tryAcquire(r, 'a', 'exclusive', LONG)));
    await b.release(r, 'a', 'exclusive'); // free now: the counter is not reset
    seen.push(fence(await b.tryAcquire(r, 'b', 'shared', LONG)));
    seen.push(fence(await b.tryAcquire(r, 'c', 'shared', LONG)));
    await b.release(r, 'b', 'shared');
    await b.release(r, 'c', 'shared');
    seen.push(fence(await b.tryAcquire(r, 'a', 'exclusive', LONG)));
    await b.release(r, 'a', 'exclusive');
    seen.push(fence(await b.tryAcquireFair!(r, 'd', LONG, { queueMs: 0 })));
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1]!);
    expect(seen.every(Number.isInteger)).toBe(true);
  });

  it('a reentrant hold keeps one fencing token for its whole life (exclusive, shared, fair)', async () => {
    const { backend: b, resource } = await make();
    for (const mode of ['exclusive', 'shared'] as const) {
      const r = resource();
      const outer = fence(await b.tryAcquire(r, 'a', mode, LONG));
      expect(fence(await b.tryAcquire(r, 'a', mode, LONG))).toBe(outer);
      expect(fence(await b.tryAcquire(r, 'a', mode, LONG))).toBe(outer);
      expect(await b.release(r, 'a', mode)).toBe(2);
      expect(fence(await b.tryAcquire(r, 'a', mode, LONG))).toBe(outer);
    }
    const r = resource();
    const outer = fence(await b.tryAcquireFair!(r, 'a', LONG, { queueMs: 0 }));
    expect(await b.tryAcquireFair!(r, 'a', LONG, { queueMs: 0 })).toMatchObject({ fencingToken: outer, count: 2 });
    expect(fence(await b.tryAcquire(r, 'a', 'exclusive', LONG))).toBe(outer);
  });

  it('a reentrant acquisition with a shorter ttl never shortens the hold', async () => {
    const { backend: b, resource } = await make();
    for (const mode of ['exclusive', 'shared'] as const) {
      const r = resource();
      await b.tryAcquire(r, 'a', mode, LONG);
      expect(await b.tryAcquire(r, 'a', mode, 50)).toMatchObject({ acquired: true, count: 2 });
      // The refusal's hint is when the holder's lease runs out: still ~LONG, not 50 ms.
      const refused = await b.tryAcquire(r, 'w', 'exclusive', LONG);
      expect(refused.acquired).toBe(false);
      if (!refused.acquired) expect(refused.retryAfterMs).toBeGreaterThan(LONG / 2);
    }
    const r = resource();
    await b.tryAcquireFair!(r, 'a', LONG, { queueMs: 0 });
    expect(await b.tryAcquireFair!(r, 'a', 50, { queueMs: 0 })).toMatchObject({ acquired: true, count: 2 });
    const refused = await b.tryAcquireFair!(r, 'w', LONG, { queueMs: 0 });
    if (!refused.acquired) expect(refused.retryAfterMs).toBeGreaterThan(LONG / 2);
    expect(refused.acquired).toBe(false);
  });

  it('a refusal hints retryAfterMs > 0 and ≤ the holder ttl', async () => {
    const { backend: b, resource } = await make();
    const r = resource();
    await b.tryAcquire(r, 'a', 'exclusive', LONG);
    const refused = await b.tryAcquire(r, 'b', 'exclusive', LONG);
    expect(refused.acquired).toBe(false);
    if (refused.acquired) return;
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(LONG);
  });

  it('extend: true for the holder in its mode; false for a non-holder, the other mode, or after release', async () => {
    const { backend: b, resource } = await make();
    const r = resource();
    await b.tryAcquire(r, 'a', 'exclusive', LONG);
    expect(await b.extend(r, 'a', 'exclusive', LONG)).toBe(true);
    expect(await b.extend(r, 'b', 'exclusive', LONG)).toBe(false);
    expect(await b.extend(r, 'a', 'shared', LONG)).toBe(false);
    await b.release(r, 'a', 'exclusive');
    expect(await b.extend(r, 'a', 'exclusive', LONG)).toBe(false);
    expect(await b.extend(resource(), 'a', 'exclusive', LONG)).toBe(false); // never held
  });

  it('release by a non-holder or in the other mode returns -1 and leaves the holder alone', async () => {
    const { backend: b, resource } = await make();
    const r = resource();
    expect(await b.release(r, 'a', 'exclusive')).toBe(-1); // free
    await b.tryAcquire(r, 'a', 'exclusive', LONG);
    expect(await b.release(r, 'b', 'exclusive')).toBe(-1);
    expect(await b.release(r, 'a', 'shared')).toBe(-1);
    expect(await b.holders(r)).toEqual({ mode: 'exclusive', holders: { a: 1 } });
  });

  it('writer preference: a registered waiter blocks new readers that ask for it, not those that do not', async () => {
    const { backend: b, resource } = await make();
    const r = resource();
    await b.tryAcquire(r, 'r1', 'shared', LONG);
    await b.addWaiter(r, 'w', LONG);
    const refused = await b.tryAcquire(r, 'r2', 'shared', LONG, WP);
    expect(refused.acquired).toBe(false);
    if (!refused.acquired) expect(refused.retryAfterMs).toBeGreaterThanOrEqual(0);
    expect((await b.tryAcquire(r, 'r2', 'shared', LONG)).acquired).toBe(true); // no writer preference asked
    expect(await b.tryAcquire(r, 'r1', 'shared', LONG, WP)).toMatchObject({ acquired: true, count: 2 }); // reentrant
    expect(await b.holders(r)).toEqual({ mode: 'shared', holders: { r1: 2, r2: 1 } });
  });

  it('writer preference: a waiter blocks readers even on a free resource; removeWaiter lifts it', async () => {
    const { backend: b, resource } = await make();
    const r = resource();
    await b.addWaiter(r, 'w', LONG);
    const refused = await b.tryAcquire(r, 'r1', 'shared', LONG, WP);
    expect(refused.acquired).toBe(false);
    if (!refused.acquired) expect(refused.retryAfterMs).toBeGreaterThanOrEqual(0);
    await b.removeWaiter(r, 'w');
    expect((await b.tryAcquire(r, 'r1', 'shared', LONG, WP)).acquired).toBe(true);
    await b.removeWaiter(r, 'nobody'); // harmless
  });

  it('writer preference: the waiter itself gets in once the readers are gone, which ends its waiting', async () => {
    const { backend: b, resource } = await make();
    const r = resource();
    await b.tryAcquire(r, 'r1', 'shared', LONG);
    await b.addWaiter(r, 'w', LONG);
    expect((await b.tryAcquire(r, 'w', 'exclusive', LONG, WP)).acquired).toBe(false);
    expect(await b.release(r, 'r1', 'shared')).toBe(0);
    expect((await b.tryAcquire(r, 'r2', 'shared', LONG, WP)).acquired).toBe(false); // still the writer's turn
    expect(await b.tryAcquire(r, 'w', 'exclusive', LONG, WP)).toMatchObject({ acquired: true, count: 1 });
    expect(await b.release(r, 'w', 'exclusive')).toBe(0);
    expect((await b.tryAcquire(r, 'r2', 'shared', LONG, WP)).acquired).toBe(true); // no waiter left
  });

  it('onRelease fires when a holder releases, also while other readers remain', async () => {
    const { backend: b, resource } = await make();
    const r = resource();
    await b.tryAcquire(r, 'a', 'shared', LONG);
    await b.tryAcquire(r, 'b', 'shared', LONG);
    const l = await listen(b, r);
    expect(await b.release(r, 'a', 'shared')).toBe(0);
    await l.fired;
    expect(l.calls()).toBeGreaterThanOrEqual(1);
    l.off();
  });

  it('onRelease does not fire for a reentrant level released, nor after unsubscribe', async () => {
    const { backend: b, resource } = await make();
    const r = resource();
    const sentinel = resource(); // its wake-up is published after r's, so r's would have arrived first
    await b.tryAcquire(r, 'a', 'exclusive', LONG);
    await b.tryAcquire(r, 'a', 'exclusive', LONG);
    await b.tryAcquire(sentinel, 's', 'exclusive', LONG);
    // Listeners are waiters: each was refused first (a release nobody waited for need wake no one).
    expect((await b.tryAcquire(r, 'x', 'exclusive', LONG)).acquired).toBe(false);
    expect((await b.tryAcquire(sentinel, 'x', 'exclusive', LONG)).acquired).toBe(false);
    const partial = await listen(b, r);
    const s = await listen(b, sentinel);
    expect(await b.release(r, 'a', 'exclusive')).toBe(1);
    expect(await b.release(sentinel, 's', 'exclusive')).toBe(0);
    await s.fired;
    expect(partial.calls()).toBe(0);

    const gone = await listen(b, r);
    gone.off();
    gone.off(); // idempotent
    expect(await b.release(r, 'a', 'exclusive')).toBe(0);
    await partial.fired;
    expect(gone.calls()).toBe(0);
    partial.off();
    s.off();
  });

  it('holders() reports the mode and each live holder with its count', async () => {
    const { backend: b, resource } = await make();
    const r = resource();
    expect(await b.holders(r)).toEqual({ mode: undefined, holders: {} });
    await b.tryAcquire(r, 'a', 'shared', LONG);
    await b.tryAcquire(r, 'b', 'shared', LONG);
    await b.tryAcquire(r, 'b', 'shared', LONG);
    expect(await b.holders(r)).toEqual({ mode: 'shared', holders: { a: 1, b: 2 } });
    await b.release(r, 'a', 'shared');
    await b.release(r, 'b', 'shared');
    await b.release(r, 'b', 'shared');
    expect(await b.holders(r)).toEqual({ mode: undefined, holders: {} }); // a free resource forgets its mode
    await b.tryAcquire(r, 'c', 'exclusive', LONG);
    expect(await b.holders(r)).toEqual({ mode: 'exclusive', holders: { c: 1 } });
  });

  it('an expired holder no longer blocks, counts, extends or releases (the one real wait)', async () => {
    const { backend: b, resource } = await make();
    const r = resource();
    const first = fence(await b.tryAcquire(r, 'a', 'exclusive', 50));
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(await b.holders(r)).toEqual({ mode: undefined, holders: {} });
    expect(await b.extend(r, 'a', 'exclusive', LONG)).toBe(false);
    expect(await b.release(r, 'a', 'exclusive')).toBe(-1);
    const next = await b.tryAcquire(r, 'b', 'shared', LONG); // the old mode is forgotten too
    expect(next).toMatchObject({ acquired: true, count: 1 });
    expect(fence(next)).toBeGreaterThan(first);
  });
  it('fair: refused callers queue in order; each release hands the lock to the oldest waiter and announces it', async () => {
    const { backend: b, resource } = await make();
    const r = resource();
    await b.tryAcquireFair!(r, 'a', LONG, { queueMs: 0 });
    for (const t of ['b', 'c', 'd']) {
      const q = await b.tryAcquireFair!(r, t, LONG, { queueMs: LONG });
      expect(q.acquired).toBe(false);
      if (!q.acquired) expect(q.serverTime).toBeGreaterThan(0);
    }
    // Refreshing an entry keeps its place; a newcomer that does not queue is refused though the lock frees.
    expect((await b.tryAcquireFair!(r, 'b', LONG, { queueMs: LONG, waiting: true })).acquired).toBe(false);
    const grants: FairGrant[] = [];
    let next!: () => void;
    const off = b.onRelease(r, (g) => {
      if (g) grants.push(g);
      next?.();
    });
    await (b as { subscribed?: (resource: string) => Promise<void> }).subscribed?.(r);
    const granted = () =>
      new Promise<void>((resolve) => {
        next = resolve;
      });
    let fences = 0;
    for (const [from, to] of [
      ['a', 'b'],
      ['b', 'c'],
      ['c', 'd'],
    ] as const) {
      const g = granted();
      expect(await b.release(r, from, 'exclusive')).toBe(0);
      await g;
      expect(await b.holders(r)).toEqual({ mode: 'exclusive', holders: { [to]: 1 } });
      expect((await b.tryAcquireFair!(r, 'newcomer', LONG, { queueMs: 0 })).acquired).toBe(false);
      const last = grants.at(-1)!;
      expect(last).toMatchObject({ token: to });
      expect(last.ttlMs).toBeGreaterThan(LONG / 2);
      expect(last.fencingToken).toBeGreaterThan(fences);
      fences = last.fencingToken;
      // The waiter asking again learns it holds the lock (count 1, the announced token): not a re-entry.
      expect(await b.tryAcquireFair!(r, to, LONG, { queueMs: LONG, waiting: true })).toMatchObject({
        acquired: true,
        count: 1,
        fencingToken: last.fencingToken,
      });
    }
    expect(grants.map((g) => g.token)).toEqual(['b', 'c', 'd']);
    expect(await b.release(r, 'd', 'exclusive')).toBe(0);
    expect((await b.tryAcquireFair!(r, 'newcomer', LONG, { queueMs: 0 })).acquired).toBe(true);
    off();
  });

  it('fair: a waiter that leaves is skipped; a hold handed to it before it left is released and handed on', async () => {
    const { backend: b, resource } = await make();
    const r = resource();
    await b.tryAcquireFair!(r, 'a', LONG, { queueMs: 0 });
    for (const t of ['b', 'c', 'd']) await b.tryAcquireFair!(r, t, LONG, { queueMs: LONG });
    expect(await b.leaveQueue!(r, 'b')).toBe(false);
    expect(await b.release(r, 'a', 'exclusive')).toBe(0);
    expect(await b.holders(r)).toEqual({ mode: 'exclusive', holders: { c: 1 } });
    expect(await b.leaveQueue!(r, 'c')).toBe(true); // handed to c, which gave up: d gets it
    expect(await b.holders(r)).toEqual({ mode: 'exclusive', holders: { d: 1 } });
    expect(await b.release(r, 'd', 'exclusive')).toBe(0);
    expect(await b.holders(r)).toEqual({ mode: undefined, holders: {} });
  });

  it('fair: a queued waiter blocks new readers (writer preference) and gets the lock when the readers are gone', async () => {
    const { backend: b, resource } = await make();
    const r = resource();
    await b.tryAcquire(r, 'r1', 'shared', LONG);
    expect((await b.tryAcquireFair!(r, 'w', LONG, { queueMs: LONG })).acquired).toBe(false);
    expect((await b.tryAcquire(r, 'r2', 'shared', LONG, WP)).acquired).toBe(false);
    expect(await b.release(r, 'r1', 'shared')).toBe(0);
    expect(await b.tryAcquireFair!(r, 'w', LONG, { queueMs: LONG, waiting: true })).toMatchObject({
      acquired: true,
      count: 1,
    });
  });

  it('fair: a dead waiter’s entry expires and is skipped; a free lock with live waiters goes to the oldest (real wait)', async () => {
    const { backend: b, resource } = await make();
    const r = resource();
    await b.tryAcquireFair!(r, 'a', 50, { queueMs: 0 });
    await b.tryAcquireFair!(r, 'dead', LONG, { queueMs: 40 });
    await b.tryAcquireFair!(r, 'b', LONG, { queueMs: LONG });
    await b.tryAcquireFair!(r, 'c', LONG, { queueMs: LONG });
    await new Promise((resolve) => setTimeout(resolve, 80)); // a's lease and dead's entry run out
    // c asks first, but b queued before it: b gets the lock (announced), c stays queued.
    expect((await b.tryAcquireFair!(r, 'c', LONG, { queueMs: LONG, waiting: true })).acquired).toBe(false);
    expect(await b.holders(r)).toEqual({ mode: 'exclusive', holders: { b: 1 } });
    expect(await b.release(r, 'b', 'exclusive')).toBe(0);
    expect(await b.holders(r)).toEqual({ mode: 'exclusive', holders: { c: 1 } });
  });
  it('inspect: holders with reentrant count, fencing token and time left; queued and registered waiters', async () => {
    const { backend: b, resource } = await make();
    const r = resource();
    expect(await b.inspect!(r)).toEqual({ mode: undefined, holders: [], waiters: [] });
    const f = fence(await b.tryAcquire(r, 'a', 'exclusive', LONG));
    await b.tryAcquire(r, 'a', 'exclusive', LONG);
    await b.tryAcquireFair!(r, 'q', LONG, { queueMs: LONG });
    await b.addWaiter(r, 'w', LONG);
    const seen = await b.inspect!(r);
    expect(seen).toMatchObject({ mode: 'exclusive', holders: [{ token: 'a', count: 2, fencingToken: f }] });
    expect(seen.holders[0]!.ttlMs).toBeGreaterThan(LONG - 5_000);
    expect(seen.holders[0]!.ttlMs).toBeLessThanOrEqual(LONG);
    expect(seen.waiters.map((w) => [w.token, w.queued])).toEqual([
      ['q', true],
      ['w', false],
    ]);
    expect(seen.waiters.every((w) => w.ttlMs > 0 && w.ttlMs <= LONG)).toBe(true);
    await b.leaveQueue!(r, 'q');
    await b.removeWaiter(r, 'w');
    expect(await b.release(r, 'a', 'exclusive')).toBe(1);
    expect(await b.release(r, 'a', 'exclusive')).toBe(0);

    const s1 = fence(await b.tryAcquire(r, 's1', 'shared', LONG));
    const s2 = fence(await b.tryAcquire(r, 's2', 'shared', LONG));
    const shared = await b.inspect!(r);
    expect(shared.mode).toBe('shared');
    expect(shared.holders.map((h) => [h.token, h.count, h.fencingToken]).sort()).toEqual([
      ['s1', 1, s1],
      ['s2', 1, s2],
    ]);
    expect(shared.waiters).toEqual([]);
  });
});
