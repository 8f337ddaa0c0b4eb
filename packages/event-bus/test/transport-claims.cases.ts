/**
 * The `Transport` contract, part 2: taking entries over (claimStale and its cursor), redelivery scheduling
 * (retryLater) and lease renewal (renew) — and that neither of the last two ever takes an entry from the
 * consumer that owns it now. Registered by `transportContract` (transport.contract.ts).
 */
import { expect, it } from 'vitest';
import { claim, fieldsOf, idsOf, LONG_IDLE, publishN, type TransportUnderTest } from './transport-helpers';

export function claimCases(make: () => Promise<TransportUnderTest>): void {
  it("claimStale hands a consumer's pending entries to another, counting each delivery", async () => {
    const { transport: t, type } = await make();
    await t.ensureGroup(type, 'g');
    const ids = await publishN(t, type, 2);
    await t.read(type, 'g', 'crashed', 10, 0);

    const second = await claim(t, type, 'g', 'c2', 0, 10);
    expect(second).toEqual(ids.map((id, i) => ({ id, fields: fieldsOf(i), deliveries: 2 })));
    let consumers = (await t.groups(type))[0]!.consumers;
    expect(consumers.find((c) => c.name === 'c2')?.pending).toBe(2);
    expect(consumers.find((c) => c.name === 'crashed')?.pending ?? 0).toBe(0);

    const third = await claim(t, type, 'g', 'c3', 0, 1);
    expect(third).toEqual([{ id: ids[0], fields: fieldsOf(0), deliveries: 3 }]);
    consumers = (await t.groups(type))[0]!.consumers;
    expect(consumers.find((c) => c.name === 'c3')?.pending).toBe(1);
    expect(consumers.find((c) => c.name === 'c2')?.pending).toBe(1);
  });

  it('claimStale leaves entries that are not idle long enough', async () => {
    const { transport: t, type } = await make();
    await t.ensureGroup(type, 'g');
    await publishN(t, type, 1);
    await t.read(type, 'g', 'c1', 10, 0);
    expect(await claim(t, type, 'g', 'c2', LONG_IDLE, 10)).toEqual([]);
  });

  it('retryLater with delay 0 makes the entry claimable at once, without counting a delivery', async () => {
    const { transport: t, type } = await make();
    await t.ensureGroup(type, 'g');
    const [id] = await publishN(t, type, 1);
    await t.read(type, 'g', 'c1', 10, 0);
    await t.retryLater(type, 'g', 'c1', id!, 0, LONG_IDLE);
    expect((await t.groups(type))[0]!.pending).toBe(1); // still pending
    expect(await claim(t, type, 'g', 'c2', LONG_IDLE, 10)).toEqual([{ id, fields: fieldsOf(0), deliveries: 2 }]);
  });

  it('retryLater with a delay keeps the entry from being claimed before the delay', async () => {
    const { transport: t, type } = await make();
    await t.ensureGroup(type, 'g');
    const [id] = await publishN(t, type, 1);
    await t.read(type, 'g', 'c1', 10, 0);
    await t.retryLater(type, 'g', 'c1', id!, LONG_IDLE, 2 * LONG_IDLE);
    expect(await claim(t, type, 'g', 'c2', 2 * LONG_IDLE, 10)).toEqual([]);
  });

  it('renew after retryLater keeps the entry from being claimed, without counting a delivery', async () => {
    const { transport: t, type } = await make();
    await t.ensureGroup(type, 'g');
    const [id] = await publishN(t, type, 1);
    await t.read(type, 'g', 'c1', 10, 0);
    await t.retryLater(type, 'g', 'c1', id!, 0, LONG_IDLE);
    await t.renew(type, 'g', 'c1', [id!]);
    expect(await claim(t, type, 'g', 'c2', LONG_IDLE, 10)).toEqual([]);
    const consumers = (await t.groups(type))[0]!.consumers;
    expect(consumers.find((c) => c.name === 'c1')?.pending).toBe(1);
    // Renewals are not deliveries: the next claim is the second delivery.
    expect(await claim(t, type, 'g', 'c2', 0, 10)).toEqual([{ id, fields: fieldsOf(0), deliveries: 2 }]);
  });

  it('retryLater and renew by a consumer that no longer owns the entry change nothing: never stolen back', async () => {
    const { transport: t, type } = await make();
    await t.ensureGroup(type, 'g');
    const [id] = await publishN(t, type, 1);
    await t.read(type, 'g', 'A', 10, 0);
    expect(idsOf(await claim(t, type, 'g', 'B', 0, 10))).toEqual([id]); // A's lease lapsed: B took over
    await t.renew(type, 'g', 'A', [id!]); // A wakes up and renews…
    await t.retryLater(type, 'g', 'A', id!, 0, LONG_IDLE); // …and schedules a retry of what it thinks it holds
    const consumers = (await t.groups(type))[0]!.consumers;
    expect(consumers.find((c) => c.name === 'B')?.pending).toBe(1);
    expect(consumers.find((c) => c.name === 'A')?.pending ?? 0).toBe(0);
    // A's retryLater did not make B's entry claimable: B is still working on it.
    expect(await claim(t, type, 'g', 'C', LONG_IDLE, 10)).toEqual([]);
    // B's own retryLater does.
    await t.retryLater(type, 'g', 'B', id!, 0, LONG_IDLE);
    expect(idsOf(await claim(t, type, 'g', 'C', LONG_IDLE, 10))).toEqual([id]);
  });

  it('claimStale with one free slot reaches a stale entry behind 29 live ones, resuming at its cursor', async () => {
    const { transport: t, type } = await make();
    await t.ensureGroup(type, 'g');
    const ids = await t.publishMany(
      type,
      Array.from({ length: 30 }, (_, i) => fieldsOf(i)),
    );
    await t.read(type, 'g', 'live', 30, 0);
    const stale = ids[29]!;
    await t.retryLater(type, 'g', 'live', stale, 0, LONG_IDLE); // idle LONG_IDLE: stale; the 29 others idle ~0

    const got: string[] = [];
    let cursor = '0-0';
    for (let call = 0; call < 30 && got.length === 0; call++) {
      const result = await t.claimStale(type, 'g', 'sweeper', LONG_IDLE, 1, cursor);
      got.push(...idsOf(result.entries));
      cursor = result.cursor;
    }
    expect(got).toEqual([stale]);
    const consumers = (await t.groups(type))[0]!.consumers;
    expect(consumers.find((c) => c.name === 'live')?.pending).toBe(29);
    expect(consumers.find((c) => c.name === 'sweeper')?.pending).toBe(1);
  });

  it('claimStale passes back a cursor that resumes a long scan, and 0-0 once the scan reached the end', async () => {
    const { transport: t, type } = await make();
    await t.ensureGroup(type, 'g');
    const ids = await t.publishMany(
      type,
      Array.from({ length: 300 }, (_, i) => fieldsOf(i)),
    );
    await t.read(type, 'g', 'live', 300, 0);
    await t.retryLater(type, 'g', 'live', ids[299]!, 0, LONG_IDLE);

    let cursor = '0-0';
    const got: string[] = [];
    for (let call = 0; call < 10 && got.length === 0; call++) {
      const result = await t.claimStale(type, 'g', 'sweeper', LONG_IDLE, 1, cursor);
      got.push(...idsOf(result.entries));
      cursor = result.cursor;
      if (got.length === 0) expect(cursor).not.toBe('0-0'); // more to scan: never restarts from the start
    }
    expect(got).toEqual([ids[299]]);
    // Nothing else stale: a scan from the start runs to the end.
    expect(await t.claimStale(type, 'g', 'sweeper', LONG_IDLE, 5)).toEqual({ entries: [], cursor: '0-0' });
  });
}
