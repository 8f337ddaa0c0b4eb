/**
 * Trace context with the OpenTelemetry API alone (a context manager, no tracer SDK): the bus's spans are the
 * API's no-op spans, and publish and the consumer skip building a context that would change nothing (see
 * tracing.ts). What a caller's incoming trace context carries must still travel: the publisher's traceparent into
 * `metadata`, and the handler runs with it active.
 */
import { createLogger } from '@ballast/core';
import { context, type SpanContext, TraceFlags, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEventBus } from '../src/bus';

const logger = createLogger({ level: 'silent' });
const events = { 'order.placed': z.object({ n: z.number() }) };

describe('trace context without a tracer SDK', () => {
  const manager = new AsyncLocalStorageContextManager();
  beforeAll(() => {
    context.setGlobalContextManager(manager.enable());
  });
  afterAll(() => {
    context.disable();
  });

  it("a caller's remote span context reaches metadata and the handler; none is made up without one", async () => {
    const bus = createEventBus({ source: 'shop', events, logger });
    const seen: { metadata: Record<string, unknown>; active: SpanContext | undefined }[] = [];
    const two = new Promise<void>((resolve) => {
      void bus.subscribe(
        'order.placed',
        (e) => {
          seen.push({ metadata: e.metadata, active: trace.getActiveSpan()?.spanContext() });
          if (seen.length === 2) resolve();
        },
        { group: 'g', blockMs: 10 },
      );
    });
    const incoming: SpanContext = {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    };
    await context.with(trace.setSpanContext(context.active(), incoming), () => bus.publish('order.placed', { n: 1 }));
    await bus.publish('order.placed', { n: 2 });
    await two;
    await bus.close();
    const [withParent, without] = seen;
    expect(withParent!.metadata.traceparent).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    expect(withParent!.active).toMatchObject({ traceId: incoming.traceId, spanId: incoming.spanId });
    expect(without!.metadata).toEqual({});
    expect(without!.active?.traceId ?? '00000000000000000000000000000000').toBe('00000000000000000000000000000000');
  });
  it('a recording span active where the consumer runs (an SDK not registered globally) is not the span handlers get', async () => {
    // The app traces with its own provider's tracer; the bus's tracer is the API's no-op one. Handlers continue
    // the trace context, but annotate a no-op span, not the app's span that happened to be active at subscribe.
    const appSpan = new BasicTracerProvider().getTracer('app').startSpan('startup');
    const bus = createEventBus({ source: 'shop', events, logger });
    const handled = new Promise<{ recording: boolean | undefined; context: SpanContext | undefined }>((resolve) => {
      void context.with(trace.setSpan(context.active(), appSpan), () =>
        bus.subscribe(
          'order.placed',
          () => {
            const active = trace.getActiveSpan();
            resolve({ recording: active?.isRecording(), context: active?.spanContext() });
          },
          { group: 'g', blockMs: 10 },
        ),
      );
    });
    await bus.publish('order.placed', { n: 1 });
    const seen = await handled;
    await bus.close();
    appSpan.end();
    expect(seen.recording).toBe(false);
    expect(seen.context).toEqual(appSpan.spanContext());
  });
});
