/** Where sagas run: one orchestrator per owning service on a shared store, and the feed the dashboard reads. */
import {
  createOrchestrator,
  MemorySagaStore,
  RedisSagaStore,
  SagaNotFoundError,
  type SagaOrchestrator,
  type SagaStore,
  UnknownSagaError,
} from '@ballast/saga';
import type { Ctx } from './context';

export interface SagaFeedItem {
  sagaId: string;
  saga: string;
  service: string;
  startedAt: number;
  orchestrator: SagaOrchestrator;
}

export class SagaFeed {
  readonly items: SagaFeedItem[] = [];
  readonly store: SagaStore;
  readonly orchestrators: SagaOrchestrator[] = [];
  /** Which orchestrator runs each saga name (it has the definition a retry or a resume needs). */
  readonly #owners = new Map<string, SagaOrchestrator>();

  constructor(ctx: Ctx) {
    this.store = ctx.infra.redis
      ? new RedisSagaStore({ redis: ctx.infra.redis, prefix: ctx.infra.prefix, retentionMs: 3_600_000 })
      : new MemorySagaStore();
  }

  /** An orchestrator for `service`; compensation failures are reported to `onCompensationFailed`. */
  orchestrator(
    ctx: Ctx,
    service: string,
    onCompensationFailed: (e: { sagaId: string; saga: string; step: string; error: { message: string } }) => unknown,
  ): SagaOrchestrator {
    let self: SagaOrchestrator | undefined;
    const orchestrator = createOrchestrator({
      store: this.store,
      // Saga events (saga.started, step.completed, …) feed the dashboard and the activity log.
      bus: {
        publish: (type: string, payload: { sagaId: string; saga: string; step?: string; failedStep?: string }) => {
          if (type === 'saga.started') {
            this.#owners.set(payload.saga, self!);
            this.items.push({
              sagaId: payload.sagaId,
              saga: payload.saga,
              service,
              startedAt: Date.now(),
              orchestrator: self!,
            });
            if (this.items.length > 50) this.items.shift();
          }
          const detail = payload.step ?? payload.failedStep;
          ctx.activity.add(service, type, `${payload.saga} ${type}${detail ? ` (${detail})` : ''}`, { ...payload });
        },
      },
      stepMaxAttempts: 2,
      stepBackoff: { initialMs: 100, factor: 2, maxMs: 1_000, jitter: 'none' },
      stepTimeoutMs: 5_000,
      compensationMaxRetries: 2,
      compensationBackoff: { initialMs: 100, factor: 2, maxMs: 400, jitter: 'none' },
      compensationTimeoutMs: 5_000,
      sweepIntervalMs: 0,
      onCompensationFailed,
      logger: ctx.log,
    });
    self = orchestrator;
    this.orchestrators.push(orchestrator);
    return orchestrator;
  }

  async recent(n = 8) {
    const items = this.items.slice(-n).reverse();
    return Promise.all(
      items.map(async (i) => {
        const state = await i.orchestrator.get(i.sagaId).catch(() => undefined);
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
   * The sagas of every orchestrator here as one, for the dashboard: reads go to the shared store; a retry or a
   * cancel goes to the orchestrator that owns the saga's name (its definition compensates).
   */
  operations(): Pick<SagaOrchestrator, 'list' | 'get' | 'deadLetters' | 'retryDeadLetter' | 'cancel'> {
    const any = () => this.orchestrators[0];
    const owner = (saga: string) => {
      const o = this.#owners.get(saga);
      if (!o) throw new UnknownSagaError(saga);
      return o;
    };
    return {
      list: async (query = {}) => {
        if (query.name !== undefined) return owner(query.name).list(query);
        const pages = await Promise.all(this.orchestrators.map((o) => o.list(query)));
        return { sagas: pages.flatMap((p) => p.sagas) };
      },
      get: async (sagaId) => any()?.get(sagaId),
      deadLetters: async (options) => this.store.listDeadLetters(options),
      retryDeadLetter: async (entryId) => {
        const entry = (await this.store.listDeadLetters(1_000)).find((d) => d.id === entryId);
        if (!entry) throw new SagaNotFoundError(entryId);
        return owner(entry.saga).retryDeadLetter(entryId);
      },
      cancel: async (sagaId, reason) => {
        const state = await any()?.get(sagaId);
        if (!state) return false;
        return owner(state.saga).cancel(sagaId, reason);
      },
    };
  }

  /** Saga names some orchestrator here runs. */
  names(): string[] {
    return [...this.#owners.keys()];
  }

  async close(): Promise<void> {
    await Promise.all(this.orchestrators.map((o) => o.close()));
  }
}
