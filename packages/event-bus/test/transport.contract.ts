/**
 * The `Transport` contract: what every backend (memory, Redis — and, in reliability/, Redis through an ACL
 * user, over TLS and on a Cluster) must do, asserted only through the interface and only as far as its
 * comments promise. Nothing here waits on real time — Redis' clock cannot be faked — so idle times are
 * forced with `retryLater(…, delayMs 0, …)` and `claimStale(…, idleTimeoutMs 0, …)`, reads use
 * `blockMs: 0`, and the one blocking read waits on a publish, not on its timeout.
 *
 * Part 1 (here): streams, groups, reads, acks, trimming, blocking reads, close. Part 2: claims, retries and
 * renewal (transport-claims.cases.ts). Part 3: the DLQ (transport-dlq.cases.ts).
 */
import { defineContract } from '@ballast/testkit/vitest';
import { expect, it } from 'vitest';
import { isTransportClosedError } from '../src/errors';
import { compareIds } from '../src/transport';
import { claimCases } from './transport-claims.cases';
import { deadLetterCases } from './transport-dlq.cases';
import { claim, fieldsOf, idsOf, LONG_IDLE, publishN, type TransportUnderTest } from './transport-helpers';
import { retentionCases } from './transport-retention.cases';

export type { TransportUnderTest } from './transport-helpers';

