import { getMeter, getTracer, metricName } from '@ballast/core';

/** Metric names: the first two are seed 003's. */
export const SAGA_METRICS = {
  executions: 'saga_executions_total',
  compensations: 'saga_compensations_total',
  stepDuration: metricName('saga', 'step_duration_ms'),
} as const;

/** The orchestrator's instruments, created from the global OTel API (no-ops until an SDK is registered). */
export function sagaInstruments() {
  const meter = getMeter('@ballast/saga');
  return {
    tracer: getTracer('@ballast/saga'),
    /** {saga, status}: completed | compensated | compensation_failed */
    executions: meter.createCounter(SAGA_METRICS.executions, { description: 'Sagas finished, by final status' }),
    /** {saga, step, result}: success | failed */
    compensations: meter.createCounter(SAGA_METRICS.compensations, {
      description: 'Compensations run, by outcome after retries',
    }),
    /** {saga, step, outcome}: success | failure */
    stepDuration: meter.createHistogram(SAGA_METRICS.stepDuration, {
      description: 'Duration of a saga step, retries included',
      unit: 'ms',
    }),
  };
}

export type SagaInstruments = ReturnType<typeof sagaInstruments>;
