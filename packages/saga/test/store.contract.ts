/**
 * The `SagaStore` contract, asserted through the interface only: fenced writes (owner and version), atomic
 * claims, the recovery index, the DLQ. The orchestrator contract builds on exactly these promises.
 */
import { defineContract } from '@ballast/testkit/vitest';
import { expect, it } from 'vitest';
import type { SagaStore } from '../src/index';

export interface StoreUnderTest {
  store: SagaStore;
  /** A lease short enough for `expire` to outlast. */
  leaseMs: number;
  /** Lets every lease of `leaseMs` taken so far lapse. */
  expire(): Promise<void>;
  /** A saga id no other test uses. */
  id(): string;
}

const LONG = 60_000;

export const storeContract = defineContract<StoreUnderTest>('SagaStore', (make) => {
  it('create writes once; a second create returns the stored saga and writes nothing', async () => {
    const { store, id } = await make();
    const sid = id();
    expect(
      await store.create({ id: sid, saga: 's', owner: 'a', context: '{"n":1}', idempotencyKey: 'k' }, LONG),
    ).toEqual({ created: true, version: 1 });
    const again = await store.create({ id: sid, saga: 's', owner: 'b', context: '{"n":2}' }, LONG);
    expect(again.created).toBe(false);
    expect(again.created === false && again.record).toMatchObject({
      id: sid,
      saga: 's',
      owner: 'a',
      version: 1,
      status: 'running',
      currentStep: 0,
      executedSteps: [],
      context: '{"n":1}',
      idempotencyKey: 'k',
    });
  });

  it('advance is fenced by owner and version; each accepted write bumps the version', async () => {
    const { store, id } = await make();
    const sid = id();
    await store.create({ id: sid, saga: 's', owner: 'a', context: '{}' }, LONG);
    const patch = { executedSteps: ['x'], currentStep: 1, context: '{"x":1}' };
    expect(await store.advance(sid, { owner: 'b', version: 1 }, patch, LONG)).toEqual({ ok: false, reason: 'fenced' });
    expect(await store.advance(sid, { owner: 'a', version: 0 }, patch, LONG)).toEqual({ ok: false, reason: 'fenced' });
    expect(await store.advance('missing-saga', { owner: 'a', version: 1 }, patch, LONG)).toEqual({
      ok: false,
      reason: 'missing',
    });
    expect(await store.advance(sid, { owner: 'a', version: 1 }, patch, LONG)).toEqual({ ok: true, version: 2 });
    // The same write again is stale now: a retried or duplicated write cannot apply twice.
    expect(await store.advance(sid, { owner: 'a', version: 1 }, patch, LONG)).toEqual({ ok: false, reason: 'fenced' });
    expect(await store.get(sid)).toMatchObject({
      version: 2,
      executedSteps: ['x'],
      currentStep: 1,
      context: '{"x":1}',
    });
    expect(await store.renew(sid, { owner: 'a', version: 2 }, LONG)).toBe(true);
    expect(await store.renew(sid, { owner: 'a', version: 1 }, LONG)).toBe(false);
    expect((await store.get(sid))?.version).toBe(2); // renew does not bump
  });

  it('complete releases the lease: a finished saga is never claimed', async () => {
    const u = await make();
    const sid = u.id();
    await u.store.create({ id: sid, saga: 's', owner: 'a', context: '{}' }, u.leaseMs);
    expect(
      await u.store.complete(
        sid,
        { owner: 'a', version: 1 },
        { status: 'completed', currentStep: 1, executedSteps: ['x'] },
      ),
    ).toEqual({ ok: true, version: 2 });
    expect(await u.store.get(sid)).toMatchObject({ status: 'completed', owner: '', leaseUntil: 0 });
    await u.expire();
    const claimed = await u.store.claimExpired({ owner: 'b', leaseMs: LONG, sagas: ['s'], limit: 100 });
    expect(claimed.map((r) => r.id)).not.toContain(sid);
    expect(await u.store.claimOne(sid, 'b', LONG)).toBeUndefined();
    expect(await u.store.advance(sid, { owner: 'a', version: 2 }, {}, LONG)).toEqual({ ok: false, reason: 'fenced' });
  });

  it('claimExpired: only expired, non-terminal sagas of known names; racing claimers never share one', async () => {
    const u = await make();
    const live = u.id();
    const dead = u.id();
    const other = u.id();
    await u.store.create({ id: dead, saga: 's', owner: 'a', context: '{}' }, u.leaseMs);
    await u.store.create({ id: other, saga: 'not-mine', owner: 'a', context: '{}' }, u.leaseMs);
    await u.expire();
    await u.store.create({ id: live, saga: 's', owner: 'a', context: '{}' }, LONG);
    const claims = await Promise.all(
      ['b', 'c', 'd', 'e'].map((owner) => u.store.claimExpired({ owner, leaseMs: LONG, sagas: ['s'], limit: 100 })),
    );
    const ids = claims.flat().map((r) => r.id);
    expect(ids.filter((i) => i === dead)).toHaveLength(1);
    expect(ids).not.toContain(live);
    expect(ids).not.toContain(other);
    const winner = claims.flat().find((r) => r.id === dead)!;
    expect(winner.version).toBe(2);
    // The old owner's fence no longer holds; the new one's does.
    expect(await u.store.advance(dead, { owner: 'a', version: 1 }, {}, LONG)).toEqual({ ok: false, reason: 'fenced' });
    expect(await u.store.advance(dead, { owner: winner.owner, version: 2 }, {}, LONG)).toEqual({
      ok: true,
      version: 3,
    });
  });

  it('claimOne takes a compensation_failed saga (DLQ retry) or an expired one, never a live one', async () => {
    const u = await make();
    const failed = u.id();
    const live = u.id();
    await u.store.create({ id: failed, saga: 's', owner: 'a', context: '{}' }, LONG);
    await u.store.complete(failed, { owner: 'a', version: 1 }, { status: 'compensation_failed' });
    await u.store.create({ id: live, saga: 's', owner: 'a', context: '{}' }, LONG);
    expect(await u.store.claimOne(live, 'b', LONG)).toBeUndefined();
    expect(await u.store.claimOne(failed, 'b', LONG)).toMatchObject({ id: failed, owner: 'b', version: 3 });
    expect(await u.store.claimOne('missing-saga', 'b', LONG)).toBeUndefined();
  });

  it('dead letters: add, list oldest first, remove', async () => {
    const { store, id } = await make();
    const sid = id();
    const before = (await store.listDeadLetters(10_000)).length;
    const e1 = await store.addDeadLetter({
      sagaId: sid,
      saga: 's',
      step: 'x',
      error: '{"message":"m"}',
      context: '{}',
      at: 1,
    });
    const e2 = await store.addDeadLetter({ sagaId: sid, saga: 's', step: 'y', error: '{}', context: '{}', at: 2 });
    const mine = (await store.listDeadLetters(10_000)).filter((e) => e.sagaId === sid);
    expect(mine.map((e) => [e.id, e.step])).toEqual([
      [e1, 'x'],
      [e2, 'y'],
    ]);
    expect(await store.removeDeadLetter(e1)).toBe(true);
    expect(await store.removeDeadLetter(e1)).toBe(false);
    expect((await store.listDeadLetters(10_000)).length).toBe(before + 1);
  });
});
