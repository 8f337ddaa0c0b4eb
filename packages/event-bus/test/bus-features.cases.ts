/**
 * The bus-level contract, part 2: several handlers of one type and group, DLQ replay, bad payloads, trace
 * context and metrics. Registered by `busContract` (bus.contract.ts) for every backend.
 */
import { useInMemoryMetrics } from '@ballast/testkit/otel';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isSubscriptionConflictError } from '../src/errors';
import type { Scene } from './bus.contract';
import { deferred } from './bus-harness';

const FAST_RETRY = { claimIntervalMs: 100, retryBackoff: { initialMs: 100, maxMs: 100, jitter: 'none' } } as const;

export function featureCases(scene: () => Promise<Scene>): void {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const manager = new AsyncLocalStorageContextManager();
  beforeAll(() => {
    context.setGlobalContextManager(manager.enable());
    trace.setGlobalTracerProvider(provider);
  });
  afterAll(async () => {
    trace.disable();
    context.disable();
    await provider.shutdown();
  });
  const collect = useInMemoryMetrics();

  it('every handler of a type and group on one bus runs for each event (seed 000), in subscription order', async () => {
    const s = await scene();
    const bus = s.bus();
    const order: string[] = [];
    const all = deferred();
    const record = (name: string) => (e: { data: { n: number } }) => {
      order.push(`${name}${e.data.n}`);
      if (order.length === 6) all.resolve();
    };
    const a = await bus.subscribe(s.type, record('a'), s.opts());
    const b = await bus.subscribe(s.type, record('b'), s.opts());
    expect(b.consumer).toBe(a.consumer); // one consumer of the group, not two splitting the events
    for (const n of [1, 2, 3]) await bus.publish(s.type, { n });
    await all.promise;
    expect([...order].sort()).toEqual(['a1', 'a2', 'a3', 'b1', 'b2', 'b3']);
    // Events are handled concurrently; for each one, its handlers run in subscription order.
    for (const n of [1, 2, 3]) expect(order.indexOf(`a${n}`)).toBeLessThan(order.indexOf(`b${n}`));
    await bus.close();
    expect((await s.spy.transport.groups(s.type))[0]).toMatchObject({ pending: 0, lag: 0 });
  });

  it("startFrom: a new group starts at the stream's start (default), after its newest entry, or after an id", async () => {
    const s = await scene();
    const bus = s.bus();
    for (const n of [1, 2, 3]) await bus.publish(s.type, { n });
    const seen = new Map<string, number[]>();
    const entryIds = new Map<number, string>();
    const settled = async (group: string) => {
      for (;;) {
        const g = (await s.spy.transport.groups(s.type)).find((x) => x.name === group);
        if (g && g.lag === 0 && g.pending === 0) return;
        await s.advance(10);
      }
    };
    const subscribeAs = async (group: string, startFrom?: string) => {
      seen.set(group, []);
      await bus.subscribe(
        s.type,
        (e, ctx) => {
          seen.get(group)!.push(e.data.n);
          entryIds.set(e.data.n, ctx.entryId);
        },
        s.opts({ group, ...(startFrom ? { startFrom } : {}) }),
      );
    };
    await subscribeAs('g-default');
    await settled('g-default');
    expect(seen.get('g-default')!.sort()).toEqual([1, 2, 3]);
    await subscribeAs('g-latest', 'latest');
    await subscribeAs('g-after-1', entryIds.get(1)!);
    await bus.publish(s.type, { n: 4 });
    for (const g of ['g-default', 'g-latest', 'g-after-1']) await settled(g);
    expect(seen.get('g-default')!.sort()).toEqual([1, 2, 3, 4]);
    expect(seen.get('g-latest')).toEqual([4]);
    expect(seen.get('g-after-1')!.sort()).toEqual([2, 3, 4]);
    // An existing group keeps its position whatever startFrom says.
    await bus.close();
    const again = s.bus();
    await again.publish(s.type, { n: 5 });
    seen.set('g-latest', []);
    await again.subscribe(
      s.type,
      (e) => void seen.get('g-latest')!.push(e.data.n),
      s.opts({ group: 'g-latest', startFrom: 'latest' }),
    );
    await settled('g-latest');
    expect(seen.get('g-latest')).toEqual([5]);
  });

  it('a failure of any handler — a throw, or returning false — redelivers the event to all of them', async () => {
    const s = await scene();
    const bus = s.bus();
    const seen: string[] = [];
    const again = deferred();
    await bus.subscribe(s.type, (_e, ctx) => void seen.push(`ok:${ctx.deliveries}`), s.opts(FAST_RETRY));
    await bus.subscribe(
      s.type,
      (_e, ctx) => {
        seen.push(`false:${ctx.deliveries}`);
        return ctx.deliveries > 1;
      },
      s.opts(FAST_RETRY),
    );
    await bus.subscribe(
      s.type,
      (_e, ctx) => {
        seen.push(`throw:${ctx.deliveries}`);
        if (ctx.deliveries === 1) throw new Error('once');
        again.resolve();
      },
      s.opts(FAST_RETRY),
    );
    await bus.publish(s.type, { n: 1 });
    await s.drive(again.promise, 100);
    await bus.close();
    expect(seen).toEqual(['ok:1', 'false:1', 'throw:1', 'ok:2', 'false:2', 'throw:2']);
    expect((await s.spy.transport.groups(s.type))[0]?.pending).toBe(0);
  });

  it('a handler that keeps returning false is dead-lettered after maxDeliveries, saying so', async () => {
    const s = await scene();
    const bus = s.bus();
    const dead = deferred<string>();
    const sub = await bus.subscribe(s.type, () => false, s.opts({ ...FAST_RETRY, maxDeliveries: 2 }));
    sub.onDeadLetter((d) => dead.resolve(d.reason));
    await bus.publish(s.type, { n: 1 });
    expect(await s.drive(dead.promise, 100)).toBe('handler failed 2 times: handler returned false');
  });

  it('closing one of two handlers keeps the other; other options for the same group are a conflict', async () => {
    const s = await scene();
    const bus = s.bus();
    const seen: string[] = [];
    const got = deferred();
    const a = await bus.subscribe(s.type, () => void seen.push('a'), s.opts());
    await bus.subscribe(
      s.type,
      () => {
        seen.push('b');
        got.resolve();
      },
      s.opts(),
    );
    const conflict = await bus.subscribe(s.type, () => {}, s.opts({ concurrency: 99 })).catch((e: unknown) => e);
    expect(isSubscriptionConflictError(conflict)).toBe(true);
    expect(conflict).toMatchObject({ eventType: s.type, group: `group:${s.type}`, options: ['concurrency'] });
    await a.close();
    await bus.publish(s.type, { n: 1 });
    await got.promise;
    expect(seen).toEqual(['b']);
  });

  it('replay delivers a dead letter again to the group that dead-lettered it only; events:all untouched', async () => {
    const s = await scene();
    const bus = s.bus();
    const audited: number[] = [];
    const mailed: number[] = [];
    let healthy = false;
    const dead = deferred();
    const replayed = deferred();
    const auditAcked = s.spy.next('ack', (args) => args[1] === 'audit');
    await bus.subscribe(s.type, (e) => void audited.push(e.data.n), s.opts({ group: 'audit' }));
    const mailer = await bus.subscribe(
      s.type,
      (e) => {
        mailed.push(e.data.n);
        if (!healthy) throw new Error('smtp down');
        replayed.resolve();
      },
      s.opts({ group: 'mailer', maxDeliveries: 1 }),
    );
    mailer.onDeadLetter(() => dead.resolve());
    await bus.publish(s.type, { n: 1 });
    await Promise.all([dead.promise, auditAcked]);
    const [letter] = await bus.dlq.list(s.type);
    expect(letter!.group).toBe('mailer');
    const allBefore = await s.backend.allLength();

    healthy = true;
    const auditSkipped = s.spy.next('ack', (args) => args[1] === 'audit');
    const newId = await bus.dlq.replay(s.type, letter!.id);
    expect(newId).toBeDefined();
    await Promise.all([replayed.promise, auditSkipped]);
    expect(mailed).toEqual([1, 1]);
    expect(audited).toEqual([1]); // acknowledged without running its handler again
    expect(await bus.dlq.list(s.type)).toEqual([]);
    expect(await bus.dlq.inspect(s.type, letter!.id)).toBeUndefined();
    expect(await s.backend.allLength()).toBe(allBefore);
    await bus.close();
    const groups = await s.spy.transport.groups(s.type);
    expect(groups.map((g) => [g.name, g.pending, g.lag])).toEqual([
      ['audit', 0, 0],
      ['mailer', 0, 0],
    ]);
  });

  it('schema-invalid and undecodable entries go to the DLQ with the reason; the consumer keeps going', async () => {
    const s = await scene();
    const bus = s.bus();
    const good = deferred<number>();
    const reasons: string[] = [];
    const twoDead = deferred();
    const sub = await bus.subscribe(s.type, (e) => good.resolve(e.data.n), s.opts());
    sub.onDeadLetter((d) => {
      reasons.push(d.reason);
      if (reasons.length === 2) twoDead.resolve();
    });
    // Written around the bus, as a buggy or foreign producer would.
    await s.spy.transport.publish(s.type, {
      event_id: 'x1',
      event_type: s.type,
      source_service: 'legacy',
      timestamp: new Date().toISOString(),
      data: JSON.stringify({ n: 'not a number' }),
    });
    await s.spy.transport.publish(s.type, { garbage: '\u0000\u0001' });
    await bus.publish(s.type, { n: 3 });
    expect(await good.promise).toBe(3);
    await twoDead.promise;
    expect(reasons.some((r) => r.startsWith('invalid data: n:'))).toBe(true);
    expect(reasons.some((r) => r.startsWith('undecodable: missing field "event_id"'))).toBe(true);
    expect(await bus.dlq.list(s.type)).toHaveLength(2);
  });

  it("handlers run inside the consumer's process span, a child of the publisher's span", async () => {
    const s = await scene();
    const bus = s.bus();
    exporter.reset();
    const active = deferred<{ traceId: string; spanId: string } | undefined>();
    let metadata: Record<string, unknown> = {};
    await bus.subscribe(
      s.type,
      (e) => {
        metadata = e.metadata;
        active.resolve(trace.getActiveSpan()?.spanContext());
      },
      s.opts(),
    );
    const requestTraceId = await trace.getTracer('test').startActiveSpan('POST /orders', async (span) => {
      await bus.publish(s.type, { n: 1 }, { metadata: { tenant: 't1' } });
      span.end();
      return span.spanContext().traceId;
    });
    const inHandler = await active.promise;
    await bus.close();
    expect(metadata.tenant).toBe('t1');
    expect(metadata.traceparent).toMatch(new RegExp(`^00-${requestTraceId}-[0-9a-f]{16}-01$`));
    const spans = exporter.getFinishedSpans();
    const publish = spans.find((x) => x.name === `${s.type} publish`)!;
    const processSpan = spans.find((x) => x.name === `${s.type} process`)!;
    expect(publish.spanContext().traceId).toBe(requestTraceId);
    expect(processSpan.parentSpanContext?.spanId).toBe(publish.spanContext().spanId);
    // The span active in the handler is the process span itself, not its remote parent.
    expect(inHandler).toMatchObject({ traceId: requestTraceId, spanId: processSpan.spanContext().spanId });
  });

  it('counts published, delivered, acked, failed, redelivered, dead-lettered; durations by outcome; lag', async () => {
    const s = await scene();
    const bus = s.bus();
    const dead = deferred();
    const acked = deferred();
    let ok = 0;
    const sub = await bus.subscribe(
      s.type,
      (e) => {
        if (e.data.n === 0) throw new Error('poison');
        if (++ok === 2) acked.resolve();
      },
      s.opts({ ...FAST_RETRY, maxDeliveries: 2 }),
    );
    sub.onDeadLetter(() => dead.resolve());
    for (const n of [0, 1, 2]) await bus.publish(s.type, { n });
    await s.drive(Promise.all([dead.promise, acked.promise]), 100);
    await bus.close(); // every ack flushed
    // The group's gauges, observed through a fresh consumer (a restarted process) with nothing left to do.
    await s.bus().subscribe(s.type, () => {}, s.opts());
    const find = await collect();
    const point = (name: string, attrs: Record<string, string>) =>
      find(`ballast_event_bus_${name}`)?.dataPoints.find((p) =>
        Object.entries(attrs).every(([k, v]) => p.attributes[k] === v),
      );
    const value = (name: string, attrs: Record<string, string>) => point(name, attrs)?.value;
    const g = { type: s.type, group: `group:${s.type}` };
    expect(value('published_total', { type: s.type })).toBe(3);
    expect(value('delivered_total', g)).toBe(4);
    expect(value('acked_total', g)).toBe(2);
    expect(value('failed_total', g)).toBe(2);
    expect(value('redelivered_total', g)).toBe(1);
    expect(value('dead_lettered_total', g)).toBe(1);
    expect(value('handler_duration_ms', { ...g, outcome: 'success' })).toMatchObject({ count: 2 });
    expect(value('handler_duration_ms', { ...g, outcome: 'failure' })).toMatchObject({ count: 2 });
    expect(value('consumer_lag', g)).toBe(0);
    expect(value('pending', g)).toBe(0);
  });
}
