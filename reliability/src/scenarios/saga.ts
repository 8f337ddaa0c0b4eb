/**
 * saga: N sagas of four units (s1, s2, a parallel group p1+p2, s4) on @ballast/saga (Redis store) run by
 * orchestrator processes that are SIGKILLed at random (so at random steps) and restarted; the recovery sweepers
 * of the others resume what a dead one left. Some sagas fail at a unit by design (they must end `compensated`),
 * some of those have a compensation that always fails (they must end `compensation_failed`, in the DLQ, with the
 * alert hook fired); those failing at the group leave p2 in doubt (its effect lands after the abort). Holds
 * when, after a bounded recovery window, every saga reached its expected end (0 stuck), every effect that
 * landed in a failed saga was undone — in-doubt ones included —, no compensation ran for a step that never
 * completed, every DLQ'd saga has its dead letter and its alert, and every saga's events are in the bus's
 * streams exactly once (written by the state scripts: a kill loses none). Steps run more than once are counted
 * (allowed: idempotency keys are for that). With `compensateInDoubt: false` (the negative control) the in-doubt
 * effects stay and the ledger must show them.
 */
import { randomUUID } from 'node:crypto';
import { createLogger, createRedis, type Redis } from '@ballast/core';
import { createEventBus, type RedisTransport } from '@ballast/event-bus';
import { createOrchestrator, RedisSagaStore } from '@ballast/saga';
import { spawnWorker, stopAll, type WorkerHandle } from '../child';
import { type KillTally, killAtRandom } from '../kill-loop';
import { Checks, type Ledger } from '../ledger';
import { deleteByPrefix } from '../redis-util';
import { delay, type Scenario, type ScenarioContext, waitUntil } from '../scenario';
import {
  chaosEvents,
  expectedStatus,
  FAILING_STEP,
  planOf,
  type SagaWorkerConfig,
  STEPS,
  sagaIdOf,
  UNIT_OF,
} from '../shared/saga';

export interface SagaCounts {
  sagas: number;
  orchestrators: number;
  /** Sagas each orchestrator runs at once. */
  concurrency: number;
  stepMinMs: number;
  stepMaxMs: number;
  leaseMs: number;
  sweepIntervalMs: number;
  /** After the last kill: how long every saga has to reach its end. */
  recoveryWindowMs: number;
  /** Bound of the whole run. */
  timeoutMs: number;
  /** False only in the negative control (default true). */
  compensateInDoubt?: boolean;
}

export const sagaCounts: Record<'short' | 'long', SagaCounts> = {
  short: {
    sagas: 160,
    orchestrators: 3,
    concurrency: 8,
    stepMinMs: 60,
    stepMaxMs: 250,
    leaseMs: 1_500,
    sweepIntervalMs: 250,
    recoveryWindowMs: 30_000,
    timeoutMs: 70_000,
  },
  long: {
    sagas: 1_000,
    orchestrators: 4,
    concurrency: 10,
    stepMinMs: 60,
    stepMaxMs: 250,
    leaseMs: 1_500,
    sweepIntervalMs: 250,
    recoveryWindowMs: 60_000,
    timeoutMs: 10 * 60_000,
  },
};

const TERMINAL = new Set(['completed', 'compensated', 'compensation_failed']);

