import { type Clock, systemClock } from '@ballast/core';
import {
  type ClaimOptions,
  type CreateResult,
  type DeadLetter,
  type DeadLetterPage,
  type Fence,
  type FencedResult,
  type ListPage,
  type ListQuery,
  type NewSaga,
  type OutboxEntry,
  type OutboxQuery,
  type SagaEvent,
  type SagaPatch,
  type SagaRecord,
  type SagaStore,
  TERMINAL_STATUSES,
} from '../store';

export interface MemorySagaStoreOptions {
  /** Lease expiry is judged on this clock (give testkit's FakeClock to drive recovery in tests). */
  clock?: Clock;
  /** DLQ retention: entries kept, oldest dropped first (each was alerted when written). Default 100 000. */
  deadLetterMaxLen?: number;
}

const copy = (r: SagaRecord): SagaRecord => ({
  ...r,
  executedSteps: [...r.executedSteps],
  compensatedSteps: [...r.compensatedSteps],
  inDoubtSteps: [...r.inDoubtSteps],
});

/**
 * In-process store with the Redis store's contract: fenced writes, atomic claims (one event-loop turn each).
 * Several orchestrators may share one instance (as tests of recovery do); state dies with the process.
 */
export class MemorySagaStore implements SagaStore {
  readonly #clock: Clock;
  readonly #sagas = new Map<string, SagaRecord>();
  /** Events written with the state transitions, until relayed (insertion order). */
  readonly #outbox = new Map<string, OutboxEntry & { at: number }>();
  #outboxSeq = 0;
  readonly #dlq: DeadLetter[] = [];
  #dlqSeq = 0;
  readonly #dlqMaxLen: number;

  constructor(options: MemorySagaStoreOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#dlqMaxLen = options.deadLetterMaxLen ?? 100_000;
  }

  #emit(events: readonly SagaEvent[] | undefined, by: string): void {
    for (const e of events ?? []) {
      const id = String(++this.#outboxSeq);
      this.#outbox.set(id, { id, type: e.type, payload: JSON.stringify(e.payload), by, at: this.#clock.now() });
    }
  }

