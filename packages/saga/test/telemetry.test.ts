/**
 * Events through a real @ballast/event-bus (memory transport: proves the structural `SagaEventBus` fits its
 * `publish(type, payload)`), the seed 003 metrics read back from an OTel SDK meter, and a span per step.
 */
import { createLogger } from '@ballast/core';
// Test-only: @ballast/saga has no dependency on event-bus (its src never imports it); see the README.
import { createEventBus, MemoryTransport } from '@ballast/event-bus';
import { FakeClock, track } from '@ballast/testkit';
import { useInMemoryMetrics } from '@ballast/testkit/otel';
import { type Span, type SpanOptions, type Tracer, type TracerProvider, trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { createOrchestrator, MemorySagaStore, SAGA_METRICS, type SagaEventBus } from '../src/index';
import { healthDataSaga, healthInput, services } from './fixtures/sagas';

const collect = useInMemoryMetrics();
const quiet = createLogger({ level: 'silent' });

/** A tracer provider that records span names, attributes and status: enough to see one span per step. */
const spans: { name: string; attributes: Record<string, unknown>; error: boolean; ended: boolean }[] = [];
const recording: TracerProvider = {
  getTracer: (): Tracer => {
    const start = (name: string, options: SpanOptions = {}) => {
      const rec = { name, attributes: { ...(options.attributes ?? {}) }, error: false, ended: false };
      spans.push(rec);
      const span = {
        setStatus: (s: { code: number }) => {
          rec.error = s.code === 2;
          return span;
        },
        recordException: () => undefined,
        end: () => {
          rec.ended = true;
        },
        setAttribute: () => span,
        setAttributes: () => span,
        isRecording: () => true,
        spanContext: () => ({ traceId: '0'.repeat(31) + '1', spanId: '0'.repeat(15) + '1', traceFlags: 1 }),
      } as unknown as Span;
      return span;
    };
    return {
      startSpan: (name: string, options?: SpanOptions) => start(name, options),
      startActiveSpan: ((name: string, options: SpanOptions, fn: (span: Span) => unknown) =>
        fn(start(name, options))) as Tracer['startActiveSpan'],
    };
  },
};
beforeAll(() => {
  trace.setGlobalTracerProvider(recording);
});
afterAll(() => {
  trace.disable();
});

const ev = z.object({ sagaId: z.string(), saga: z.string() }).passthrough();
const sagaEvents = {
  'saga.started': ev,
  'step.completed': ev,
  'saga.completed': ev,
  'saga.compensated': ev,
  'saga.failed': ev,
};

describe('events, metrics and spans', () => {
  it('publishes the lifecycle through @ballast/event-bus and counts executions, compensations, step durations', async () => {
    const transport = new MemoryTransport();
    const bus = createEventBus({ transport, source: 'saga-test', events: sagaEvents, logger: quiet });
    const busAsSaga: SagaEventBus = bus; // compile-time proof of structural compatibility
    const clock = new FakeClock();
    const orch = createOrchestrator({
      store: new MemorySagaStore({ clock }),
      clock,
      bus: busAsSaga,
      sweepIntervalMs: 0,
      logger: quiet,
    });
    const s = services();
    const saga = healthDataSaga(s, { name: 'health-data-telemetry' });
    await orch.run(saga, healthInput, { sagaId: 'tel-ok' });
    const data = (type: string) => transport.entries(type).map((e) => JSON.parse(e.fields.data!) as object);
    expect(transport.entries('saga.started')).toHaveLength(1);
    expect(transport.entries('step.completed')).toHaveLength(4);
    expect(transport.entries('saga.completed')).toHaveLength(1);
    expect(data('saga.started')).toEqual([{ sagaId: 'tel-ok', saga: 'health-data-telemetry' }]);
    expect(data('step.completed').map((d) => (d as { step: string }).step)).toEqual([
      'validate_user',
      'save_health_data',
      'update_blockchain',
      'trigger_ai_analysis',
    ]);

    s.failRun.add('trigger_ai_analysis');
    await orch.run(saga, healthInput, { sagaId: 'tel-comp' }).catch(() => {});
    expect(data('saga.compensated')).toEqual([
      expect.objectContaining({ sagaId: 'tel-comp', failedStep: 'trigger_ai_analysis' }),
    ]);

    s.failUndo.add('save_health_data');
    const hooked: string[] = [];
    const orch2 = createOrchestrator({
      store: new MemorySagaStore({ clock }),
      clock,
      bus,
      sweepIntervalMs: 0,
      logger: quiet,
      onCompensationFailed: (e) => void hooked.push(e.step),
    });
    const run = track(orch2.run(saga, healthInput, { sagaId: 'tel-fail' }));
    await vi.waitFor(() => expect(s.calls.filter((c) => c === 'undo:save_health_data')).toHaveLength(2));
    await clock.advance(7_000);
    await vi.waitFor(() => expect(run.done).toBe(true));
    expect(hooked).toEqual(['save_health_data']);
    expect(data('saga.failed')).toEqual([
      expect.objectContaining({
        sagaId: 'tel-fail',
        status: 'compensation_failed',
        failedCompensations: ['save_health_data'],
      }),
    ]);

    const read = await collect();
    const executions = read(SAGA_METRICS.executions)!.dataPoints.filter(
      (p) => p.attributes.saga === 'health-data-telemetry',
    );
    expect(executions.map((p) => [p.attributes.status, p.value]).sort()).toEqual([
      ['compensated', 1],
      ['compensation_failed', 1],
      ['completed', 1],
    ]);
    const comp = read(SAGA_METRICS.compensations)!.dataPoints.filter(
      (p) => p.attributes.saga === 'health-data-telemetry',
    );
    const byKey = Object.fromEntries(comp.map((p) => [`${p.attributes.step}/${p.attributes.result}`, p.value]));
    expect(byKey).toEqual({
      'update_blockchain/success': 2,
      'save_health_data/success': 1,
      'save_health_data/failed': 1,
    });
    const durations = read(SAGA_METRICS.stepDuration)!.dataPoints.filter(
      (p) => p.attributes.saga === 'health-data-telemetry' && p.attributes.step === 'validate_user',
    );
    expect((durations[0]!.value as { count: number }).count).toBe(3);

    const stepSpans = spans.filter((sp) => sp.attributes['saga.id'] === 'tel-ok');
    expect(stepSpans.map((sp) => sp.name)).toEqual([
      'saga.step validate_user',
      'saga.step save_health_data',
      'saga.step update_blockchain',
      'saga.step trigger_ai_analysis',
    ]);
    expect(stepSpans.every((sp) => sp.ended && !sp.error)).toBe(true);
    const failed = spans.find(
      (sp) => sp.attributes['saga.id'] === 'tel-comp' && sp.name === 'saga.step trigger_ai_analysis',
    );
    expect(failed?.error).toBe(true);
    await orch.close();
    await orch2.close();
    await bus.close();
  });
});
