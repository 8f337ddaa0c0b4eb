/**
 * An orchestrator process of the saga scenario: pops saga numbers from a Redis list and runs them (a few at a
 * time) on @ballast/saga with the Redis store; its recovery sweeper resumes sagas whose orchestrator was
 * SIGKILLed. Every step's and compensation's effect is one HINCRBY in the ledger (keyed by the step's
 * idempotency key), and the `onCompensationFailed` hook records the alert there too. Saga events go to an
 * @ballast/event-bus on the same Redis, written by the saga's own state scripts.
 */
import { createLogger, createRedis, type Redis } from '@ballast/core';
import { createEventBus, publishEventLua } from '@ballast/event-bus';
import { createOrchestrator, defineSaga, parallel, RedisSagaStore } from '@ballast/saga';
import {
  CHAOS_SAGA,
  CHAOS_SAGA_COMPENSATE,
  type ChaosStep,
  chaosEvents,
  planOf,
  type SagaPlan,
  type SagaWorkerConfig,
  sagaIdOf,
} from '../shared/saga';
import { announceReady, runWorker, workerConfig } from '../worker-runtime';

const config = workerConfig<SagaWorkerConfig>();
const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const work = () => delay(config.stepMinMs + Math.random() * (config.stepMaxMs - config.stepMinMs));

runWorker(async (stop) => {
  const redis = createRedis(config.redisUrl) as Redis;
  const effect = (field: string) => redis.hincrby(config.ledgerKey, field, 1);
  // A step's effect and which orchestrator did it, in one MULTI (a kill cannot split them).
  const stepEffect = (field: string, sagaId: string) =>
    redis.multi().hincrby(config.ledgerKey, field, 1).hset(config.ledgerKey, `by|${sagaId}|${config.id}`, 1).exec();
  const step = (name: ChaosStep, unit: number) => ({
    name,
    run: async (c: SagaPlan, info: { idempotencyKey: string; signal: AbortSignal }) => {
      if (c.failAt === unit && name === 'p1') throw new Error(`p1 of saga ${c.n} fails at once by design`);
      await work();
      if (c.failAt === unit && name !== 'p2') throw new Error(`step ${name} of saga ${c.n} fails by design`);
      await stepEffect(`run|${info.idempotencyKey}`, sagaIdOf(c.n));
      // p2 ignores its signal: its effect lands after the abort, then it rejects — in doubt.
      if (info.signal.aborted) throw new Error(`${name} of saga ${c.n} was aborted (its effect landed)`);
    },
    compensate: async (c: SagaPlan, info: { idempotencyKey: string }) => {
      await work();
      if (name === 's1' && c.badCompensation) throw new Error(`compensation of s1 of saga ${c.n} fails by design`);
      await stepEffect(`comp|${info.idempotencyKey}`, sagaIdOf(c.n));
    },
  });
  const steps = () => [
    step('s1', 1),
    step('s2', 2),
    parallel([step('p1', 3), step('p2', 3)], { name: 'g' }),
    step('s4', 4),
  ];
  const saga = defineSaga<SagaPlan>(CHAOS_SAGA, { steps: steps(), recovery: 'forward' });
  const compensating = defineSaga<SagaPlan>(CHAOS_SAGA_COMPENSATE, { steps: steps(), recovery: 'compensate' });
  const bus = createEventBus({ redis, prefix: config.prefix, source: config.id, events: chaosEvents });
  const orchestrator = createOrchestrator({
    store: new RedisSagaStore({ redis, prefix: config.prefix, events: { bus, publishLua: publishEventLua } }),
    // Publishing takes a broker round trip (30 ms here): events published after the state write would be lost
    // to a kill in that window. Written by the state scripts (`events` above), they never wait for it.
    bus: {
      publish: (type: string, payload: unknown) => delay(30).then(() => bus.publish(type as never, payload as never)),
    },
    compensateInDoubt: config.compensateInDoubt,
    stepSettleGraceMs: 2_000,
    id: config.id,
    sagas: [saga, compensating],
    leaseMs: config.leaseMs,
    sweepIntervalMs: config.sweepIntervalMs,
    sweepBatch: 20,
    stepTimeoutMs: 10_000,
    stepMaxAttempts: 2,
    stepBackoff: { initialMs: 20, factor: 2, maxMs: 50, jitter: 'none' },
    compensationMaxRetries: 1,
    compensationBackoff: { initialMs: 20, factor: 2, maxMs: 50, jitter: 'none' },
    compensationTimeoutMs: 10_000,
    logger: createLogger({ level: 'silent' }),
    onCompensationFailed: (e) => effect(`alert|${e.sagaId}`),
  });

  const loop = async () => {
    for (let i = 0; i < 100_000 && !stop.aborted; i++) {
      const raw = await redis.lpop(config.queueKey);
      if (raw === null) {
        await delay(100);
        continue;
      }
      const n = Number(raw);
      const plan = planOf(n);
      await orchestrator
        .run(plan.recovery === 'compensate' ? compensating : saga, plan, { sagaId: sagaIdOf(n) })
        .catch(() => {});
    }
  };
  const loops = Array.from({ length: config.concurrency }, () => loop());
  announceReady();
  await new Promise<void>((resolve) => stop.addEventListener('abort', () => resolve(), { once: true }));
  await orchestrator.close();
  await bus.close().catch(() => {});
  await Promise.race([Promise.all(loops), delay(2_000)]);
  redis.disconnect();
}, config.lifetimeMs);
