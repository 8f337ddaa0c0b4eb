/**
 * Trace context from `add` to the worker (issue 19 §4): `add` runs in a producer span whose W3C trace context
 * the job carries; the worker's `queue.process` span is its child (same trace, across processes), and spans
 * the handler starts are children of that. Recorded by the OTel SDK's in-memory exporter, registered globally
 * as an application would.
 */

import { useRedisFixture } from '@ballast/testkit/vitest';
import { context, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createQueue, createWorker, type Queue, type QueueOptions, type RabbitBackend } from '../src/index';

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
afterEach(() => exporter.reset());

const fx = useRedisFixture({ name: 'queue-trace' });
const open: Queue[] = [];
afterEach(async () => {
  for (const q of open.splice(0)) {
    if (q.backend.kind === 'rabbitmq') await (q.backend as RabbitBackend).deleteQueues().catch(() => {});
    await q.close();
  }
});
let n = 0;

const backends: Record<string, () => Partial<QueueOptions>> = {
  memory: () => ({ backend: 'memory' }),
  redis: () => ({ backend: 'redis', redis: fx.current.redis, prefix: fx.current.prefix }),
  // The job's options travel in the message body: the trace context with them, no broker header needed.
  rabbitmq: () => ({
    backend: 'rabbitmq',
    url: process.env.BALLAST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
    redis: fx.current.redis,
    prefix: fx.current.prefix,
  }),
};

describe.each(Object.keys(backends))('%s', (kind) => {
  it('the worker span is a child of the add span (the producer span), which is a child of the caller’s span', async () => {
    // Two queue handles on one queue: the producer's and the worker's (on Redis they could be two processes).
    const name = `trace-${process.pid}-${n++}`;
    const producer = createQueue(name, backends[kind]!());
    const consumer = kind === 'memory' ? producer : createQueue(name, backends[kind]!());
    open.push(producer);
    if (consumer !== producer) open.push(consumer);
    const tracer = trace.getTracer('test');
    const done = new Promise<void>((resolve) => {
      createWorker(consumer, () => {
        tracer.startSpan('handler work').end();
        resolve();
      });
    });
    await tracer.startActiveSpan('http request', async (span) => {
      await producer.add('send-email', { to: 'ann' });
      span.end();
    });
    await done;
    await expect.poll(() => exporter.getFinishedSpans().some((s) => s.name.startsWith('queue.process'))).toBe(true);
    const spans = exporter.getFinishedSpans();
    const byName = (name: string) => spans.find((s) => s.name === name)!;
    const request = byName('http request');
    const add = byName('queue.add send-email');
    const processed = byName('queue.process send-email');
    const work = byName('handler work');
    expect(add.kind).toBe(SpanKind.PRODUCER);
    expect(processed.kind).toBe(SpanKind.CONSUMER);
    expect(add.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    expect(processed.spanContext().traceId).toBe(request.spanContext().traceId);
    expect(processed.parentSpanContext?.spanId).toBe(add.spanContext().spanId);
    expect(work.parentSpanContext?.spanId).toBe(processed.spanContext().spanId);
  });
});
