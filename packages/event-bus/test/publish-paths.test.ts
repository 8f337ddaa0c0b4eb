/**
 * publish() and publishMany() are plain promise chains (no async frames): every error comes back as a rejection,
 * every span they start is ended exactly once on every path, and the event's `timestamp` is the clock's now
 * although its ISO text is cached per clock millisecond.
 */
import { type Clock, createLogger, isInvalidOptionsError, systemClock } from '@ballast/core';
import { context, DiagLogLevel, diag, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEventBus } from '../src/bus';
import {
  isEventValidationError,
  isPayloadTooLargeError,
  isTransportClosedError,
  isUnknownEventTypeError,
} from '../src/errors';

const logger = createLogger({ level: 'silent' });
const events = { 'order.placed': z.object({ n: z.number() }), 'blob.stored': z.object({ blob: z.string() }) };

const exporter = new InMemorySpanExporter();
/** Spans started and not (yet) ended; an SDK span ended twice is reported by diag. */
const open = new Set<unknown>();
const tracking: SpanProcessor = {
  onStart: (span) => void open.add(span),
  onEnd: (span: ReadableSpan) => void open.delete(span),
  forceFlush: async () => {},
  shutdown: async () => {},
};
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter), tracking] });
const manager = new AsyncLocalStorageContextManager();
const diagnostics: string[] = [];
beforeAll(() => {
  context.setGlobalContextManager(manager.enable());
  trace.setGlobalTracerProvider(provider);
  const report = (message: string) => void diagnostics.push(message);
  diag.setLogger({ error: report, warn: report, info() {}, debug() {}, verbose() {} }, DiagLogLevel.WARN);
});
afterAll(async () => {
  diag.disable();
  trace.disable();
  context.disable();
  await provider.shutdown();
});
afterEach(() => {
  exporter.reset();
  open.clear();
  diagnostics.length = 0;
});

/** `publish()` called: a synchronous throw fails the test, the promise is returned as is. */
function call<T>(publish: () => Promise<T>): Promise<T> {
  let result: Promise<T>;
  expect(() => {
    result = publish();
  }).not.toThrow();
  return result!;
}

function publishSpans() {
  return exporter.getFinishedSpans().filter((s) => s.name.endsWith(' publish'));
}

