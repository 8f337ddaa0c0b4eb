import {
  type BackoffOptions,
  backoffOptionsSchema,
  type Clock,
  functionSchema,
  type Logger,
  objectSchema,
} from '@ballast/core';
import { z } from 'zod';
import type { SagaEventBus } from './events';
import type { CompensationFailedEvent } from './orchestrator';
import type { SagaStore } from './store';

/** Seed 001: `asyncio.sleep(2 ** attempt)` between tries, no jitter. */
export const DEFAULT_STEP_BACKOFF = { initialMs: 1_000, factor: 2, maxMs: 30_000, jitter: 'none' } as const;
/** Seed 003: compensation retried after 1 s, 2 s, 4 s. */
export const DEFAULT_COMPENSATION_BACKOFF = { initialMs: 1_000, factor: 2, maxMs: 4_000, jitter: 'none' } as const;

export const orchestratorOptionsSchema = z
  .object({
    /** Where state lives. Default: a new in-memory store (one process). */
    store: objectSchema<SagaStore>('store').optional(),
    /** Publishes saga.started, step.completed, saga.completed, saga.compensated, saga.failed. */
    bus: objectSchema<SagaEventBus>('bus').optional(),
    /** This orchestrator's lease-owner id. Default: a random UUID. */
    id: z.string().min(1).optional(),
    /** Sagas this orchestrator can resume (those it runs are registered on first `run`). */
    sagas: z.array(objectSchema<{ kind: 'saga'; name: string }>('saga definition')).default([]),
    /** A saga's lease; renewed by every write and every `leaseMs / 3` while a step runs. */
    leaseMs: z.number().int().positive().default(30_000),
    /** How often the recovery sweeper looks for sagas with expired leases. 0: never (call `sweep()`). */
    sweepIntervalMs: z.number().int().min(0).default(10_000),
    /** Sagas claimed per sweep. */
    sweepBatch: z.number().int().positive().default(10),
    /** Each try of a step (seed 001: timeout 30 s). */
    stepTimeoutMs: z.number().positive().default(30_000),
    /**
     * A step try that timed out or was cancelled is given this long to settle (its signal aborted) before the
     * next try or the compensation starts; one that does not settle, or rejects, is in doubt.
     */
    stepSettleGraceMs: z.number().int().min(0).default(5_000),
    /**
     * Compensate in-doubt steps (timed out, cancelled, or interrupted by a crash with no known outcome). Default
     * true: compensations must be idempotent and tolerate "nothing to undo". False leaves them alone.
     */
    compensateInDoubt: z.boolean().default(true),
    /** Tries per step, first included (seed 001: retry_count 3). */
    stepMaxAttempts: z.number().int().min(1).default(3),
    /** Seed 001: 1 s, 2 s… (2^attempt s), no jitter. */
    stepBackoff: backoffOptionsSchema.optional(),
    /** Retries per compensation after the first try (seed 003: 3). */
    compensationMaxRetries: z.number().int().min(0).default(3),
    /** Seed 003: 1 s, 2 s, 4 s. */
    compensationBackoff: backoffOptionsSchema.optional(),
    /** Each try of a compensation. */
    compensationTimeoutMs: z.number().positive().default(30_000),
    /** How often a second `run` with a known idempotency key polls for the first run's outcome. */
    idempotencyPollMs: z.number().int().positive().default(100),
    /**
     * How long a replay (a `run` whose idempotency key names a saga still running elsewhere) waits for that
     * first run's outcome before `SagaReplayTimeoutError`. Default 60 s.
     */
    replayWaitMs: z.number().int().positive().default(60_000),
    /** Called once per compensation that exhausted its retries (seed 003: notify the user). */
    onCompensationFailed:
      functionSchema<(event: CompensationFailedEvent) => unknown>('onCompensationFailed').optional(),
    clock: objectSchema<Clock>('clock').optional(),
    logger: objectSchema<Logger>('logger').optional(),
  })
  .strict();

export type OrchestratorOptions = Omit<
  z.input<typeof orchestratorOptionsSchema>,
  'stepBackoff' | 'compensationBackoff' | 'sagas'
> & {
  stepBackoff?: BackoffOptions;
  compensationBackoff?: BackoffOptions;
  // biome-ignore lint/suspicious/noExplicitAny: definitions of any context type
  sagas?: readonly import('./definition').SagaDefinition<any>[];
};

export type ResolvedOrchestratorOptions = z.output<typeof orchestratorOptionsSchema>;

export const runOptionsSchema = z
  .object({
    /** Default: derived from `idempotencyKey`, else a random UUID. Letters, digits, `_ . - :`. */
    sagaId: z
      .string()
      .regex(/^[A-Za-z0-9_.\-:]+$/, 'letters, digits and _ . - : only')
      .max(200)
      .optional(),
    /**
     * A second run with the same key and the same input returns the first run's outcome (waiting for it, up
     * to `replayWaitMs`, if still running); the same key with a different input is `IdempotencyConflictError`.
     */
    idempotencyKey: z.string().min(1).max(500).optional(),
    /** Aborting it cancels the saga: the running step is aborted and what completed is compensated. */
    signal: objectSchema<AbortSignal>('signal').optional(),
    /**
     * A saga-level deadline (ms from `run`, this process's clock): past it the saga is cancelled and compensated
     * (`SagaCancelledError` reason `deadline`). Not carried over to an orchestrator that recovers the saga.
     */
    deadlineMs: z.number().int().positive().optional(),
  })
  .strict();

export type RunOptions = z.input<typeof runOptionsSchema>;
