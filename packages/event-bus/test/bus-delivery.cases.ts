/**
 * The bus-level contract, part 1: at-least-once delivery under failures, crashes, slow handlers and shutdown.
 * Registered by `busContract` (bus.contract.ts) for every backend.
 */
import { track } from '@ballast/testkit';
import { expect, it } from 'vitest';
import type { DeadLetterEvent } from '../src/handler';
import type { Scene } from './bus.contract';
import { type Deferred, deferred, turn } from './bus-harness';
import { claim } from './transport-helpers';

const IDLE = { idleTimeoutMs: 30_000, renewIntervalMs: 10_000, claimIntervalMs: 1_000 };

export function deliveryCases(scene: () => Promise<Scene>): void {
  it('redelivers a failed entry after its backoff, and acknowledges it once handled', async () => {
    const s = await scene();
    const bus = s.bus();
    const seen: number[] = [];
    const second = deferred();
    await bus.subscribe(
      s.type,
      (_e, ctx) => {
        seen.push(ctx.deliveries);
        if (ctx.deliveries === 1) throw new Error('transient');
        second.resolve();
      },
      s.opts({ claimIntervalMs: 100, retryBackoff: { initialMs: 1_000, maxMs: 1_000, jitter: 'none' } }),
    );
    const acked = s.spy.next('ack');
    await bus.publish(s.type, { n: 1 });
    await s.drive(second.promise, 100);
    await acked;
    expect(seen).toEqual([1, 2]);
    expect((await bus.groups(s.type))[0]?.pending).toBe(0);
  });

  it('the redelivery backoff grows with the delivery count (1 s, 2 s, 4 s)', async () => {
    const s = await scene();
    const bus = s.bus();
    const calls: Deferred[] = [deferred(), deferred(), deferred(), deferred()];
    let n = 0;
    await bus.subscribe(
      s.type,
      () => {
        calls[n++]?.resolve();
        throw new Error('still down');
      },
      s.opts({
        claimIntervalMs: 100,
        idleTimeoutMs: 30_000,
        retryBackoff: { initialMs: 1_000, factor: 2, maxMs: 60_000, jitter: 'none' },
      }),
    );
    let scheduled = s.spy.next('retryLater');
    await bus.publish(s.type, { n: 1 });
    for (const [k, delay] of [
      [0, 1_000],
      [1, 2_000],
      [2, 4_000],
    ] as const) {
      await calls[k]!.promise;
      await scheduled;
      scheduled = s.spy.next('retryLater');
      await s.elapse(delay - 200, 100); // not before its backoff…
      expect(n).toBe(k + 1);
      await s.drive(calls[k + 1]!.promise, 100, 4); // …and right after it
    }
  });

  it('dead-letters after exactly maxDeliveries, with the reason and attempts, and acknowledges it', async () => {
    const s = await scene();
    const bus = s.bus();
    let calls = 0;
    const dead = deferred<DeadLetterEvent>();
    const sub = await bus.subscribe(
      s.type,
      () => {
        calls++;
        throw new Error('downstream is down');
      },
      s.opts({ claimIntervalMs: 100, maxDeliveries: 3, retryBackoff: { initialMs: 100, maxMs: 100, jitter: 'none' } }),
    );
    sub.onDeadLetter((d) => dead.resolve(d));
    const eventId = await bus.publish(s.type, { n: 7 });
    const event = await s.drive(dead.promise, 100);
    expect(calls).toBe(3);
    expect(event).toMatchObject({ type: s.type, group: `group:${s.type}`, deliveries: 3 });
    const [letter] = await bus.dlq.list(s.type);
    expect(letter).toMatchObject({ deliveries: 3, group: `group:${s.type}` });
    expect(letter!.reason).toMatch(/^handler failed 3 times: downstream is down$/);
    expect(letter!.fields.event_id).toBe(eventId);
    expect(JSON.parse(letter!.fields.data!)).toEqual({ n: 7 });
    expect(await bus.dlq.inspect(s.type, letter!.id)).toEqual(letter);
    expect((await bus.groups(s.type))[0]?.pending).toBe(0);
    await s.elapse(5_000, 100);
    expect(calls).toBe(3); // never delivered again
  });

  it("takes over an abandoned consumer's entries once idle for idleTimeoutMs, not before", async () => {
    const s = await scene();
    const t = s.spy.transport;
    const group = `group:${s.type}`;
    const bus = s.bus();
    await t.ensureGroup(s.type, group);
    await bus.publish(s.type, { n: 1 });
    expect(await t.read(s.type, group, 'crashed', 10, 0)).toHaveLength(1); // read, then the process died
    const got = deferred<number>();
    await bus.subscribe(s.type, (_e, ctx) => got.resolve(ctx.deliveries), s.opts(IDLE));
    await s.elapse(29_000, 1_000);
    expect(got.settled).toBe(false);
    expect(await s.drive(got.promise, 1_000, 3)).toBe(2);
  });

  it('a handler slower than the idle timeout keeps its entry: its lease is renewed, nobody takes it over', async () => {
    const s = await scene();
    const started = deferred();
    const finish = deferred();
    const seen: string[] = [];
    const a = s.bus();
    await a.subscribe(
      s.type,
      async (_e, ctx) => {
        seen.push(`A:${ctx.deliveries}`);
        started.resolve();
        await finish.promise;
      },
      // Full (concurrency 1): A runs no claim sweep of its own, which would re-claim its entry and reset the
      // idle time by itself — only the lease renewal keeps B from taking the entry over.
      s.opts({ ...IDLE, consumer: 'A', concurrency: 1 }),
    );
    await a.publish(s.type, { n: 1 });
    await started.promise;
    // Another process's consumer of the same group, sweeping for stale entries every second.
    const b = s.bus();
    await b.subscribe(s.type, (_e, ctx) => void seen.push(`B:${ctx.deliveries}`), s.opts({ ...IDLE, consumer: 'B' }));
    await s.elapse(120_000, 1_000, 'B'); // four idle timeouts
    expect(seen).toEqual(['A:1']);
    expect(await claim(s.spy.transport, s.type, `group:${s.type}`, 'thief', 30_000, 10)).toEqual([]);
    const acked = s.spy.next('ack');
    finish.resolve();
    await acked;
    expect((await a.groups(s.type))[0]?.pending).toBe(0);
    expect(seen).toEqual(['A:1']);
  });

  it('close() drains: stops reading, keeps renewing the in-flight lease, finishes and acknowledges it', async () => {
    const s = await scene();
    const group = `group:${s.type}`;
    const bus = s.bus();
    const started = deferred();
    const finish = deferred();
    const handled: number[] = [];
    const sub = await bus.subscribe(
      s.type,
      async (e) => {
        started.resolve();
        await finish.promise;
        handled.push(e.data.n);
      },
      s.opts({ ...IDLE, drainTimeoutMs: 60_000 }),
    );
    await bus.publish(s.type, { n: 1 });
    await started.promise;
    const closing = sub.close();
    const closed = track(closing);
    await bus.publish(s.type, { n: 2 }); // after close() began: not handled
    await s.advance(45_000); // past the idle timeout, inside the drain timeout
    expect(closed.done).toBe(false);
    // The in-flight entry's lease was renewed all along: nobody can take it over. (n 2, if the read that
    // was under way as close() began returned it, was handed back to the group at once: claimable.)
    const taken = await claim(s.spy.transport, s.type, group, 'thief', 30_000, 10);
    expect(taken.map((e) => JSON.parse(e.fields.data!).n)).not.toContain(1);
    finish.resolve();
    await closing;
    expect(handled).toEqual([1]);
    // n 2 is still the group's: undelivered, or handed back (and taken by the thief above).
    const [info] = await bus.groups(s.type);
    expect(info!.lag + taken.length).toBe(1);
    expect(info!.pending).toBe(taken.length);
  });

  it('never handles more than `concurrency` entries at once, whether claimed or read', async () => {
    const s = await scene();
    const t = s.spy.transport;
    const group = `group:${s.type}`;
    const bus = s.bus();
    await t.ensureGroup(s.type, group);
    // Two entries a crashed consumer left, claimable at once…
    for (const n of [1, 2]) await bus.publish(s.type, { n });
    for (const e of await t.read(s.type, group, 'crashed', 10, 0)) {
      await t.retryLater(s.type, group, 'crashed', e.id, 0, 30_000);
    }
    const started = new Map<number, Deferred>();
    const gates = new Map<number, Deferred>();
    const slot = (m: Map<number, Deferred>, n: number) => m.get(n) ?? m.set(n, deferred()).get(n)!;
    let running = 0;
    let max = 0;
    const done: number[] = [];
    const allDone = deferred();
    await bus.subscribe(
      s.type,
      async (e) => {
        running++;
        max = Math.max(max, running);
        slot(started, e.data.n).resolve();
        await slot(gates, e.data.n).promise;
        running--;
        done.push(e.data.n);
        if (done.length === 4) allDone.resolve();
      },
      s.opts({ concurrency: 2, batchSize: 10, blockMs: 5_000, claimIntervalMs: 100, idleTimeoutMs: 30_000 }),
    );
    await s.advance(100);
    await Promise.all([slot(started, 1).promise, slot(started, 2).promise]);
    // …and two new ones, published while both slots are taken.
    for (const n of [3, 4]) await bus.publish(s.type, { n });
    await s.advance(300);
    await turn();
    expect(running).toBe(2);
    slot(gates, 1).resolve();
    slot(gates, 2).resolve();
    await Promise.all([slot(started, 3).promise, slot(started, 4).promise]);
    slot(gates, 3).resolve();
    slot(gates, 4).resolve();
    await allDone.promise;
    expect(max).toBe(2);
    expect(done.sort()).toEqual([1, 2, 3, 4]);
  });

  it('a renewal in flight never lands after the retry scheduling (which would delay the retry a whole idle timeout)', async () => {
    const s = await scene();
    const bus = s.bus();
    const calls: number[] = [];
    const first = deferred();
    const gate = deferred();
    const second = deferred();
    await bus.subscribe(
      s.type,
      async (_e, ctx) => {
        calls.push(ctx.deliveries);
        if (ctx.deliveries > 1) return second.resolve();
        first.resolve();
        await gate.promise;
        throw new Error('once');
      },
      s.opts({
        idleTimeoutMs: 30_000,
        renewIntervalMs: 1_000,
        claimIntervalMs: 100,
        retryBackoff: { initialMs: 500, maxMs: 500, jitter: 'none' },
      }),
    );
    await bus.publish(s.type, { n: 1 });
    await first.promise;
    const renewal = s.spy.hold('renew');
    await s.advance(1_000); // the lease renewal goes out… and is slow
    await renewal.reached;
    const scheduled = s.spy.next('retryLater');
    gate.resolve(); // …while the handler fails and its retry is scheduled
    await turn();
    renewal.release();
    await scheduled;
    await s.drive(second.promise, 100, 10); // after the 500 ms backoff, not the 30 s idle timeout
    expect(calls).toEqual([1, 2]);
  });

  it('a backoff longer than the idle timeout is honoured: the entry is held, renewed, until it is due', async () => {
    const s = await scene();
    const bus = s.bus();
    const calls: number[] = [];
    const second = deferred();
    await bus.subscribe(
      s.type,
      (_e, ctx) => {
        calls.push(ctx.deliveries);
        if (ctx.deliveries === 1) throw new Error('come back in 45 s');
        second.resolve();
      },
      s.opts({ ...IDLE, retryBackoff: { initialMs: 45_000, maxMs: 45_000, jitter: 'none' } }),
    );
    await bus.publish(s.type, { n: 1 });
    await s.elapse(43_000, 1_000);
    expect(calls).toEqual([1]);
    expect(await claim(s.spy.transport, s.type, `group:${s.type}`, 'thief', 30_000, 10)).toEqual([]);
    await s.drive(second.promise, 1_000, 4);
    expect(calls).toEqual([1, 2]);
  });
}
