/**
 * The saga scenario's plan, shared by the parent and the orchestrator workers: saga `n` has four steps; some
 * fail at a step (permanently) so they compensate, and some of those have a compensation that always fails so
 * they end `compensation_failed` in the DLQ. The plan is a pure function of `n`, so every process agrees.
 */

export const CHAOS_SAGA = 'chaos-saga';
export const STEPS = ['s1', 's2', 's3', 's4'] as const;

export interface SagaPlan {
  n: number;
  /** 0: completes; 2..4: step `s<failAt>` always throws, so s1..s<failAt-1> are compensated. */
  failAt: number;
  /** The compensation of s1 always throws: the saga ends `compensation_failed` with a DLQ entry and an alert. */
  badCompensation: boolean;
}

export function planOf(n: number): SagaPlan {
  // Every 4th saga fails at a step (2, 3 or 4 in turn); every 4th of those has a failing compensation.
  const fails = n % 4 === 1;
  const failAt = fails ? 2 + ((n >> 2) % 3) : 0;
  const badCompensation = fails && (n >> 2) % 4 === 3;
  return { n, failAt, badCompensation };
}

export function sagaIdOf(n: number): string {
  return `chaos-${n}`;
}

export type ExpectedStatus = 'completed' | 'compensated' | 'compensation_failed';

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
}
