import { createHash, randomUUID } from 'node:crypto';
import type { Policy } from '@ballast/circuit-breaker';
import {
  AbortedError,
  type Clock,
  childLogger,
  type Logger,
  type OutageLog,
  outageLog,
  parseOptions,
  sleep,
  systemClock,
} from '@ballast/core';
import { MemorySagaStore } from './backends/memory';
import { type SagaDefinition, type StepDefinition, stepsOf } from './definition';
import {
  type CompensationOutcome,
  IdempotencyConflictError,
  isSagaFailedError,
  SagaBusyError,
  SagaCancelledError,
  SagaExistsError,
  SagaNotFoundError,
  SagaReplayTimeoutError,
  type StoredError,
  toStoredError,
  UnknownDefinitionVersionError,
  UnknownSagaError,
} from './errors';
import {
  buildCompensationPolicy,
  buildStepPolicy,
  type ExecutionEnv,
  failedErrorOf,
  SagaExecution,
  sagaEvent,
  usesOutbox,
} from './execution';
import { assertJson, canonicalJson } from './json';
import {
  type OrchestratorOptions,
  orchestratorOptionsSchema,
  type ResolvedOrchestratorOptions,
  type RunOptions,
  runOptionsSchema,
} from './options';
import {
  type DeadLetter,
  type DeadLetterPage,
  type ListPage,
  type ListQuery,
  type OutboxQuery,
  type SagaRecord,
  type SagaStore,
  TERMINAL_STATUSES,
} from './store';
import { sagaInstruments } from './telemetry';

export type { CompensationFailedEvent } from './execution';

/** A saga's state as `get` reports it (context parsed). */
export interface SagaState<C = unknown> extends Omit<SagaRecord, 'context' | 'error' | 'compensations'> {
  context: C;
  error?: StoredError;
  compensations?: CompensationOutcome[];
}

// biome-ignore lint/suspicious/noExplicitAny: definitions of any context type share one registry
type AnySaga = SagaDefinition<any>;

/**
 * Runs sagas: state in a store (Redis or memory), every write fenced by version and lease owner, step retry
 * and timeout from circuit-breaker's policies, reverse compensation with retries then DLQ, and a recovery
 * sweeper that resumes sagas whose orchestrator died.
 */
export class SagaOrchestrator {
  /** This orchestrator's lease-owner id. */
  readonly id: string;
  readonly store: SagaStore;
  readonly #o: ResolvedOrchestratorOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #env: ExecutionEnv;
  /** name → version → definition: several versions side by side, for sagas started on each. */
  readonly #sagas = new Map<string, Map<number, AnySaga>>();
  readonly #policies = new WeakMap<StepDefinition<unknown>, Policy | undefined>();
  readonly #running = new Map<string, { exec: SagaExecution<unknown>; done: Promise<unknown> }>();
  /** Sagas being dead-lettered for an unknown definition version (so `settled` waits for them). */
  readonly #parking = new Map<string, Promise<unknown>>();
  #sweepTimer: ReturnType<Clock['setInterval']> | undefined;
  #sweeping = false;
  #closed = false;
  readonly #sweepLog: OutageLog;
  readonly #relayLog: OutageLog;
  /**
   * What to relay to the bus: `own:<sagaId>` (this orchestrator's events in that saga's partition), `stale`
   * (anyone's, older than a lease: their writer died or its bus failed), `all` (everything, `relayEvents`).
   */
  readonly #relayQueue = new Set<string>();
  #relaying: Promise<void> | undefined;

