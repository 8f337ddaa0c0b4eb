import { type Clock, systemClock } from '@ballast/core';
import { FakeClock, track } from '@ballast/testkit';
import { describe, expect, it } from 'vitest';
import { MemoryTransport } from '../src/backends/memory';
import { isGroupNotFoundError, isInvalidStreamIdError, isTransportClosedError } from '../src/errors';
import { transportContract } from './transport.contract';

let counter = 0;
transportContract('memory', {
  create: () => {
    const transport = new MemoryTransport();
    return { transport, type: `t${counter++}`, allLength: async () => transport.entries().length };
  },
  destroy: ({ transport }) => transport.close(),
});

/** `claimStale`'s entries, scanning from the start. */
const claimed = async (t: MemoryTransport, consumer: string, idleMs: number, count: number) =>
  (await t.claimStale('t', 'g', consumer, idleMs, count)).entries;

const fields = (n: number) => ({ n: String(n) });

/** A transport on a fake clock with group `g` on type `t` and `n` published entries. */
async function setup(n = 0) {
  const clock = new FakeClock();
  const transport = new MemoryTransport({ clock });
  await transport.ensureGroup('t', 'g');
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(await transport.publish('t', fields(i)));
  return { clock, transport, ids };
}

describe('MemoryTransport (fake clock)', () => {
  it('ids are <ms>-<seq> from clock.now(), strictly increasing even when the clock stalls or goes back', async () => {
    let now = 1_000;
    const clock: Clock = { ...systemClock, now: () => now };
    const t = new MemoryTransport({ clock });
    expect(await t.publish('t', fields(0))).toBe('1000-0');
    expect(await t.publish('t', fields(1))).toBe('1000-1');
    now = 2_000;
    expect(await t.publish('t', fields(2))).toBe('2000-0');
    now = 1_500; // backwards: keep the last ms, next seq
    expect(await t.publish('t', fields(3))).toBe('2000-1');
    expect(await t.publish('other', fields(4))).toBe('1500-0'); // each stream has its own sequence
    now = 2_001;
    expect(await t.publish('t', fields(5))).toBe('2001-0');
    await t.close();
  });

  it('a blocked read resolves [] after exactly blockMs of clock time', async () => {
    const { clock, transport } = await setup();
    const read = track(transport.read('t', 'g', 'c1', 10, 1_000));
    await clock.advance(999);
    expect(read.done).toBe(false);
    await clock.advance(1);
    expect(read).toMatchObject({ done: true, value: [] });
    expect(clock.pendingCount).toBe(0);
  });

  it('a blocked read is woken by a publish to its type only, and clears its timer', async () => {
    const { clock, transport } = await setup();
    await transport.ensureGroup('other', 'g');
    const read = track(transport.read('t', 'g', 'c1', 10, 1_000));
    await transport.publish('other', fields(0));
    await clock.advance(0);
    expect(read.done).toBe(false);
    const id = await transport.publish('t', fields(1));
    await clock.advance(0);
    expect(read).toMatchObject({ done: true, value: [{ id, fields: fields(1), deliveries: 1 }] });
    expect(clock.pendingCount).toBe(0);
  });

  it('two blocked readers of one group: the first gets the entry, the other keeps waiting', async () => {
    const { clock, transport } = await setup();
    const a = track(transport.read('t', 'g', 'a', 10, 1_000));
    const b = track(transport.read('t', 'g', 'b', 10, 1_000));
    const id = await transport.publish('t', fields(0));
    await clock.advance(0);
    expect(a).toMatchObject({ done: true, value: [{ id }] });
    expect(b.done).toBe(false);
    await clock.advance(1_000);
    expect(b).toMatchObject({ done: true, value: [] });
  });

  it('blockMs 0 returns at once; an already-aborted signal returns [] without delivering', async () => {
    const { clock, transport } = await setup(1);
    expect(await transport.read('t', 'g', 'c1', 10, 0, AbortSignal.abort())).toEqual([]);
    expect((await transport.groups('t'))[0]).toMatchObject({ pending: 0, lag: 1 });
    expect(await transport.read('t', 'g', 'c1', 10, 0)).toHaveLength(1);
    expect(await transport.read('t', 'g', 'c1', 10, 0)).toEqual([]);
    expect(clock.pendingCount).toBe(0);
  });

  it('an abort clears the block timer', async () => {
    const { clock, transport } = await setup();
    const controller = new AbortController();
    const read = track(transport.read('t', 'g', 'c1', 10, 5_000, controller.signal));
    await clock.advance(10);
    controller.abort();
    await clock.advance(0);
    expect(read).toMatchObject({ done: true, value: [] });
    expect(clock.pendingCount).toBe(0);
  });

  it('idle times come from the clock: consumers in groups() and claimStale thresholds', async () => {
    const { clock, transport, ids } = await setup(1);
    await transport.read('t', 'g', 'c1', 10, 0);
    await clock.advance(1_500);
    expect((await transport.groups('t'))[0]!.consumers).toEqual([{ name: 'c1', pending: 1, idleMs: 1_500 }]);
    expect(await claimed(transport, 'c2', 2_000, 10)).toEqual([]);
    await clock.advance(499);
    expect(await claimed(transport, 'c2', 2_000, 10)).toEqual([]);
    await clock.advance(1);
    expect(await claimed(transport, 'c2', 2_000, 10)).toEqual([{ id: ids[0], fields: fields(0), deliveries: 2 }]);
    // The claim reset the idle time.
    expect(await claimed(transport, 'c3', 2_000, 10)).toEqual([]);
  });

  it('retryLater(delay 5000, idle 30000) becomes claimable after exactly 5000 ms', async () => {
    const { clock, transport, ids } = await setup(1);
    await transport.read('t', 'g', 'c1', 10, 0);
    await clock.advance(10_000);
    await transport.retryLater('t', 'g', 'c1', ids[0]!, 5_000, 30_000);
    expect(await claimed(transport, 'c2', 30_000, 10)).toEqual([]);
    await clock.advance(4_999);
    expect(await claimed(transport, 'c2', 30_000, 10)).toEqual([]);
    await clock.advance(1);
    expect(await claimed(transport, 'c2', 30_000, 10)).toEqual([{ id: ids[0], fields: fields(0), deliveries: 2 }]);
  });

  it('retryLater never hands the entry to a consumer that does not own it; a delay above the timeout means idle 0', async () => {
    const { clock, transport, ids } = await setup(1);
    await transport.read('t', 'g', 'c1', 10, 0);
    await clock.advance(20_000);
    await transport.retryLater('t', 'g', 'c2', ids[0]!, 0, 30_000); // c2 does not own it: nothing changes
    const [info] = await transport.groups('t');
    expect(info!.consumers).toEqual([
      { name: 'c1', pending: 1, idleMs: 20_000 },
      { name: 'c2', pending: 0, idleMs: 0 },
    ]);
    expect(await claimed(transport, 'c3', 30_000, 10)).toEqual([]); // not made claimable either
    await transport.retryLater('t', 'g', 'c1', ids[0]!, 50_000, 30_000); // the owner: idle 0
    await clock.advance(29_999);
    expect(await claimed(transport, 'c3', 30_000, 10)).toEqual([]);
    await clock.advance(1);
    expect(await claimed(transport, 'c3', 30_000, 10)).toHaveLength(1);
  });

  it("renew resets idle only for the consumer's own pending entries", async () => {
    const { clock, transport, ids } = await setup(2);
    await transport.read('t', 'g', 'c1', 1, 0);
    await transport.read('t', 'g', 'c2', 1, 0);
    await clock.advance(20_000);
    await transport.renew('t', 'g', 'c1', ids); // ids[1] belongs to c2: untouched
    await clock.advance(10_000);
    expect(await claimed(transport, 'c3', 30_000, 10)).toEqual([{ id: ids[1], fields: fields(1), deliveries: 2 }]);
    await clock.advance(20_000);
    expect(await claimed(transport, 'c3', 30_000, 10)).toEqual([{ id: ids[0], fields: fields(0), deliveries: 2 }]);
  });

  it('claimStale claims oldest first, up to count', async () => {
    const { transport, ids } = await setup(3);
    await transport.read('t', 'g', 'c1', 10, 0);
    expect((await claimed(transport, 'c2', 0, 2)).map((e) => e.id)).toEqual(ids.slice(0, 2));
    expect((await claimed(transport, 'c3', 0, 2)).map((e) => e.id)).toEqual(ids.slice(0, 2));
  });

  it('deadLetter stamps dlq_at from clock.now()', async () => {
    const { clock, transport } = await setup(1);
    const [entry] = await transport.read('t', 'g', 'c1', 10, 0);
    await clock.advance(1_234);
    await transport.deadLetter('t', 'g', 'c1', entry!, 'x');
    const [dl] = await transport.listDeadLetters('t');
    expect(dl!.deadAt).toBe(clock.now());
  });

  it('trim on a type no group reads removes nothing', async () => {
    const transport = new MemoryTransport({ clock: new FakeClock() });
    await transport.publish('lonely', fields(0));
    expect((await transport.trim('lonely')).trimmed).toBe(0);
    expect((await transport.trim('missing')).trimmed).toBe(0);
    expect(transport.entries('lonely')).toHaveLength(1);
  });

  it('trim removes exactly the prefix every group has acknowledged', async () => {
    const { transport, ids } = await setup(4);
    await transport.read('t', 'g', 'c', 10, 0);
    await transport.ack('t', 'g', [ids[0]!, ids[2]!]);
    expect((await transport.trim('t')).trimmed).toBe(1);
    expect(transport.entries('t').map((e) => e.id)).toEqual(ids.slice(1));
  });

  it('maxLenAll caps the all stream, which holds every type', async () => {
    const { transport } = await setup();
    for (let i = 0; i < 5; i++) await transport.publish(i % 2 ? 'a' : 'b', fields(i), { maxLenAll: 3 });
    expect(transport.entries().map((e) => e.fields.n)).toEqual(['2', '3', '4']);
    expect(transport.entries('a')).toHaveLength(2);
    expect(transport.entries('b')).toHaveLength(3);
  });

  it('maxLenAll 0 means no cap', async () => {
    const { transport } = await setup(2);
    await transport.publish('t', fields(2), { maxLenAll: 0 });
    expect(transport.entries()).toHaveLength(3);
  });

  it('listDeadLetters returns 100 by default', async () => {
    const { transport } = await setup(101);
    const entries = await transport.read('t', 'g', 'c', 200, 0);
    for (const e of entries) await transport.deadLetter('t', 'g', 'c', e, 'x');
    expect(await transport.listDeadLetters('t')).toHaveLength(100);
    expect(await transport.listDeadLetters('t', { count: 200 })).toHaveLength(101);
  });

  it('replay appends to the type stream only, never to the all stream', async () => {
    const { transport } = await setup(1);
    const [entry] = await transport.read('t', 'g', 'c1', 10, 0);
    const dlqId = await transport.deadLetter('t', 'g', 'c1', entry!, 'x');
    await transport.replayDeadLetter('t', dlqId!);
    expect(transport.entries().map((e) => e.fields)).toEqual([fields(0)]);
    expect(transport.entries('t').map((e) => e.fields)).toEqual([fields(0), { ...fields(0), replay_for_group: 'g' }]);
  });

  it('removeIdleConsumers removes consumers idle >= idleMs with nothing pending', async () => {
    const { clock, transport, ids } = await setup(2);
    await transport.read('t', 'g', 'busy', 1, 0);
    await transport.read('t', 'g', 'done', 1, 0);
    await transport.ack('t', 'g', [ids[1]!]);
    await clock.advance(999);
    expect(await transport.removeIdleConsumers('t', 'g', 1_000)).toEqual([]);
    await clock.advance(1);
    expect(await transport.removeIdleConsumers('t', 'g', 1_000)).toEqual(['done']);
    expect((await transport.groups('t'))[0]!.consumers.map((c) => c.name)).toEqual(['busy']);
  });

  it('close resolves blocked reads with [] and makes every later call reject', async () => {
    const { clock, transport, ids } = await setup();
    const read = track(transport.read('t', 'g', 'c1', 10, 10_000));
    await transport.close();
    await clock.advance(0);
    expect(read).toMatchObject({ done: true, value: [] });
    expect(clock.pendingCount).toBe(0);
    await transport.close(); // idempotent

    const calls: Promise<unknown>[] = [
      transport.publish('t', fields(0)),
      transport.ensureGroup('t', 'g'),
      transport.ack('t', 'g', ids),
      transport.claimStale('t', 'g', 'c', 0, 1),
      transport.groups('t'),
      transport.trim('t'),
      transport.listDeadLetters('t'),
    ];
    for (const call of calls) {
      const error = await call.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isTransportClosedError(error)).toBe(true);
    }
  });

  it('operations on a missing group reject with GroupNotFoundError; ack acknowledges nothing', async () => {
    const { transport } = await setup(1);
    await expect(transport.read('t', 'nope', 'c', 1, 0)).rejects.toSatisfy(isGroupNotFoundError);
    await expect(transport.read('nope', 'g', 'c', 1, 0)).rejects.toSatisfy(isGroupNotFoundError);
    await expect(transport.claimStale('t', 'nope', 'c', 0, 1)).rejects.toSatisfy(isGroupNotFoundError);
    await expect(transport.renew('t', 'nope', 'c', [])).rejects.toSatisfy(isGroupNotFoundError);
    expect(await transport.ack('t', 'nope', ['1-0'])).toBe(0);
    expect(await transport.removeIdleConsumers('t', 'nope', 0)).toEqual([]);
    expect(await transport.groups('nope')).toEqual([]);
  });

  it('rejects malformed ids with InvalidStreamIdError', async () => {
    const { transport } = await setup(1);
    await expect(transport.ack('t', 'g', ['not-an-id'])).rejects.toSatisfy(isInvalidStreamIdError);
    expect(await transport.ack('t', 'g', ['0'])).toBe(0); // "<ms>" alone is "<ms>-0"
  });
});
