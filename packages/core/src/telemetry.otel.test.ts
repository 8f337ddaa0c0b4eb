import { AsyncLocalStorage } from 'node:async_hooks';
import {
  type Context,
  type ContextManager,
  context,
  metrics,
  ROOT_CONTEXT,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { getMeter, getTracer, injectTraceContext, metricName, withSpan } from './telemetry';

// In-memory OTel SDKs registered globally, as an application would: core's helpers only ever see
// `@opentelemetry/api`, so what they record must come out of the SDK the application registered.

/** The smallest context manager that makes `startActiveSpan` really set the active span (AsyncLocalStorage). */
class AlsContextManager implements ContextManager {
  readonly #als = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.#als.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.#als.run(ctx, () => fn.call(thisArg, ...args));
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.#als.disable();
    return this;
  }
}

class TestReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

const spans = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
const reader = new TestReader();
const meterProvider = new MeterProvider({ readers: [reader] });

beforeAll(() => {
  expect(context.setGlobalContextManager(new AlsContextManager())).toBe(true);
  expect(trace.setGlobalTracerProvider(tracerProvider)).toBe(true);
  expect(metrics.setGlobalMeterProvider(meterProvider)).toBe(true);
});
afterAll(async () => {
  trace.disable();
  metrics.disable();
  context.disable();
  await Promise.all([tracerProvider.shutdown(), meterProvider.shutdown()]);
});
beforeEach(() => spans.reset());

describe('getMeter', () => {
  it('returns a meter of the registered SDK, scoped by package name and version', async () => {
    const meter = getMeter('@ballast/test-pkg', '1.2.3');
    const counter = meter.createCounter(metricName('test-pkg', 'things_total'));
    counter.add(2, { status: 'ok' });
    counter.add(1, { status: 'ok' });
    counter.add(5, { status: 'failed' });
    const { resourceMetrics } = await reader.collect();
    const scope = resourceMetrics.scopeMetrics.find((s) => s.scope.name === '@ballast/test-pkg');
    expect(scope?.scope.version).toBe('1.2.3');
    const metric = scope?.metrics.find((m) => m.descriptor.name === 'ballast_test_pkg_things_total');
    const byStatus = Object.fromEntries(metric!.dataPoints.map((p) => [p.attributes.status, p.value]));
    expect(byStatus).toEqual({ ok: 3, failed: 5 });
  });
});

describe('getTracer / withSpan', () => {
  it('getTracer returns a tracer of the registered SDK, scoped by package name and version', async () => {
    await withSpan(getTracer('@ballast/test-pkg', '4.5.6'), 'op', () => 'done');
    const [span] = spans.getFinishedSpans();
    expect(span?.instrumentationScope).toMatchObject({ name: '@ballast/test-pkg', version: '4.5.6' });
  });

  it('runs fn in a new active span with the attributes, returns its value and ends the span', async () => {
    const tracer = getTracer('@ballast/test-pkg');
    let inside: { active: unknown; traceparent: string | undefined } | undefined;
    const result = await withSpan(
      tracer,
      'orders.place',
      async (span) => {
        await Promise.resolve(); // still active after an await
        inside = { active: trace.getActiveSpan() === span, traceparent: injectTraceContext({}).traceparent };
        // A span started inside is its child.
        await withSpan(tracer, 'orders.child', () => undefined);
        return 42;
      },
      { 'order.id': 'o-1' },
    );
    expect(result).toBe(42);
    const finished = spans.getFinishedSpans();
    expect(finished.map((s) => s.name)).toEqual(['orders.child', 'orders.place']);
    const [child, parent] = finished;
    expect(inside?.active).toBe(true);
    expect(inside?.traceparent).toBe(`00-${parent!.spanContext().traceId}-${parent!.spanContext().spanId}-01`);
    expect(parent!.attributes).toEqual({ 'order.id': 'o-1' });
    expect(parent!.status.code).toBe(SpanStatusCode.UNSET);
    expect(parent!.ended).toBe(true);
    expect(child!.parentSpanContext?.spanId).toBe(parent!.spanContext().spanId);
    expect(trace.getActiveSpan()).toBeUndefined(); // not active any more once fn returned
  });

  it('records the exception, sets ERROR status, ends the span and rethrows the same error', async () => {
    const boom = new Error('boom');
    await expect(
      withSpan(getTracer('@ballast/test-pkg'), 'fails', () => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    const [span] = spans.getFinishedSpans();
    expect(span?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'boom' });
    expect(span?.events.map((e) => [e.name, e.attributes?.['exception.message']])).toEqual([['exception', 'boom']]);
    expect(span?.ended).toBe(true);
  });

  it('handles a rejected promise and a thrown non-Error the same way', async () => {
    await expect(
      withSpan(getTracer('@ballast/test-pkg'), 'rejects', async () => Promise.reject('plain string')),
    ).rejects.toBe('plain string');
    const [span] = spans.getFinishedSpans();
    expect(span?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'plain string' });
    expect(span?.events).toHaveLength(1);
    expect(span?.events[0]?.name).toBe('exception');
  });
});
