import { createLogger } from '@ballast/core';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MemoryTransport } from '../src/backends/memory';
import { createEventBus } from '../src/bus';
import { healthPlatformEvents } from '../src/schemas';

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

it("a consumer's span continues the publisher's trace through the envelope's metadata", async () => {
  const bus = createEventBus({
    transport: new MemoryTransport(),
    source: 'diagnosis-service',
    events: healthPlatformEvents,
    logger: createLogger({ level: 'silent' }),
  });
  let handlerTraceId: string | undefined;
  let metadata: Record<string, unknown> = {};
  let done: () => void = () => {};
  const handled = new Promise<void>((r) => {
    done = r;
  });
  await bus.subscribe(
    'diagnosis.completed',
    (e) => {
      handlerTraceId = trace.getActiveSpan()?.spanContext().traceId;
      metadata = e.metadata;
      done();
    },
    { blockMs: 50 },
  );
  const tracer = trace.getTracer('test');
  const requestTraceId = await tracer.startActiveSpan('POST /diagnoses', async (span) => {
    await bus.publish('diagnosis.completed', { diagnosisId: 'd1', result: 'ok' }, { metadata: { tenant: 't1' } });
    span.end();
    return span.spanContext().traceId;
  });
  await handled;
  await bus.close();
  expect(metadata.traceparent).toMatch(new RegExp(`^00-${requestTraceId}-[0-9a-f]{16}-01$`));
  expect(metadata.tenant).toBe('t1');
  expect(handlerTraceId).toBe(requestTraceId);
  const spans = exporter.getFinishedSpans();
  const publish = spans.find((s) => s.name === 'diagnosis.completed publish')!;
  const processSpan = spans.find((s) => s.name === 'diagnosis.completed process')!;
  expect(publish.spanContext().traceId).toBe(requestTraceId);
  expect(processSpan.spanContext().traceId).toBe(requestTraceId);
  expect(
    processSpan.parentSpanContext?.spanId ?? (processSpan as unknown as { parentSpanId?: string }).parentSpanId,
  ).toBe(publish.spanContext().spanId);
});
