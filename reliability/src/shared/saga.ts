/**
 * The saga scenario's plan, shared by the parent and the orchestrator workers: saga `n` has four units — s1, s2,
 * the parallel group (p1, p2), s4; some fail at a unit (permanently) so they compensate, and some of those have a
 * compensation that always fails so they end `compensation_failed` in the DLQ. A saga failing at the group is the
 * in-doubt case: p1 throws at once while p2 is mid-call; p2 ignores its signal, applies its effect after the abort
 * and then rejects, so its outcome is unknown to the orchestrator and only in-doubt compensation undoes it.
 * The plan is a pure function of `n`, so every process agrees.
 */
import { z } from 'zod';

export const CHAOS_SAGA = 'chaos-saga';
/** The same steps with `recovery: 'compensate'`: a saga whose orchestrator dies is compensated by the sweeper. */
export const CHAOS_SAGA_COMPENSATE = 'chaos-saga-compensate';

/** The saga's events, as the workers' event bus and the parent's reader know them. */
const sagaEvent = z.object({ sagaId: z.string(), saga: z.string() }).passthrough();
export const chaosEvents = {
  'saga.started': sagaEvent,
  'step.completed': sagaEvent,
  'saga.completed': sagaEvent,
  'saga.compensated': sagaEvent,
  'saga.failed': sagaEvent,
};
/** Step names in unit order; p1 and p2 are the parallel group (unit 3). */
export const STEPS = ['s1', 's2', 'p1', 'p2', 's4'] as const;
export type ChaosStep = (typeof STEPS)[number];
/** The unit (1-based) each step belongs to. */
export const UNIT_OF: Record<ChaosStep, number> = { s1: 1, s2: 2, p1: 3, p2: 3, s4: 4 };
/** The step that fails when a saga fails at unit `failAt`. */
export const FAILING_STEP: Record<number, ChaosStep> = { 2: 's2', 3: 'p1', 4: 's4' };

export interface SagaPlan {
  n: number;
  /**
   * 0: completes; 2..4: unit `failAt` always fails (s2, p1 — p2 then lands in doubt —, s4), so every effect
   * that landed before is compensated.
   */
  failAt: number;
  /** The compensation of s1 always throws: the saga ends `compensation_failed` with a DLQ entry and an alert. */
  badCompensation: boolean;
  /**
   * `compensate` (every 4th saga, none failing by design): when its orchestrator dies mid-saga the sweeper
   * compensates it (the interrupted step in doubt) — so it ends `completed`, or `compensated` if a kill hit it.
   */
  recovery: 'forward' | 'compensate';
}

export function planOf(n: number): SagaPlan {
  // Every 4th saga fails at a step (2, 3 or 4 in turn); every 4th of those has a failing compensation.
  const fails = n % 4 === 1;
  const failAt = fails ? 2 + ((n >> 2) % 3) : 0;
  const badCompensation = fails && (n >> 2) % 4 === 3;
  return { n, failAt, badCompensation, recovery: n % 4 === 3 ? 'compensate' : 'forward' };
}

export function sagaIdOf(n: number): string {
  return `chaos-${n}`;
}

export type ExpectedStatus = 'completed' | 'compensated' | 'compensation_failed';

/** The designed end; a `compensate`-recovery saga hit by a kill ends `compensated` instead of `completed`. */
export function expectedStatus(plan: SagaPlan): ExpectedStatus {
  if (plan.failAt === 0) return 'completed';
  return plan.badCompensation ? 'compensation_failed' : 'compensated';
}

export interface SagaWorkerConfig {
  redisUrl: string;
  /** Saga store prefix (and of every scenario key). */
  prefix: string;
  /** List of saga numbers to start (LPOP). */
  queueKey: string;
  /** Hash: `run|<sagaId>:<step>` / `comp|<sagaId>:<step>` → times the effect happened; `alert|<sagaId>` → hook calls. */
  ledgerKey: string;
  id: string;
  concurrency: number;
  /** Each step's work takes a random time in [stepMinMs, stepMaxMs] (so kills land mid-step). */
  stepMinMs: number;
  stepMaxMs: number;
  leaseMs: number;
  sweepIntervalMs: number;
  lifetimeMs: number;
  /** Off only in the negative control: in-doubt p2 effects are then left in place (the ledger shows them). */
  compensateInDoubt: boolean;
}
