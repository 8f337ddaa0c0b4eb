/**
 * The `Transport` contract, part 4: retention (`trim` with a `RetentionPolicy`). Time-free, like the rest of
 * the contract: limits by length, groups dead because they have no consumer; the age limit and consumers
 * going idle are tested per backend (memory: FakeClock; Redis: old entry ids, and a short real idle).
 */
import { expect, it } from 'vitest';
import { NO_RETENTION, type RetentionPolicy } from '../src/transport';
import { claim, fieldsOf, idsOf, LONG_IDLE, publishN, type TransportUnderTest } from './transport-helpers';

export const policy = (p: Partial<RetentionPolicy>): RetentionPolicy => ({ ...NO_RETENTION, ...p });

export function retentionCases(make: () => Promise<TransportUnderTest>): void {
  it('retention: a stream no group reads is trimmed by length only when a limit says so', async () => {
    const { transport: t, type } = await make();
    const ids = await publishN(t, type, 5);
    expect(await t.trim(type)).toEqual({ trimmed: 0, dlqTrimmed: 0, deadGroups: [] });
    expect(await t.trim(type, policy({ maxLen: 2 }))).toEqual({ trimmed: 3, dlqTrimmed: 0, deadGroups: [] });
    await t.ensureGroup(type, 'late');
    expect(idsOf(await t.read(type, 'late', 'c', 10, 0))).toEqual(ids.slice(3));
  });

  it('retention: the length limit never passes the oldest pending or undelivered entry of a live group', async () => {
    const { transport: t, type } = await make();
    await t.ensureGroup(type, 'busy');
    const ids = await publishN(t, type, 6);
    await t.read(type, 'busy', 'c', 3, 0);
    await t.ack(type, 'busy', [ids[0]!, ids[2]!]); // ids[1] delivered, not acknowledged
    const live = policy({ maxLen: 1, deadGroupAfterMs: LONG_IDLE });
    expect((await t.trim(type, live)).trimmed).toBe(1); // only ids[0]
    expect(await claim(t, type, 'busy', 'c2', 0, 10)).toEqual([{ id: ids[1], fields: fieldsOf(1), deliveries: 2 }]);
    await t.ack(type, 'busy', [ids[1]!]);
    expect((await t.trim(type, live)).trimmed).toBe(2); // ids[1], ids[2]; ids[3] is not delivered yet
    expect(idsOf(await t.read(type, 'busy', 'c', 10, 0))).toEqual(ids.slice(3));
  });

  it('retention: a dead group (no consumer) stops bounding the limits and is reported; its acked prefix goes anyway', async () => {
    const { transport: t, type } = await make();
    await t.ensureGroup(type, 'abandoned'); // created, never read: no consumer at all
    await t.ensureGroup(type, 'live');
    const ids = await publishN(t, type, 5);
    await t.read(type, 'live', 'c', 10, 0);
    await t.ack(type, 'live', ids);
    // Never dead (0): the abandoned group still holds everything.
    expect(await t.trim(type, policy({ maxLen: 2 }))).toEqual({ trimmed: 0, dlqTrimmed: 0, deadGroups: [] });
    // Without limits a dead group still bounds the trim (only what every group acknowledged goes).
    expect((await t.trim(type, policy({ deadGroupAfterMs: LONG_IDLE }))).trimmed).toBe(0);
    expect(await t.trim(type, policy({ maxLen: 2, deadGroupAfterMs: LONG_IDLE }))).toEqual({
      trimmed: 3,
      dlqTrimmed: 0,
      deadGroups: ['abandoned'],
    });
    expect(idsOf(await t.read(type, 'abandoned', 'c', 10, 0))).toEqual(ids.slice(3));
  });

  it('retention: the DLQ is capped by count, oldest dead letters first, and the drop is reported', async () => {
    const { transport: t, type } = await make();
    await t.ensureGroup(type, 'g');
    await publishN(t, type, 3);
    for (const entry of await t.read(type, 'g', 'c', 10, 0)) await t.deadLetter(type, 'g', 'c', entry, 'bad');
    expect((await t.trim(type, policy({ dlqMaxLen: 1 }))).dlqTrimmed).toBe(2);
    const left = await t.listDeadLetters(type);
    expect(left.map((d) => d.fields.n)).toEqual(['2']);
    expect((await t.trim(type, policy({ dlqMaxLen: 1 }))).dlqTrimmed).toBe(0);
  });
}