export async function runSaga(ctx: ScenarioContext, counts: SagaCounts): Promise<Ledger> {
  const started = Date.now();
  const prefix = `chaos:saga:${randomUUID().slice(0, 8)}`;
  const redis = createRedis(ctx.redisUrl) as Redis;
  const ledgerKey = `${prefix}:ledger`;
  const queueKey = `${prefix}:queue`;
  const workers: WorkerHandle[] = [];
  const checks = new Checks();
  // The parent only reads state: no sweeper, never runs a saga.
  const reader = createOrchestrator({
    store: new RedisSagaStore({ redis, prefix }),
    sweepIntervalMs: 0,
    logger: createLogger({ level: 'silent' }),
  });
  let incarnation = 0;
  const tally: KillTally = { kills: 0, restartFailures: 0 };
  let resubmitted = 0;

  const start = (): WorkerHandle => {
    const config: SagaWorkerConfig = {
      redisUrl: ctx.redisUrl,
      prefix,
      queueKey,
      ledgerKey,
      id: `o${incarnation++}`,
      concurrency: counts.concurrency,
      stepMinMs: counts.stepMinMs,
      stepMaxMs: counts.stepMaxMs,
      leaseMs: counts.leaseMs,
      sweepIntervalMs: counts.sweepIntervalMs,
      lifetimeMs: counts.timeoutMs + 30_000,
      compensateInDoubt: counts.compensateInDoubt ?? true,
    };
    const w = spawnWorker({ script: 'saga-orchestrator.ts', name: config.id, config, lifetimeMs: config.lifetimeMs });
    workers.push(w);
    return w;
  };
  const statusOf = async (n: number) => (await reader.get(sagaIdOf(n)))?.status;
  const ids = Array.from({ length: counts.sagas }, (_, n) => n);
  const unfinished = async () => {
    const out: number[] = [];
    for (const n of ids) if (!TERMINAL.has((await statusOf(n)) ?? '')) out.push(n);
    return out;
  };

  try {
    await Promise.all(Array.from({ length: counts.orchestrators }, () => start().ready));
    await redis.rpush(queueKey, ...ids.map(String));
    ctx.log(`saga: ${counts.orchestrators} orchestrators up; ${counts.sagas} sagas queued`);

    // Chaos: a random live orchestrator SIGKILLed every 0.7–1.7 s and replaced at once, while sagas remain.
    // Kills stop early once nearly every saga is through: the rest is the recovery window's job.
    await killAtRandom({
      workers,
      start,
      random: ctx.random,
      gapMs: 700,
      jitterMs: 1_000,
      maxKills: Math.ceil(counts.timeoutMs / 700),
      keepGoing: async () =>
        Date.now() - started < counts.timeoutMs - counts.recoveryWindowMs &&
        (await redis.llen(queueKey)) + (await unfinished()).length > counts.sagas * 0.05,
      tally,
    });
    ctx.log(`saga: chaos over (${tally.kills} kills); recovery window`);

    // A client whose orchestrator died between taking a saga off the queue and creating it retries it (once
    // the queue is empty, any saga number still without a record was in such a dead process's hands).
    await waitUntil(async () => (await redis.llen(queueKey)) === 0, counts.recoveryWindowMs, 200);
    await delay(500);
    for (const n of ids) {
      if ((await statusOf(n)) === undefined) {
        await redis.rpush(queueKey, String(n));
        resubmitted++;
      }
    }
    const recoveryStarted = Date.now();
    // Settled: every saga terminal, and every compensation_failed one has its dead letter and its alert (the
    // orchestrator writes the terminal status first, then the DLQ entry, then calls the hook).
    const alertsDue = async () => {
      const failed = [];
      for (const n of ids) if ((await statusOf(n)) === 'compensation_failed') failed.push(sagaIdOf(n));
      const dlq = new Set((await reader.deadLetters(counts.sagas * 4)).map((d) => d.sagaId));
      for (const id of failed) {
        if (!dlq.has(id) || Number(await redis.hget(ledgerKey, `alert|${id}`)) === 0) return false;
      }
      return true;
    };
    const settled = await waitUntil(
      async () => (await unfinished()).length === 0 && (await alertsDue()),
      counts.recoveryWindowMs,
      250,
    );
    const recoveryMs = Date.now() - recoveryStarted;
    await stopAll(workers);

    // The tally.
    const ledger = await redis.hgetall(ledgerKey);
    const count = (field: string) => Number(ledger[field] ?? 0);
    const dead = await reader.deadLetters(counts.sagas * 4);
    const dlqBySaga = new Map<string, number>();
    for (const d of dead) dlqBySaga.set(d.sagaId, (dlqBySaga.get(d.sagaId) ?? 0) + 1);
    const outcome = { completed: 0, compensated: 0, compensation_failed: 0 };
    let stuck = 0;
    let wrongEnd = 0;
    let stepsMissing = 0;
    let notUndone = 0;
    let compensationWithoutStep = 0;
    let dlqMissing = 0;
    let alertMissing = 0;
    let dlqUnexpected = 0;
    let duplicatedSteps = 0;
    let inDoubtCompensated = 0;
    let recoveredByCompensation = 0;
    let undoneNothing = 0;
    let inDoubtLeft = 0;
    let duplicatedCompensations = 0;
    // Sagas whose steps ran in more than one orchestrator: resumed after a kill (or a lost lease).
    const drivers = new Map<string, number>();
    for (const field of Object.keys(ledger)) {
      if (field.startsWith('by|')) {
        const id = field.split('|')[1]!;
        drivers.set(id, (drivers.get(id) ?? 0) + 1);
      }
    }
    const resumed = [...drivers.values()].filter((d) => d > 1).length;
    const examples: string[] = [];
    const note = (s: string) => void (examples.length < 5 && examples.push(s));
    for (const n of ids) {
      const plan = planOf(n);
      const id = sagaIdOf(n);
      const status = await statusOf(n);
      if (!status || !TERMINAL.has(status)) {
        stuck++;
        note(`${id} stuck in ${status ?? 'no record'}`);
        continue;
      }
      outcome[status as keyof typeof outcome]++;
      const expected = expectedStatus(plan);
      // A compensate-recovery saga a kill hit: the sweeper compensated it — every landed effect must be undone.
      const byRecovery = plan.recovery === 'compensate' && status === 'compensated';
      if (byRecovery) recoveredByCompensation++;
      if (status !== expected && !byRecovery) {
        wrongEnd++;
        note(`${id} ended ${status}, expected ${expected}`);
      }
      for (const step of STEPS) {
        const runs = count(`run|${id}:${step}`);
        const comps = count(`comp|${id}:${step}`);
        const unit = UNIT_OF[step];
        duplicatedSteps += Math.max(0, runs - 1);
        duplicatedCompensations += Math.max(0, comps - 1);
        if (comps > 0 && runs === 0 && byRecovery) {
          undoneNothing++; // the step the kill interrupted, in doubt: its compensation found nothing to undo
        } else if (comps > 0 && runs === 0) {
          compensationWithoutStep++;
          note(`${id}: ${step} compensated but never completed`);
        }
        // Every unit before the failing one took effect (the failing step never does; its in-doubt sibling does).
        if (((plan.failAt === 0 && !byRecovery) || unit < plan.failAt) && runs === 0) {
          stepsMissing++;
          note(`${id}: ${step} never took effect`);
        }
        if (plan.failAt > 0 && step === FAILING_STEP[plan.failAt] && runs > 0) {
          wrongEnd++;
          note(`${id}: ${step} was to fail but took effect`);
        }
        // Every effect that landed in a failed saga is undone — the in-doubt p2 included — but s1's when its
        // compensation fails by design.
        const inDoubt = plan.failAt === 3 && step === 'p2';
        if (inDoubt && runs > 0) {
          if (comps > 0) inDoubtCompensated++;
          else inDoubtLeft++;
        }
        if ((plan.failAt > 0 || byRecovery) && runs > 0 && comps === 0 && !(step === 's1' && plan.badCompensation)) {
          notUndone++;
          note(`${id}: ${step} took effect${inDoubt ? ' (in doubt)' : ''} and was not compensated`);
        }
      }
      const inDlq = dlqBySaga.get(id) ?? 0;
      if (status === 'compensation_failed') {
        if (inDlq === 0) {
          dlqMissing++;
          note(`${id}: compensation_failed without a dead letter`);
        }
        if (count(`alert|${id}`) === 0) {
          alertMissing++;
          note(`${id}: compensation_failed without an alert`);
        }
      } else if (inDlq > 0) dlqUnexpected++;
    }
    checks.check(
      settled && stuck === 0,
      `${stuck} sagas stuck after the ${counts.recoveryWindowMs} ms recovery window`,
    );
    checks.check(wrongEnd === 0, `${wrongEnd} sagas ended in the wrong state`);
    checks.check(stepsMissing === 0, `${stepsMissing} steps of finished sagas never took effect`);
    checks.check(
      notUndone === 0,
      `${notUndone} effects of failed sagas were not compensated (${inDoubtLeft} in doubt)`,
    );
    checks.check(inDoubtCompensated > 0, 'no in-doubt step was compensated: the in-doubt path was not exercised');
    checks.check(
      tally.kills === 0 || recoveredByCompensation > 0,
      'no compensate-recovery saga was compensated by a sweeper: recovery by compensation was not exercised',
    );

    // Events: the state scripts XADD them to the bus's streams, so each saga has its started event, one
    // step.completed per recorded step and the terminal event of its status — exactly once, kills or not.
    const bus = createEventBus({ redis, prefix, source: 'chaos-reader', events: chaosEvents });
    const keys = (bus.transport as RedisTransport).keys;
    const events = new Map<string, number>();
    for (const type of Object.keys(chaosEvents)) {
      for (const [, f] of await redis.xrange(keys.stream(type), '-', '+')) {
        const data = JSON.parse(f[f.indexOf('data') + 1] ?? '{}') as { sagaId?: string; step?: string };
        const k = `${type}|${data.sagaId}${data.step ? `|${data.step}` : ''}`;
        events.set(k, (events.get(k) ?? 0) + 1);
      }
    }
    await bus.close();
    const terminalEvent = {
      completed: 'saga.completed',
      compensated: 'saga.compensated',
      compensation_failed: 'saga.failed',
    } as const;
    let eventsLost = 0;
    let eventsDuplicated = 0;
    for (const n of ids) {
      const id = sagaIdOf(n);
      const r = await reader.get(id);
      if (!r || !TERMINAL.has(r.status)) continue;
      const expected = [
        'saga.started',
        ...r.executedSteps.map((step) => `step.completed|${step}`),
        terminalEvent[r.status as keyof typeof terminalEvent],
      ].map((e) => (e.includes('|') ? `${e.split('|')[0]}|${id}|${e.split('|')[1]}` : `${e}|${id}`));
      for (const k of expected) {
        const got = events.get(k) ?? 0;
        if (got === 0) {
          eventsLost++;
          note(`${id}: event ${k} lost`);
        }
        eventsDuplicated += Math.max(0, got - 1);
      }
    }
    checks.check(eventsLost === 0, `${eventsLost} saga events lost`);
    checks.check(eventsDuplicated === 0, `${eventsDuplicated} saga events written twice`);
    checks.check(
      compensationWithoutStep === 0,
      `${compensationWithoutStep} compensations ran for steps that never completed`,
    );
    checks.check(dlqMissing === 0, `${dlqMissing} compensation_failed sagas have no dead letter`);
    checks.check(alertMissing === 0, `${alertMissing} compensation_failed sagas raised no alert`);
    checks.check(dlqUnexpected === 0, `${dlqUnexpected} sagas not compensation_failed have dead letters`);
    checks.check(tally.kills > 0, 'no orchestrator was killed: the scenario proved nothing');
    checks.check(resumed > 0, 'no saga was resumed by another orchestrator: recovery was not exercised');
    checks.check(tally.restartFailures === 0, `${tally.restartFailures} orchestrator restarts failed`);
    if (examples.length > 0) ctx.log(`saga: ${examples.join('; ')}`);
    return {
      scenario: 'saga',
      mode: ctx.mode,
      produced: counts.sagas,
      processed: counts.sagas - stuck,
      lost: stuck,
      duplicated: duplicatedSteps,
      durationMs: Date.now() - started,
      details: {
        kills: tally.kills,
        orchestrators: counts.orchestrators,
        completed: outcome.completed,
        compensated: outcome.compensated,
        dlq: outcome.compensation_failed,
        alerts: ids.filter((n) => count(`alert|${sagaIdOf(n)}`) > 0).length,
        stuck,
        wrongEnd,
        compensationWithoutStep,
        duplicatedCompensations,
        inDoubtCompensated,
        recoveredByCompensation,
        undoneNothing,
        inDoubtLeft,
        notUndone,
        eventsLost,
        eventsDuplicated,
        resumed,
        resubmitted,
        recoveryMs,
        ...(examples.length > 0 ? { examples: examples.join('; ') } : {}),
      },
      failures: checks.failures,
    };
  } finally {
    await stopAll(workers, 2_000);
    await reader.close();
    await deleteByPrefix(redis, prefix);
    redis.disconnect();
  }
}

export const scenario: Scenario = {
  name: 'saga',
  description:
    'saga on Redis: orchestrators SIGKILLed at random steps and restarted → every saga completed, compensated or in the DLQ with an alert; 0 stuck',
  run: (ctx) => {
    const counts = sagaCounts[ctx.mode];
    return runSaga(ctx, { ...counts, sagas: Math.max(20, Math.round(counts.sagas * (ctx.scale ?? 1))) });
  },
};
