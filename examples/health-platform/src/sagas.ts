/**
 * Where sagas run: one orchestrator per owning service instance on a shared store, and the feed the dashboard
 * reads. Every orchestrator knows its sagas up front (`sagas`) and sweeps every second: when the process running a
 * saga dies, its lease (2 s) lapses and another instance's sweeper resumes the saga where it stopped.
 */
import {
  createOrchestrator,
  MemorySagaStore,
  RedisSagaStore,
  SagaBusyError,
  type SagaDefinition,
  SagaNotFoundError,
  type SagaOrchestrator,
  type SagaStore,
} from '@ballast/saga';
import type { Ctx } from './context';

export interface SagaFeedItem {
  sagaId: string;
  saga: string;
  service: string;
  startedAt: number;
}

/** The demo's saga lease and sweep period: short, so the story sees a recovery within seconds (defaults 30 s / 10 s). */
export const SAGA_LEASE_MS = 2_000;
export const SAGA_SWEEP_MS = 1_000;
/** Every saga the platform runs (the dashboard lists in-flight ones by name from any process). */
export const SAGA_NAMES = ['health-data-upload', 'health-consultation'];

export class SagaFeed {
  readonly items: SagaFeedItem[] = [];
  readonly store: SagaStore;
  readonly orchestrators: SagaOrchestrator[] = [];
  /** Which orchestrator of this process runs each saga name (it has the definition a retry needs). */
  readonly #owners = new Map<string, SagaOrchestrator>();
  /** Reads sagas of any service (it runs none: no definitions, no sweeper). */
  readonly reader: SagaOrchestrator;
  readonly #off: () => void;

  constructor(ctx: Ctx) {
    this.store = ctx.infra.redis
      ? new RedisSagaStore({ redis: ctx.infra.redis, prefix: ctx.infra.prefix, retentionMs: 3_600_000 })
      : new MemorySagaStore();
    this.reader = createOrchestrator({ store: this.store, sweepIntervalMs: 0, logger: ctx.log });
    // Every saga.started of the platform (this process's, or relayed from another) lists the saga.
    this.#off = ctx.activity.onAdded((a) => {
      if (a.kind !== 'saga.started' || typeof a.data?.sagaId !== 'string') return;
      this.items.push({ sagaId: a.data.sagaId, saga: String(a.data.saga), service: a.service, startedAt: a.at });
      if (this.items.length > 50) this.items.shift();
    });
  }

  /**
   * An orchestrator for one instance of `service` (its lease owner id names the instance and the pid);
   * compensation failures are reported to `onCompensationFailed`.
   */
  orchestrator(
    ctx: Ctx,
    service: string,
    // biome-ignore lint/suspicious/noExplicitAny: definitions of any context type
    sagas: SagaDefinition<any>[],
    onCompensationFailed: (e: { sagaId: string; saga: string; step: string; error: { message: string } }) => unknown,
    instance = `${service}-1`,
  ): SagaOrchestrator {
    const owner = `${instance}@${process.pid}`;
    const orchestrator = createOrchestrator({
      id: owner,
      store: this.store,
      sagas,
      // Saga events (saga.started, step.completed, …) feed the dashboard, the story and its timelines.
      bus: {
        publish: (type: string, payload: { sagaId: string; saga: string; step?: string; failedStep?: string }) => {
          const detail = payload.step ?? payload.failedStep;
          ctx.activity.add(service, type, `${payload.saga} ${type}${detail ? ` (${detail})` : ''}`, {
            ...payload,
            owner,
          });
        },
      },
      leaseMs: SAGA_LEASE_MS,
      sweepIntervalMs: SAGA_SWEEP_MS,
      stepMaxAttempts: 2,
      stepBackoff: { initialMs: 100, factor: 2, maxMs: 1_000, jitter: 'none' },
      stepTimeoutMs: 5_000,
      compensationMaxRetries: 2,
      compensationBackoff: { initialMs: 100, factor: 2, maxMs: 400, jitter: 'none' },
      compensationTimeoutMs: 5_000,
      onCompensationFailed,
      logger: ctx.log,
    });
    this.orchestrators.push(orchestrator);
    for (const saga of sagas) this.#owners.set(saga.name, orchestrator);
    return orchestrator;
  }

  get(sagaId: string) {
    return this.reader.get(sagaId);
  }

  async recent(n = 8) {
    const items = this.items.slice(-n).reverse();
    return Promise.all(
      items.map(async (i) => {
        const state = await this.reader.get(i.sagaId).catch(() => undefined);
        return {
          sagaId: i.sagaId,
          saga: i.saga,
          service: i.service,
          startedAt: i.startedAt,
          status: state?.status ?? 'unknown',
          executedSteps: state?.executedSteps ?? [],
          compensatedSteps: state?.compensatedSteps ?? [],
          failedStep: state?.failedStep,
        };
      }),
    );
  }

  async deadLetters() {
    return this.store.listDeadLetters(20);
  }

  /**
   * The platform's sagas as one, for the dashboard (in the gateway's process, which runs none): reads go to the
   * shared store; a retry of a dead letter goes to this process's orchestrator of that saga when there is one,
   * else the entry is reopened under a lease that lapses at once, and a sweeper of the owning service — which has
   * the definition — claims the saga within a second and compensates it; a cancel is a flag in the store its
   * owner sees at its next lease renewal.
   */
  operations(): Pick<SagaOrchestrator, 'list' | 'get' | 'deadLetters' | 'retryDeadLetter' | 'cancel'> {
    return {
      list: async (query = {}) => {
        const { name, ...rest } = query;
        return this.store.list({ ...rest, names: name !== undefined ? [name] : SAGA_NAMES });
      },
      get: (sagaId) => this.reader.get(sagaId),
      deadLetters: (options) => this.store.listDeadLetters(options),
      retryDeadLetter: async (entryId) => {
        const entry = (await this.store.listDeadLetters(1_000)).find((d) => d.id === entryId);
        if (!entry) throw new SagaNotFoundError(entryId);
        const owner = this.#owners.get(entry.saga);
        if (owner) return owner.retryDeadLetter(entryId);
        const r = await this.store.reopenDeadLetter(entryId, `dashboard@${process.pid}`, 1);
        if (!r.ok) throw r.reason === 'busy' ? new SagaBusyError(entryId) : new SagaNotFoundError(entryId);
        return this.reader.get(entry.sagaId);
      },
      cancel: (sagaId, reason) => this.reader.cancel(sagaId, reason),
    };
  }

  async close(): Promise<void> {
    this.#off();
    await Promise.all([...this.orchestrators, this.reader].map((o) => o.close()));
  }
}