  async readOutbox(query: OutboxQuery): Promise<OutboxEntry[]> {
    const cutoff = this.#clock.now() - (query.minAgeMs ?? 0);
    return [...this.#outbox.values()]
      .filter((e) => (query.by === undefined || e.by === query.by) && e.at <= cutoff)
      .slice(0, query.limit)
      .map(({ at: _at, ...e }) => e);
  }

  async ackOutbox(ids: readonly string[]): Promise<void> {
    for (const id of ids) this.#outbox.delete(id);
  }

  async create(saga: NewSaga, leaseMs: number, events?: readonly SagaEvent[]): Promise<CreateResult> {
    const existing = this.#sagas.get(saga.id);
    if (existing) return { created: false, record: copy(existing) };
    this.#emit(events, saga.owner);
    const now = this.#clock.now();
    this.#sagas.set(saga.id, {
      id: saga.id,
      saga: saga.saga,
      definitionVersion: saga.definitionVersion ?? 1,
      status: 'running',
      currentStep: 0,
      executedSteps: [],
      compensatedSteps: [],
      inDoubtSteps: [],
      context: saga.context,
      version: 1,
      owner: saga.owner,
      leaseUntil: now + leaseMs,
      ...(saga.idempotencyKey !== undefined ? { idempotencyKey: saga.idempotencyKey } : {}),
      ...(saga.inputFingerprint !== undefined ? { inputFingerprint: saga.inputFingerprint } : {}),
      createdAt: now,
      updatedAt: now,
    });
    return { created: true, version: 1 };
  }

  #fenced(id: string, fence: Fence): SagaRecord | 'missing' | 'fenced' {
    const r = this.#sagas.get(id);
    if (!r) return 'missing';
    if (r.owner !== fence.owner || r.version !== fence.version) return 'fenced';
    return r;
  }

  #apply(r: SagaRecord, patch: SagaPatch): void {
    if (patch.status !== undefined) r.status = patch.status;
    if (patch.currentStep !== undefined) r.currentStep = patch.currentStep;
    if (patch.executedSteps !== undefined) r.executedSteps = [...patch.executedSteps];
    if (patch.compensatedSteps !== undefined) r.compensatedSteps = [...patch.compensatedSteps];
    if (patch.inDoubtSteps !== undefined) r.inDoubtSteps = [...patch.inDoubtSteps];
    if (patch.context !== undefined) r.context = patch.context;
    if (patch.failedStep !== undefined) r.failedStep = patch.failedStep;
    if (patch.error !== undefined) r.error = patch.error;
    if (patch.compensations !== undefined) r.compensations = patch.compensations;
    r.version++;
    r.updatedAt = this.#clock.now();
  }

  async advance(
    id: string,
    fence: Fence,
    patch: SagaPatch,
    leaseMs: number,
    events?: readonly SagaEvent[],
  ): Promise<FencedResult> {
    const r = this.#fenced(id, fence);
    if (typeof r === 'string') return { ok: false, reason: r };
    this.#apply(r, patch);
    this.#emit(events, fence.owner);
    r.leaseUntil = this.#clock.now() + leaseMs;
    return { ok: true, version: r.version };
  }

  async complete(id: string, fence: Fence, patch: SagaPatch, events?: readonly SagaEvent[]): Promise<FencedResult> {
    const r = this.#fenced(id, fence);
    if (typeof r === 'string') return { ok: false, reason: r };
    this.#apply(r, patch);
    this.#emit(events, fence.owner);
    r.owner = '';
    r.leaseUntil = 0;
    return { ok: true, version: r.version };
  }

  async renew(id: string, fence: Fence, leaseMs: number): Promise<boolean | { cancel: string }> {
    const r = this.#fenced(id, fence);
    if (typeof r === 'string') return false;
    r.leaseUntil = this.#clock.now() + leaseMs;
    return r.cancelReason !== undefined ? { cancel: r.cancelReason } : true;
  }

  async requestCancel(id: string, reason: string): Promise<boolean> {
    const r = this.#sagas.get(id);
    if (!r || (r.status !== 'running' && r.status !== 'compensating')) return false;
    r.cancelReason = reason;
    return true;
  }

  async get(id: string): Promise<SagaRecord | undefined> {
    const r = this.#sagas.get(id);
    return r ? copy(r) : undefined;
  }

  #claim(r: SagaRecord, owner: string, leaseMs: number): SagaRecord {
    r.owner = owner;
    r.version++;
    r.leaseUntil = this.#clock.now() + leaseMs;
    return copy(r);
  }

  async claimExpired(options: ClaimOptions): Promise<SagaRecord[]> {
    const now = this.#clock.now();
    const names = new Set(options.sagas);
    const out: SagaRecord[] = [];
    for (const r of this.#sagas.values()) {
      if (out.length >= options.limit) break;
      if (TERMINAL_STATUSES.has(r.status) || r.leaseUntil > now || !names.has(r.saga)) continue;
      out.push(this.#claim(r, options.owner, options.leaseMs));
    }
    return out;
  }

  async claimOne(id: string, owner: string, leaseMs: number): Promise<SagaRecord | undefined> {
    const r = this.#sagas.get(id);
    if (!r) return undefined;
    const expired = !TERMINAL_STATUSES.has(r.status) && r.leaseUntil <= this.#clock.now();
    if (!expired && r.status !== 'compensation_failed') return undefined;
    return this.#claim(r, owner, leaseMs);
  }

  async list(query: ListQuery): Promise<ListPage> {
    const names = new Set(query.names);
    const cutoff = this.#clock.now() - (query.olderThanMs ?? 0);
    const all = [...this.#sagas.values()]
      .filter(
        (r) =>
          names.has(r.saga) &&
          (r.status === 'running' || r.status === 'compensating') &&
          (query.status === undefined || r.status === query.status) &&
          (query.olderThanMs === undefined || r.updatedAt <= cutoff),
      )
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .filter((r) => query.cursor === undefined || r.id > query.cursor);
    const limit = query.limit ?? 100;
    const page = all.slice(0, limit).map(copy);
    return all.length > limit ? { sagas: page, cursor: page[page.length - 1]!.id } : { sagas: page };
  }

  async addDeadLetter(entry: Omit<DeadLetter, 'id'>): Promise<string> {
    const id = `${entry.at}-${this.#dlqSeq++}`;
    this.#dlq.push({ ...entry, reason: entry.reason ?? 'compensation_failed', id });
    if (this.#dlqMaxLen > 0 && this.#dlq.length > this.#dlqMaxLen) this.#dlq.shift();
    return id;
  }

  async listDeadLetters(options: number | DeadLetterPage = {}): Promise<DeadLetter[]> {
    const o = typeof options === 'number' ? { count: options } : options;
    const seq = (id: string) => Number(id.slice(id.lastIndexOf('-') + 1));
    const after = o.after !== undefined ? seq(o.after) : -1;
    return this.#dlq
      .filter((e) => seq(e.id) > after)
      .slice(0, o.count ?? 100)
      .map((e) => ({ ...e }));
  }

  async reopenDeadLetter(
    id: string,
    owner: string,
    leaseMs: number,
  ): Promise<{ ok: true; record: SagaRecord } | { ok: false; reason: 'missing' | 'busy' | 'gone' }> {
    const entry = this.#dlq.find((e) => e.id === id);
    if (!entry) return { ok: false, reason: 'missing' };
    const r = this.#sagas.get(entry.sagaId);
    if (!r) return { ok: false, reason: 'gone' };
    const expired = r.status === 'compensating' && r.leaseUntil <= this.#clock.now();
    if (r.status !== 'compensation_failed' && !expired) return { ok: false, reason: 'busy' };
    r.status = 'compensating';
    for (let i = this.#dlq.length - 1; i >= 0; i--) if (this.#dlq[i]!.sagaId === entry.sagaId) this.#dlq.splice(i, 1);
    return { ok: true, record: this.#claim(r, owner, leaseMs) };
  }

  async removeDeadLetter(id: string): Promise<boolean> {
    const i = this.#dlq.findIndex((e) => e.id === id);
    if (i < 0) return false;
    this.#dlq.splice(i, 1);
    return true;
  }
}