export const transportContract = defineContract<TransportUnderTest>('Transport', (make) => {
  it('publishMany appends a burst in order, each entry delivered once, ids returned in order', async () => {
    const { transport: t, type } = await make();
    await t.ensureGroup(type, 'g');
    const ids = await t.publishMany(type, [fieldsOf(0), fieldsOf(1), fieldsOf(2)]);
    expect(ids).toHaveLength(3);
    expect(compareIds(ids[0]!, ids[1]!)).toBeLessThan(0);
    expect(compareIds(ids[1]!, ids[2]!)).toBeLessThan(0);
    const got = await t.read(type, 'g', 'c', 10, 0);
    expect(got).toEqual(ids.map((id, i) => ({ id, fields: fieldsOf(i), deliveries: 1 })));
    expect(await t.publishMany(type, [])).toEqual([]);
  });

  it('publish returns increasing ids and the entry reaches the type stream', async () => {
    const { transport: t, type } = await make();
    const ids = await publishN(t, type, 3);
    for (const id of ids) expect(id).toMatch(/^\d+-\d+$/);
    expect(compareIds(ids[0]!, ids[1]!)).toBeLessThan(0);
    expect(compareIds(ids[1]!, ids[2]!)).toBeLessThan(0);

    await t.ensureGroup(type, 'g');
    const got = await t.read(type, 'g', 'c1', 10, 0);
    expect(got).toEqual(ids.map((id, i) => ({ id, fields: fieldsOf(i), deliveries: 1 })));
  });

  it('maxLenAll never trims the type stream', async () => {
    const { transport: t, type } = await make();
    for (let i = 0; i < 5; i++) await t.publish(type, fieldsOf(i), { maxLenAll: 2 });
    await t.ensureGroup(type, 'g');
    expect(await t.read(type, 'g', 'c1', 10, 0)).toHaveLength(5);
  });

  it('a group created after publishing reads the whole history (id 0)', async () => {
    const { transport: t, type } = await make();
    const ids = await publishN(t, type, 2);
    await t.ensureGroup(type, 'late');
    expect(idsOf(await t.read(type, 'late', 'c1', 10, 0))).toEqual(ids);
  });

  it('ensureGroup is idempotent and keeps the group position', async () => {
    const { transport: t, type } = await make();
    await t.ensureGroup(type, 'g');
    const ids = await publishN(t, type, 2);
    expect(idsOf(await t.read(type, 'g', 'c1', 1, 0))).toEqual([ids[0]]);
    await t.ensureGroup(type, 'g');
    expect(idsOf(await t.read(type, 'g', 'c1', 10, 0))).toEqual([ids[1]]);
    const groups = await t.groups(type);
    expect(groups.map((g) => g.name)).toEqual(['g']);
    expect(groups[0]!.pending).toBe(2);
  });

  it('a group gets each entry once, spread over its consumers', async () => {
    const { transport: t, type } = await make();
    await t.ensureGroup(type, 'g');
    const ids = await publishN(t, type, 5);
    const a = await t.read(type, 'g', 'a', 2, 0);
    const b = await t.read(type, 'g', 'b', 10, 0);
    expect(idsOf(a)).toEqual(ids.slice(0, 2));
    expect(idsOf(b)).toEqual(ids.slice(2));
    expect(await t.read(type, 'g', 'a', 10, 0)).toEqual([]);
    expect(await t.read(type, 'g', 'b', 10, 0)).toEqual([]);
  });

  it('two groups each get every entry', async () => {
    const { transport: t, type } = await make();
    await t.ensureGroup(type, 'g1');
    await t.ensureGroup(type, 'g2');
    const ids = await publishN(t, type, 3);
    const one = await t.read(type, 'g1', 'c', 10, 0);
    const two = await t.read(type, 'g2', 'c', 10, 0);
    expect(idsOf(one)).toEqual(ids);
    expect(idsOf(two)).toEqual(ids);
    expect(two.every((e) => e.deliveries === 1)).toBe(true);
  });

  it('pending entries are not re-read by read; ack removes them from pending', async () => {
    const { transport: t, type } = await make();
    await t.ensureGroup(type, 'g');
    const ids = await publishN(t, type, 3);
    expect(await t.read(type, 'g', 'c1', 10, 0)).toHaveLength(3);
    expect(await t.read(type, 'g', 'c1', 10, 0)).toEqual([]);
    expect(await t.read(type, 'g', 'c2', 10, 0)).toEqual([]);

    expect(await t.ack(type, 'g', [ids[0]!, ids[1]!])).toBe(2);
    expect(await t.ack(type, 'g', [ids[0]!])).toBe(0); // already acknowledged
    expect((await t.groups(type))[0]!.pending).toBe(1);
    expect(await t.ack(type, 'g', [ids[2]!])).toBe(1);
    expect((await t.groups(type))[0]!.pending).toBe(0);
    expect(await claim(t, type, 'g', 'c2', 0, 10)).toEqual([]);
  });

  it('trim never removes an entry some group has not acknowledged', async () => {
    const { transport: t, type } = await make();
    await t.ensureGroup(type, 'all-acked');
    await t.ensureGroup(type, 'half-acked');
    const ids = await publishN(t, type, 4);
    await t.read(type, 'all-acked', 'c', 10, 0);
    await t.ack(type, 'all-acked', ids);
    await t.read(type, 'half-acked', 'c', 10, 0);
    await t.ack(type, 'half-acked', [ids[0]!, ids[1]!, ids[3]!]); // ids[2] still pending

    expect((await t.trim(type)).trimmed).toBe(2); // ids[0], ids[1]: below half-acked's lowest pending id
    expect((await t.trim(type)).trimmed).toBe(0);
    // ids[2] is still pending and claimable: its entry was kept.
    expect(await claim(t, type, 'half-acked', 'c2', 0, 10)).toEqual([
      { id: ids[2], fields: fieldsOf(2), deliveries: 2 },
    ]);

    await t.ack(type, 'half-acked', [ids[2]!]);
    expect((await t.trim(type)).trimmed).toBe(2); // now every group acknowledged everything
    await t.ensureGroup(type, 'probe');
    expect(await t.read(type, 'probe', 'c', 10, 0)).toEqual([]);
  });

  it('trim keeps entries a group has not read yet', async () => {
    const { transport: t, type } = await make();
    await t.ensureGroup(type, 'fast');
    await t.ensureGroup(type, 'slow');
    const ids = await publishN(t, type, 4);
    await t.read(type, 'fast', 'c', 10, 0);
    await t.ack(type, 'fast', ids);
    await t.read(type, 'slow', 'c', 1, 0);
    await t.ack(type, 'slow', [ids[0]!]);

    expect((await t.trim(type)).trimmed).toBe(1); // slow's first undelivered entry is ids[1]
    expect(idsOf(await t.read(type, 'slow', 'c', 10, 0))).toEqual(ids.slice(1));
  });

  it('groups() reports pending, lag and per-consumer pending', async () => {
    const { transport: t, type } = await make();
    await t.ensureGroup(type, 'g');
    const ids = await publishN(t, type, 5);
    expect(await t.groups(type)).toEqual([{ name: 'g', pending: 0, lag: 5, consumers: [] }]);

    await t.read(type, 'g', 'c1', 2, 0);
    await t.ack(type, 'g', [ids[0]!]);
    const [info] = await t.groups(type);
    expect(info).toMatchObject({ name: 'g', pending: 1, lag: 3 });
    expect(info!.consumers).toHaveLength(1);
    expect(info!.consumers[0]).toMatchObject({ name: 'c1', pending: 1 });
    expect(info!.consumers[0]!.idleMs).toBeGreaterThanOrEqual(0);
  });

  it('removeIdleConsumers never removes a consumer with pending entries', async () => {
    const { transport: t, type } = await make();
    await t.ensureGroup(type, 'g');
    const ids = await publishN(t, type, 2);
    await t.read(type, 'g', 'busy', 1, 0);
    await t.read(type, 'g', 'done', 1, 0);
    await t.ack(type, 'g', [ids[1]!]);

    expect(await t.removeIdleConsumers(type, 'g', LONG_IDLE)).toEqual([]); // nobody idle that long
    const removed = await t.removeIdleConsumers(type, 'g', 0);
    expect(removed).not.toContain('busy');
    const names = (await t.groups(type))[0]!.consumers.map((c) => c.name);
    expect(names).toContain('busy');
    for (const name of removed) expect(names).not.toContain(name);
  });

  it('a blocked read resolves with an entry as soon as one is published', async () => {
    const { transport: t, type } = await make();
    await t.ensureGroup(type, 'g');
    const reading = t.read(type, 'g', 'c1', 10, 1_000);
    const id = await t.publish(type, fieldsOf(7));
    // Had the read timed out instead, it would have resolved [].
    expect(await reading).toEqual([{ id, fields: fieldsOf(7), deliveries: 1 }]);
  });

  it('aborting a blocked read resolves it with [] promptly', { timeout: 5_000 }, async () => {
    const { transport: t, type } = await make();
    await t.ensureGroup(type, 'g');
    const controller = new AbortController();
    const reading = t.read(type, 'g', 'c1', 10, 60_000, controller.signal);
    await new Promise((resolve) => setImmediate(resolve));
    controller.abort();
    expect(await reading).toEqual([]);
  });

  it('read after close rejects with TransportClosedError', async () => {
    const { transport: t, type } = await make();
    await t.ensureGroup(type, 'g');
    await t.close();
    const error = await t.read(type, 'g', 'c1', 10, 0).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isTransportClosedError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'TRANSPORT_CLOSED' });
  });

  claimCases(make);
  deadLetterCases(make);
  retentionCases(make);
});
