/**
 * The event bus as saga sees it: anything with `publish(type, payload)`. `@ballast/event-bus`'s `EventBus`
 * fits structurally (register the saga event types in its schemas); so does a thin adapter over any broker.
 */
export interface SagaEventBus {
  // biome-ignore lint/suspicious/noExplicitAny: a typed bus narrows the payload per event type
  publish(type: string, payload: any): unknown;
}

export const SagaEventType = {
  STARTED: 'saga.started',
  STEP_COMPLETED: 'step.completed',
  COMPLETED: 'saga.completed',
  COMPENSATED: 'saga.compensated',
  FAILED: 'saga.failed',
} as const;

export interface SagaStartedPayload {
  sagaId: string;
  saga: string;
}
export interface StepCompletedPayload {
  sagaId: string;
  saga: string;
  step: string;
  durationMs: number;
}
export interface SagaCompletedPayload {
  sagaId: string;
  saga: string;
}
/** A step failed and every completed step was compensated. */
export interface SagaCompensatedPayload {
  sagaId: string;
  saga: string;
  failedStep: string;
  error: string;
}
/** A step failed and at least one compensation failed too: the saga ended `compensation_failed`. */
export interface SagaFailedPayload {
  sagaId: string;
  saga: string;
  failedStep: string;
  error: string;
  status: 'compensation_failed';
  failedCompensations: string[];
}

export interface SagaEventPayloads {
  'saga.started': SagaStartedPayload;
  'step.completed': StepCompletedPayload;
  'saga.completed': SagaCompletedPayload;
  'saga.compensated': SagaCompensatedPayload;
  'saga.failed': SagaFailedPayload;
}