describe('publish paths', () => {
  it("spans: one per call, ended once after the write, with the event's id when the call carries one event", async () => {
    const bus = createEventBus({ source: 'shop', events, logger });
    const one = await bus.publish('order.placed', { n: 1 });
    const [single] = await bus.publishMany('order.placed', [{ data: { n: 2 } }]);
    const three = await bus.publishMany('order.placed', [{ data: { n: 3 } }, { data: { n: 4 } }, { data: { n: 5 } }]);
    expect(await bus.publishMany('order.placed', [])).toEqual([]);
    await bus.close();
    const spans = publishSpans();
    expect(spans.map((s) => s.attributes['messaging.batch.message_count'])).toEqual([1, 1, 3]);
    expect(spans.map((s) => s.attributes['messaging.message.id'])).toEqual([one, single, undefined]);
    expect(three).toHaveLength(3);
    expect(open.size).toBe(0);
    expect(diagnostics).toEqual([]);
  });

  it('bad publish options are an InvalidOptionsError naming the field (a rejection), not a TypeError', async () => {
    const bus = createEventBus({ source: 'shop', events, logger });
    const issuesOf = async (p: Promise<unknown>) => {
      const error = await p.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isInvalidOptionsError(error)).toBe(true);
      return (error as { issues: { path: string }[] }).issues.map((i) => i.path);
    };
    expect(await issuesOf(call(() => bus.publish('order.placed', { n: 1 }, null as never)))).toEqual(['options']);
    expect(
      await issuesOf(call(() => bus.publish('order.placed', { n: 1 }, { partitionKey: 7, metadata: 'x' } as never))),
    ).toEqual(['options.partitionKey', 'options.metadata']);
    expect(await issuesOf(call(() => bus.publishMany('order.placed', [{ data: { n: 1 } }, null as never])))).toEqual([
      'items[1]',
    ]);
    expect(await issuesOf(call(() => bus.publishMany('order.placed', null as never)))).toEqual(['items']);
    expect(() => bus.prepare('order.placed', { n: 1 }, { userId: 5 } as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTIONS' }),
    );
    expect(publishSpans()).toEqual([]);
    // Undefined options (and the fields left out) are fine.
    expect(await bus.publish('order.placed', { n: 1 }, undefined)).toEqual(expect.any(String));
    await bus.close();
  });

  it('every failure is a rejection with its typed error; a span started for it is ended once', async () => {
    const bus = createEventBus({ source: 'shop', events, logger, maxPayloadBytes: 64 });
    await expect(call(() => bus.publish('order.placed', { n: 'one' } as never))).rejects.toSatisfy(
      isEventValidationError,
    );
    await expect(
      call(() =>
        bus.publishMany('order.placed', [
          { data: { n: 1 }, partitionKey: 'a' },
          { data: { n: 2 }, partitionKey: 'b' },
        ]),
      ),
    ).rejects.toSatisfy(isEventValidationError);
    await expect(call(() => bus.publish('order.shipped' as never, { n: 1 } as never))).rejects.toSatisfy(
      isUnknownEventTypeError,
    );
    // No items to validate, but the type is still checked (a misspelt type fails whatever the batch holds).
    await expect(call(() => bus.publishMany('order.shipped' as never, []))).rejects.toSatisfy(isUnknownEventTypeError);
    expect(publishSpans()).toEqual([]); // refused before a span was started
    await expect(call(() => bus.publish('blob.stored', { blob: 'x'.repeat(100) }))).rejects.toSatisfy(
      isPayloadTooLargeError,
    );
    await expect(
      call(() => bus.publishMany('blob.stored', [{ data: { blob: 'x' } }, { data: { blob: 'x'.repeat(100) } }])),
    ).rejects.toSatisfy(isPayloadTooLargeError);
    await bus.close(); // closes the memory transport it made
    await expect(call(() => bus.publish('order.placed', { n: 1 }))).rejects.toSatisfy(isTransportClosedError);
    await expect(
      call(() => bus.publishMany('order.placed', [{ data: { n: 1 } }, { data: { n: 2 } }])),
    ).rejects.toSatisfy(isTransportClosedError);
    expect(publishSpans().map((s) => s.attributes['messaging.batch.message_count'])).toEqual([1, 2, 1, 2]);
    expect(publishSpans().every((s) => s.attributes['messaging.message.id'] === undefined)).toBe(true);
    expect(open.size).toBe(0);
    expect(diagnostics).toEqual([]);
  });

  it("timestamps: each event carries its clock's now (same ms, backwards), and an invalid now always rejects", async () => {
    let now = Date.UTC(2026, 0, 1, 12, 0, 0, 5);
    const clock: Clock = { ...systemClock, now: () => now };
    const bus = createEventBus({ source: 'shop', events, logger, clock });
    const expected: string[] = [];
    for (const at of [now, now, now - 1, now - 60_000, now + 0.5, now + 1]) {
      now = at;
      await bus.publish('order.placed', { n: 1 });
      await bus.publishMany('order.placed', [{ data: { n: 2 } }, { data: { n: 3 } }]);
      expected.push(...Array(3).fill(new Date(at).toISOString()));
    }
    // Past Date's range (±8.64e15 ms) there is no ISO text: every publish at that time must fail, the second
    // too (it must not get the last valid time's text from the per-ms cache).
    now = 8.64e15 + 1;
    await expect(call(() => bus.publish('order.placed', { n: 4 }))).rejects.toBeInstanceOf(RangeError);
    await expect(call(() => bus.publish('order.placed', { n: 5 }))).rejects.toBeInstanceOf(RangeError);
    await bus.transport.ensureGroup('order.placed', 'g');
    const entries = await bus.transport.read('order.placed', 'g', 'c', 100, 0);
    expect(entries.map((e) => e.fields.timestamp)).toEqual(expected);
    await bus.close();
    expect(open.size).toBe(0);
  });
});
