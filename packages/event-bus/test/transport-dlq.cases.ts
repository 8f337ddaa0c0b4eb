/**
 * The `Transport` contract, part 3: the dead-letter queue — dead-lettering (atomic, only by the owner),
 * listing, inspecting, replaying to the group that dead-lettered, deleting. Registered by
 * `transportContract` (transport.contract.ts).
 */
import { expect, it } from 'vitest';
import { compareIds } from '../src/transport';
import { claim, fieldsOf, idsOf, LONG_IDLE, publishN, type TransportUnderTest } from './transport-helpers';

export function deadLetterCases(make: () => Promise<TransportUnderTest>): void {
  it('deadLetter records reason, deliveries, original id and fields, and acknowledges the entry', async () => {
    const { transport: t, type } = await make();
    await t.ensureGroup(type, 'g');
    const [id] = await publishN(t, type, 1);
    await t.read(type, 'g', 'c1', 10, 0);
    const [entry] = await claim(t, type, 'g', 'c1', 0, 10);
    expect(entry?.deliveries).toBe(2);

    const dlqId = await t.deadLetter(type, 'g', 'c1', entry!, 'boom: bad payload');
    expect(dlqId).toMatch(/^\d+-\d+$/);
    const letters = await t.listDeadLetters(type);
    expect(letters).toHaveLength(1);
    const [dl] = letters;
    expect(dl).toMatchObject({
      id: dlqId,
      originalId: id,
      group: 'g',
      reason: 'boom: bad payload',
      deliveries: 2,
      fields: fieldsOf(0),
    });
    expect(dl!.fields).toEqual(fieldsOf(0)); // no dlq_ bookkeeping fields leak into them
    expect(Math.abs(dl!.deadAt - Date.now())).toBeLessThan(LONG_IDLE);

    expect((await t.groups(type))[0]!.pending).toBe(0);
    expect(await claim(t, type, 'g', 'c2', 0, 10)).toEqual([]);
  });

  it('deleteDeadLetter removes one dead letter', async () => {
    const { transport: t, type } = await make();
    await t.ensureGroup(type, 'g');
    await publishN(t, type, 2);
    const [a, b] = await t.read(type, 'g', 'c1', 10, 0);
    const dlqA = (await t.deadLetter(type, 'g', 'c1', a!, 'x'))!;
    const dlqB = (await t.deadLetter(type, 'g', 'c1', b!, 'y'))!;

    expect(await t.deleteDeadLetter(type, dlqA)).toBe(true);
    expect(await t.deleteDeadLetter(type, dlqA)).toBe(false);
    expect((await t.listDeadLetters(type)).map((d) => d.id)).toEqual([dlqB]);
  });

  it('listDeadLetters pages with count and after', async () => {
    const { transport: t, type } = await make();
    await t.ensureGroup(type, 'g');
    await publishN(t, type, 3);
    const entries = await t.read(type, 'g', 'c1', 10, 0);
    const dlqIds: string[] = [];
    for (const e of entries) dlqIds.push((await t.deadLetter(type, 'g', 'c1', e, `r${e.fields.n}`))!);

    const page1 = await t.listDeadLetters(type, { count: 2 });
    expect(page1.map((d) => d.id)).toEqual(dlqIds.slice(0, 2));
    expect(page1.map((d) => d.reason)).toEqual(['r0', 'r1']);
    const page2 = await t.listDeadLetters(type, { count: 2, after: page1[1]!.id });
    expect(page2.map((d) => d.id)).toEqual(dlqIds.slice(2));
    expect(page2[0]!.originalId).toBe(entries[2]!.id);
  });

  it('deadLetter by a consumer that no longer owns the entry writes nothing and leaves it pending', async () => {
    const { transport: t, type } = await make();
    await t.ensureGroup(type, 'g');
    const [id] = await publishN(t, type, 2);
    const [entry, other] = await t.read(type, 'g', 'A', 10, 0);
    const [taken] = await claim(t, type, 'g', 'B', 0, 1); // A's lease lapsed: B is handling it now
    expect(taken?.id).toBe(id);

    expect(await t.deadLetter(type, 'g', 'A', entry!, 'too late')).toBeUndefined();
    expect(await t.listDeadLetters(type)).toEqual([]);
    const [info] = await t.groups(type);
    expect(info!.pending).toBe(2);
    expect(info!.consumers.find((c) => c.name === 'B')?.pending).toBe(1);

    // Acknowledged meanwhile: not dead-lettered either.
    await t.ack(type, 'g', [other!.id]);
    expect(await t.deadLetter(type, 'g', 'A', other!, 'done already')).toBeUndefined();
    expect(await t.listDeadLetters(type)).toEqual([]);
  });

  it('getDeadLetter returns one dead letter by id, as listed, or undefined', async () => {
    const { transport: t, type } = await make();
    await t.ensureGroup(type, 'g');
    await publishN(t, type, 2);
    const [a, b] = await t.read(type, 'g', 'c1', 10, 0);
    await t.deadLetter(type, 'g', 'c1', a!, 'x');
    const dlqB = (await t.deadLetter(type, 'g', 'c1', b!, 'y'))!;

    const listed = await t.listDeadLetters(type);
    expect(await t.getDeadLetter(type, dlqB)).toEqual(listed[1]);
    expect(await t.getDeadLetter(type, dlqB)).toMatchObject({ id: dlqB, originalId: b!.id, reason: 'y', group: 'g' });
    expect(await t.getDeadLetter(type, '1-1')).toBeUndefined();
  });

  it('replayDeadLetter delivers again to the group that dead-lettered it only, atomically leaving the DLQ', async () => {
    const { transport: t, type, allLength } = await make();
    await t.ensureGroup(type, 'acked');
    await t.ensureGroup(type, 'failing');
    const [id] = await publishN(t, type, 1);
    await t.ack(type, 'acked', idsOf(await t.read(type, 'acked', 'a', 10, 0)));
    const [entry] = await t.read(type, 'failing', 'f', 10, 0);
    const dlqId = (await t.deadLetter(type, 'failing', 'f', entry!, 'failed'))!;
    const allBefore = await allLength?.();

    const newId = await t.replayDeadLetter(type, dlqId);
    expect(newId).toBeDefined();
    expect(compareIds(newId!, id!)).toBeGreaterThan(0);
    expect(await t.listDeadLetters(type)).toEqual([]);
    expect(await t.getDeadLetter(type, dlqId)).toBeUndefined();
    if (allLength) expect(await allLength()).toBe(allBefore); // events:all has the event already

    // Marked for its group: the failing group handles it; any other group acknowledges it unhandled.
    const replayed = { ...fieldsOf(0), replay_for_group: 'failing' };
    expect(await t.read(type, 'failing', 'f2', 10, 0)).toEqual([{ id: newId, fields: replayed, deliveries: 1 }]);
    expect(await t.read(type, 'acked', 'a', 10, 0)).toEqual([{ id: newId, fields: replayed, deliveries: 1 }]);

    expect(await t.replayDeadLetter(type, dlqId)).toBeUndefined(); // gone
  });

  it('a replayed entry dead-lettered again is replayed as cleanly: no bookkeeping fields pile up', async () => {
    const { transport: t, type } = await make();
    await t.ensureGroup(type, 'g');
    await publishN(t, type, 1);
    const [first] = await t.read(type, 'g', 'c', 10, 0);
    await t.replayDeadLetter(type, (await t.deadLetter(type, 'g', 'c', first!, 'once'))!);
    const [second] = await t.read(type, 'g', 'c', 10, 0);
    const dlqId = (await t.deadLetter(type, 'g', 'c', second!, 'twice'))!;
    expect((await t.getDeadLetter(type, dlqId))!.fields).toEqual(fieldsOf(0));
    await t.replayDeadLetter(type, dlqId);
    expect(await t.read(type, 'g', 'c', 10, 0)).toEqual([
      { id: expect.any(String), fields: { ...fieldsOf(0), replay_for_group: 'g' }, deliveries: 1 },
    ]);
  });
}