  constructor(options: OrchestratorOptions = {}) {
    this.#o = parseOptions(orchestratorOptionsSchema, options, 'createOrchestrator');
    this.#clock = this.#o.clock ?? systemClock;
    this.#log = childLogger(this.#o.logger, { component: 'saga' });
    this.#sweepLog = outageLog(this.#log);
    this.#relayLog = outageLog(this.#log);
    this.id = this.#o.id ?? randomUUID();
    this.store = this.#o.store ?? new MemorySagaStore({ clock: this.#clock });
    for (const s of this.#o.sagas as AnySaga[]) this.register(s);
    this.#env = {
      store: this.store,
      bus: this.#o.bus,
      clock: this.#clock,
      log: this.#log,
      options: this.#o,
      instruments: sagaInstruments(),
      policyFor: (step) => {
        if (!this.#policies.has(step)) this.#policies.set(step, buildStepPolicy(step, this.#o, this.#clock));
        return this.#policies.get(step);
      },
      compensationPolicy: buildCompensationPolicy(this.#o, this.#clock),
      relay: (sagaId) => this.#kickRelay(`own:${sagaId}`),
    };
    if (this.#o.sweepIntervalMs > 0) {
      this.#sweepTimer = this.#clock.setInterval(() => void this.sweep(), this.#o.sweepIntervalMs);
      this.#sweepTimer.unref();
    }
  }

  /** Makes a saga resumable by this orchestrator's sweeper (`run` registers its saga too). */
  register(saga: AnySaga): this {
    if (saga?.kind !== 'saga') throw new UnknownSagaError(String((saga as { name?: unknown })?.name));
    let versions = this.#sagas.get(saga.name);
    if (!versions) {
      versions = new Map();
      this.#sagas.set(saga.name, versions);
    }
    versions.set(saga.version ?? 1, saga);
    return this;
  }

  /**
   * Runs `saga` on `input`: resolves with the final context, or rejects with `SagaFailedError` (which step
   * failed, what each compensation did). Bad input (not JSON, bad options) is a typed error before any write.
   */
  async run<C>(saga: SagaDefinition<C>, input: C, options: RunOptions = {}): Promise<C> {
    if (saga?.kind !== 'saga') throw new UnknownSagaError(String((saga as { name?: unknown })?.name));
    if (this.#closed) throw new AbortedError('orchestrator closed');
    const o = parseOptions(runOptionsSchema, options, 'orchestrator.run');
    assertJson(saga.name, input);
    this.register(saga);
    const sagaId =
      o.sagaId ??
      (o.idempotencyKey !== undefined
        ? `${saga.name}:${createHash('sha1').update(o.idempotencyKey).digest('hex').slice(0, 24)}`
        : randomUUID());
    const context = JSON.parse(JSON.stringify(input ?? {})) as C;
    const fingerprint = createHash('sha256').update(canonicalJson(context)).digest('hex');
    const started = sagaEvent('saga.started', { sagaId, saga: saga.name });
    const outbox = usesOutbox(this.#env);
    const created = await this.store.create(
      {
        id: sagaId,
        saga: saga.name,
        definitionVersion: saga.version ?? 1,
        owner: this.id,
        context: JSON.stringify(context),
        ...(o.idempotencyKey !== undefined ? { idempotencyKey: o.idempotencyKey, inputFingerprint: fingerprint } : {}),
      },
      this.#o.leaseMs,
      outbox ? [started] : undefined,
    );
    if (!created.created) {
      if (o.idempotencyKey !== undefined && created.record.idempotencyKey === o.idempotencyKey) {
        const stored = created.record.inputFingerprint;
        if (stored !== undefined && stored !== fingerprint)
          throw new IdempotencyConflictError(o.idempotencyKey, sagaId);
        return this.#outcome<C>(created.record);
      }
      throw new SagaExistsError(sagaId);
    }
    const exec = new SagaExecution<C>(
      this.#env,
      saga,
      sagaId,
      { owner: this.id, version: created.version },
      { context },
    );
    if (!outbox) await exec.publish('saga.started', { sagaId, saga: saga.name });
    else if (!this.store.publishesEvents) this.#kickRelay(`own:${sagaId}`);
    const cancel = (reason: string) => {
      if (!exec.cancel.signal.aborted) exec.cancel.abort(new SagaCancelledError(sagaId, reason));
    };
    const onSignal = () => cancel(`signal aborted (${String(o.signal?.reason)})`);
    if (o.signal?.aborted) onSignal();
    o.signal?.addEventListener('abort', onSignal, { once: true });
    const deadline =
      o.deadlineMs !== undefined
        ? this.#clock.setTimeout(() => cancel(`deadline of ${o.deadlineMs} ms passed`), o.deadlineMs)
        : undefined;
    return this.#track(exec, () => exec.run()).finally(() => {
      o.signal?.removeEventListener('abort', onSignal);
      if (deadline) this.#clock.clearTimeout(deadline);
    });
  }

  #track<C>(exec: SagaExecution<C>, fn: () => Promise<C>): Promise<C> {
    exec.startRenewal();
    const done = fn().finally(() => {
      exec.stop('finished');
      this.#running.delete(exec.id);
    });
    this.#running.set(exec.id, { exec: exec as SagaExecution<unknown>, done });
    return done;
  }

  /** The first run's outcome: its result, or its `SagaFailedError` — waiting for it if it is still running. */
  async #outcome<C>(record: SagaRecord): Promise<C> {
    let r: SagaRecord | undefined = record;
    const started = this.#clock.monotonic();
    while (r && !TERMINAL_STATUSES.has(r.status)) {
      const waited = this.#clock.monotonic() - started;
      if (waited >= this.#o.replayWaitMs) throw new SagaReplayTimeoutError(record.id, this.#o.replayWaitMs);
      const local = this.#running.get(r.id);
      if (local) await local.done.catch(() => {});
      else await sleep(this.#clock, Math.min(this.#o.idempotencyPollMs, this.#o.replayWaitMs - waited));
      r = await this.store.get(record.id);
    }
    if (!r) throw new SagaNotFoundError(record.id);
    if (r.status === 'completed') return JSON.parse(r.context) as C;
    throw failedErrorOf(r);
  }

  /** A saga's stored state, or undefined. */
  async get<C = unknown>(sagaId: string): Promise<SagaState<C> | undefined> {
    const r = await this.store.get(sagaId);
    if (!r) return undefined;
    const { context, error, compensations, ...rest } = r;
    return {
      ...rest,
      context: JSON.parse(context) as C,
      ...(error ? { error: JSON.parse(error) as StoredError } : {}),
      ...(compensations ? { compensations: JSON.parse(compensations) as CompensationOutcome[] } : {}),
    };
  }

  /** Resolves when a saga this orchestrator runs (or resumed) settles; at once when it runs none such. */
  async settled(sagaId: string): Promise<SagaState | undefined> {
    await this.#running.get(sagaId)?.done.catch(() => {});
    await this.#parking.get(sagaId)?.catch(() => {});
    return this.get(sagaId);
  }

  /**
   * Cancels a saga, from any process: its running step is aborted (in doubt) and every completed step
   * compensated; its `run` rejects with `SagaFailedError` whose error is `SagaCancelledError`. Here at once;
   * elsewhere its owner sees the store flag at its next lease renewal (`leaseMs / 3`), and a sweeper resuming
   * it compensates. Resolves false when the saga is missing or already finished.
   */
  async cancel(sagaId: string, reason = 'cancelled'): Promise<boolean> {
    const flagged = await this.store.requestCancel(sagaId, reason);
    const local = this.#running.get(sagaId);
    if (local && !local.exec.cancel.signal.aborted) {
      local.exec.cancel.abort(new SagaCancelledError(sagaId, reason));
      return true;
    }
    return flagged;
  }

  /**
   * In-flight sagas (`running` / `compensating`) by name (default: every name registered here), e.g.
   * `list({ status: 'compensating', olderThanMs: 600_000 })` finds stuck compensations. Pages with `cursor`.
   */
  async list(query: Partial<Omit<ListQuery, 'names'>> & { name?: string } = {}): Promise<ListPage> {
    const { name, ...rest } = query;
    return this.store.list({ ...rest, names: name !== undefined ? [name] : [...this.#sagas.keys()] });
  }

  /** Ids of the sagas this orchestrator is driving now. */
  running(): string[] {
    return [...this.#running.keys()];
  }

  /**
   * One recovery pass: claims (atomically, so two sweepers never share one) sagas of registered names whose
   * lease expired, and resumes each in the background — forward or compensating per the saga's `recovery`.
   * Returns the claimed ids; `settled(id)` waits for each. Never throws (failures are logged).
   */
  async sweep(): Promise<string[]> {
    if (this.#closed || this.#sweeping) return [];
    this.#sweeping = true;
    try {
      const claimed = await this.store.claimExpired({
        owner: this.id,
        leaseMs: this.#o.leaseMs,
        sagas: [...this.#sagas.keys()],
        limit: this.#o.sweepBatch,
      });
      for (const r of claimed) {
        this.#log.info({ sagaId: r.id, saga: r.saga, status: r.status }, 'resuming abandoned saga');
        this.#resume(r).catch(() => {});
      }
      // Events a dead (or failing-bus) orchestrator wrote with its transitions, a lease ago or more, go out now.
      this.#kickRelay('stale');
      this.#sweepLog.succeeded('saga recovery sweep works again');
      return claimed.map((r) => r.id);
    } catch (error) {
      // The store down: one warning per outage, not one error per sweep.
      this.#sweepLog.failed(error, 'saga recovery sweep failed');
      return [];
    } finally {
      this.#sweeping = false;
    }
  }

  /**
   * Relays every event waiting in the store's outbox — any orchestrator's — to the bus. Events are written there
   * with the state transitions; each orchestrator relays its own right after each write, and every sweep relays
   * those older than a lease (a crashed orchestrator's, or ones a failing bus refused). At least once: an event
   * published just before a crash is published again. Resolves when the outbox is drained or the bus fails
   * (the rest stays; logged once per outage).
   */
  relayEvents(): Promise<void> {
    this.#kickRelay('all');
    return this.#relaying ?? Promise.resolve();
  }

  #kickRelay(what: string): void {
    const bus = this.#o.bus;
    if (!bus || !this.store.readOutbox || this.store.publishesEvents || this.#closed) return;
    this.#relayQueue.add(what);
    this.#relaying ??= this.#drainRelay();
  }

  async #drainRelay(): Promise<void> {
    while (this.#relayQueue.size > 0 && !this.#closed) {
      // 'all' covers everything queued; then 'stale', then one saga's partition at a time.
      const what = this.#relayQueue.has('all')
        ? 'all'
        : this.#relayQueue.has('stale')
          ? 'stale'
          : (this.#relayQueue.values().next().value as string);
      if (what === 'all') this.#relayQueue.clear();
      else this.#relayQueue.delete(what);
      const query =
        what === 'all'
          ? {}
          : what === 'stale'
            ? { minAgeMs: this.#o.leaseMs }
            : { of: what.slice('own:'.length), by: this.id };
      try {
        await this.#relayOutbox(query);
        this.#relayLog.succeeded('saga event relay works again');
      } catch (error) {
        this.#relayLog.failed(error, 'saga event relay failed: the events stay in the outbox');
      }
    }
    this.#relaying = undefined;
  }

  async #relayOutbox(query: Omit<OutboxQuery, 'limit'>): Promise<void> {
    const bus = this.#o.bus!;
    const store = this.store;
    const batch = 100;
    for (;;) {
      const entries = await store.readOutbox!({ ...query, limit: batch });
      const done: string[] = [];
      try {
        for (const e of entries) {
          try {
            await this.#bounded(() => bus.publish(e.type, JSON.parse(e.payload)), e.type);
          } catch (error) {
            // A bus that will never take this event (not in its schemas, invalid, too large) must not hold up
            // every later one: it is logged with its content and dropped. Anything else stops this relay.
            if (!isPoisonEvent(error)) throw error;
            this.#log.error({ err: error, type: e.type, payload: e.payload }, 'saga event refused by the bus: dropped');
          }
          done.push(e.id);
        }
      } finally {
        if (done.length > 0) await store.ackOutbox!(done);
      }
      if (entries.length < batch) return;
    }
  }

  /** A publish that never settles must not stall the relay: past a lease it fails (the event stays). */
  #bounded(fn: () => unknown, type: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = this.#clock.setTimeout(
        () => reject(new Error(`saga event relay: publishing ${type} took over ${this.#o.leaseMs} ms`)),
        this.#o.leaseMs,
      );
      Promise.resolve()
        .then(fn)
        .then(resolve, reject)
        .finally(() => this.#clock.clearTimeout(timer));
    });
  }

  /** Resumes a claimed saga; the returned promise settles like `run`'s. */
  #resume(r: SagaRecord): Promise<unknown> {
    const def = this.#sagas.get(r.saga)?.get(r.definitionVersion);
    if (!def) {
      const parked = this.#deadLetterUnknownVersion(r).finally(() => this.#parking.delete(r.id));
      this.#parking.set(r.id, parked);
      return parked;
    }
    const exec = new SagaExecution<unknown>(
      this.#env,
      def,
      r.id,
      { owner: this.id, version: r.version },
      {
        context: JSON.parse(r.context),
        executed: r.executedSteps,
        compensated: r.compensatedSteps,
        inDoubt: r.inDoubtSteps,
        unit: r.currentStep,
      },
    );
    const previous = r.compensations ? (JSON.parse(r.compensations) as CompensationOutcome[]) : [];
    const stored = r.error ? (JSON.parse(r.error) as StoredError) : undefined;
    const done = this.#track(exec, () => {
      const unit = def.units[r.currentStep];
      // The previous owner died while running this unit: whatever of it is not recorded done is in doubt.
      const interrupted = () => {
        for (const s of unit ? stepsOf(unit) : []) {
          if (!exec.executed.includes(s.name) && !exec.inDoubt.includes(s.name)) exec.inDoubt.push(s.name);
        }
      };
      if (r.status === 'compensating' || r.status === 'compensation_failed') {
        if (r.failedStep !== undefined)
          return exec.compensate({ step: r.failedStep, error: stored ?? abandoned() }, previous);
        // Dead-lettered before it ever compensated (unknown definition version): undo it as abandoned mid-unit.
        interrupted();
        return exec.compensate({ step: unit?.name ?? '', error: abandoned() });
      }
      if (r.cancelReason !== undefined) {
        interrupted();
        const error = toStoredError(new SagaCancelledError(r.id, r.cancelReason));
        return exec.compensate({ step: unit?.name ?? '', error });
      }
      if (def.recovery === 'compensate') {
        interrupted();
        return exec.compensate({ step: unit?.name ?? '', error: abandoned() });
      }
      return exec.run();
    });
    done.catch((error: unknown) => this.#log.debug({ err: error, sagaId: r.id }, 'resumed saga settled with error'));
    return done;
  }

  /**
   * A claimed saga whose definition version is not registered here: running another version's steps could
   * skip or misplace compensations, so it is dead-lettered (reason `unknown_definition_version`, alerted) and
   * ends `compensation_failed`, to be retried (`retryDeadLetter`) once that version is registered.
   */
  async #deadLetterUnknownVersion(r: SagaRecord): Promise<never> {
    const error = new UnknownDefinitionVersionError(r.saga, r.definitionVersion, r.id);
    const stored = toStoredError(error);
    const deadLetterId = await this.store.addDeadLetter({
      sagaId: r.id,
      saga: r.saga,
      step: '',
      error: JSON.stringify(stored),
      context: r.context,
      at: this.#clock.now(),
      reason: 'unknown_definition_version',
    });
    this.#log.fatal(
      { sagaId: r.id, saga: r.saga, definitionVersion: r.definitionVersion, deadLetterId, severity: 'CRITICAL' },
      error.message,
    );
    await this.store.complete(
      r.id,
      { owner: this.id, version: r.version },
      { status: 'compensation_failed', ...(r.error ? {} : { error: JSON.stringify(stored) }) },
    );
    throw error;
  }

  /**
   * Entries of the `saga.compensation.failed` dead-letter stream, oldest first: `{ count, after }` pages on
   * from the last entry's id (a number is `{ count }`; default 100).
   */
  deadLetters(options?: number | DeadLetterPage): Promise<DeadLetter[]> {
    return this.store.listDeadLetters(options);
  }

  /**
   * Retries the compensations of a dead-lettered saga (every one not yet done). One store script restarts the
   * saga's compensation (status `compensating`, leased to this orchestrator, in the recovery index) and removes
   * its dead letters: if the store fails before, the entry stays; after, a sweeper finishes the saga should
   * this orchestrator fail. On success the saga ends `compensated`; if a compensation fails again, new entries
   * are written and this rejects with the `SagaFailedError` (status `compensation_failed`). A missing entry is
   * `SagaNotFoundError`; a saga another orchestrator is compensating now, `SagaBusyError`.
   */
  async retryDeadLetter(entryId: string): Promise<SagaState | undefined> {
    const r = await this.store.reopenDeadLetter(entryId, this.id, this.#o.leaseMs);
    if (!r.ok) {
      if (r.reason === 'busy') throw new SagaBusyError(entryId);
      throw new SagaNotFoundError(entryId);
    }
    try {
      await this.#resume(r.record);
    } catch (error) {
      if (!(isSagaFailedError(error) && error.status === 'compensated')) throw error;
    }
    return this.get(r.record.id);
  }

  /**
   * Stops the sweeper and stops driving running sagas without writing anything more: their leases expire
   * and another orchestrator's sweeper resumes them.
   */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#sweepTimer) this.#clock.clearInterval(this.#sweepTimer);
    for (const { exec, done } of this.#running.values()) {
      exec.halt(new AbortedError('orchestrator closed: saga left to the recovery sweeper'));
      await done.catch(() => {});
    }
  }
}

/** The bus's errors for an event it will never accept (`@ballast/event-bus` codes), and unparseable JSON. */
const POISON_CODES = new Set(['EVENT_INVALID', 'UNKNOWN_EVENT_TYPE', 'PAYLOAD_TOO_LARGE']);
function isPoisonEvent(error: unknown): boolean {
  if (error instanceof SyntaxError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && POISON_CODES.has(code);
}

function abandoned(): StoredError {
  return { name: 'SagaAbandoned', message: 'orchestrator lease expired; compensating per the saga recovery policy' };
}

export function createOrchestrator(options: OrchestratorOptions = {}): SagaOrchestrator {
  return new SagaOrchestrator(options);
}
