/**
 * The saga store: where a saga's state lives between steps (seed 001: the `saga:{id}` hash with status,
 * current_step, executed_steps and context), plus the version and lease owner that fence every write.
 */

/** Seed 001's statuses, plus `compensation_failed` (seed 003: compensation exhausted its retries). */
export type SagaStatus = 'running' | 'compensating' | 'completed' | 'compensated' | 'compensation_failed';

export const SagaStatus = {
  RUNNING: 'running',
  COMPENSATING: 'compensating',
  COMPLETED: 'completed',
  COMPENSATED: 'compensated',
  COMPENSATION_FAILED: 'compensation_failed',
} as const satisfies Record<string, SagaStatus>;

export const TERMINAL_STATUSES: ReadonlySet<SagaStatus> = new Set(['completed', 'compensated', 'compensation_failed']);

/** A saga's persisted state. `context`, `error`, `compensations` are JSON text. */
export interface SagaRecord {
  id: string;
  saga: string;
  /** The version of the saga's definition it was started with (1 for sagas stored before versions). */
  definitionVersion: number;
  status: SagaStatus;
  /** Index of the unit (step or parallel group) being run or next to run. */
  currentStep: number;
  executedSteps: string[];
  compensatedSteps: string[];
  /** Steps interrupted with no known outcome (compensated when `compensateInDoubt`). */
  inDoubtSteps: string[];
  context: string;
  /** Bumped by every fenced write and every claim. */
  version: number;
  /** The orchestrator holding the lease; '' once terminal. */
  owner: string;
  /** When the lease expires (store clock, ms); 0 once terminal. */
  leaseUntil: number;
  idempotencyKey?: string;
  /** Set by `requestCancel`: the saga is to be compensated. */
  cancelReason?: string;
  /** sha256 of the input's canonical JSON, stored with an idempotency key. */
  inputFingerprint?: string;
  failedStep?: string;
  error?: string;
  compensations?: string;
  createdAt: number;
  updatedAt: number;
}

/** The fields a write may change. */
export interface SagaPatch {
  status?: SagaStatus;
  currentStep?: number;
  executedSteps?: readonly string[];
  compensatedSteps?: readonly string[];
  inDoubtSteps?: readonly string[];
  context?: string;
  failedStep?: string;
  error?: string;
  compensations?: string;
}

export interface NewSaga {
  id: string;
  saga: string;
  definitionVersion?: number;
  owner: string;
  context: string;
  idempotencyKey?: string;
  inputFingerprint?: string;
}

/** Who may write: the lease owner at the version it last wrote or claimed. */
export interface Fence {
  owner: string;
  version: number;
}

export type CreateResult = { created: true; version: number } | { created: false; record: SagaRecord };

/** A write refused by its fence: `missing`, or `fenced` (another owner or a newer version). */
export type FencedResult = { ok: true; version: number } | { ok: false; reason: 'missing' | 'fenced' };

export interface ClaimOptions {
  owner: string;
  leaseMs: number;
  /** Only sagas with these names (the definitions the claimer can run). */
  sagas: readonly string[];
  limit: number;
}

/** One failed compensation, parked in the `saga.compensation.failed` stream. */
export interface DeadLetter {
  id: string;
  sagaId: string;
  saga: string;
  /**
   * Why it is here: a compensation exhausted its retries (default), or recovery found no registered
   * definition of the saga's stored version (`unknown_definition_version`; `step` is empty).
   */
  reason?: 'compensation_failed' | 'unknown_definition_version';
  step: string;
  error: string;
  context: string;
  at: number;
}

export interface DeadLetterPage {
  count?: number;
  /** Entries after this entry id. */
  after?: string;
}

/** Which in-flight sagas `list` returns. */
export interface ListQuery {
  /** Saga names to look at (the recovery index is per name). */
  names: readonly string[];
  /** `running` or `compensating` (default both): the sagas in the recovery index. */
  status?: 'running' | 'compensating';
  /** Only sagas not written for at least this long (store clock for Redis: the hash's `updated_at`). */
  olderThanMs?: number;
  /** From a previous page's `cursor`. */
  cursor?: string;
  /** Page size (default 100). */
  limit?: number;
}

export interface ListPage {
  sagas: SagaRecord[];
  /** Pass back for the next page; absent on the last. */
  cursor?: string;
}

/** A saga event written with a state transition (the transactional outbox). */
export interface SagaEvent {
  type: string;
  payload: object;
}

/** An event in the store's outbox, waiting to be relayed to the bus. `payload` is JSON text. */
export interface OutboxEntry {
  id: string;
  type: string;
  payload: string;
  /** The orchestrator whose write it came with (its relay publishes it; a sweep takes over old ones). */
  by: string;
}

/** Which outbox entries to read. */
export interface OutboxQuery {
  limit: number;
  /** Only the partition of this saga id. */
  of?: string;
  /** Only entries written by this orchestrator. */
  by?: string;
  /** Only entries at least this old (store clock). */
  minAgeMs?: number;
}

export interface SagaStore {
  /**
   * Creates the saga leased to `owner` — or, when the id exists, returns what is stored (nothing written).
   * `events` are written with it, atomically (only when created).
   */
  create(saga: NewSaga, leaseMs: number, events?: readonly SagaEvent[]): Promise<CreateResult>;
  /** Fenced write; renews the lease. `events` are written in the same atomic step (none when refused). */
  advance(
    id: string,
    fence: Fence,
    patch: SagaPatch,
    leaseMs: number,
    events?: readonly SagaEvent[],
  ): Promise<FencedResult>;
  /** Fenced terminal write: releases the lease, drops the saga from the recovery index. `events` as `advance`. */
  complete(
    id: string,
    fence: Fence,
    patch: SagaPatch & { status: SagaStatus },
    events?: readonly SagaEvent[],
  ): Promise<FencedResult>;
  /**
   * Events written by `create`/`advance`/`complete` and not yet relayed (oldest first per partition), up to
   * `limit` matching the query. A store without an outbox leaves this out (events are then published after
   * the write, and lost if the process dies in between).
   */
  readOutbox?(query: OutboxQuery): Promise<OutboxEntry[]>;
  /** Removes relayed events from the outbox. */
  ackOutbox?(ids: readonly string[]): Promise<void>;
  /** True when the store writes events straight into the bus's streams (nothing ever waits in its outbox). */
  readonly publishesEvents?: boolean;
  /**
   * Extends the lease while a step runs; false when the fence no longer holds; `{ cancel }` (renewed) when
   * someone asked for the saga to be cancelled (`requestCancel`).
   */
  renew(id: string, fence: Fence, leaseMs: number): Promise<boolean | { cancel: string }>;
  /** Flags an in-flight saga for cancellation (its owner or a recovering sweeper compensates it). */
  requestCancel(id: string, reason: string): Promise<boolean>;
  get(id: string): Promise<SagaRecord | undefined>;
  /**
   * Claims sagas whose lease expired (running or compensating) for `owner`, atomically: two claimers never
   * get the same saga. Returns them with their new version.
   */
  claimExpired(options: ClaimOptions): Promise<SagaRecord[]>;
  /** Claims one `compensation_failed` saga (or one with an expired lease) to retry it. */
  claimOne(id: string, owner: string, leaseMs: number): Promise<SagaRecord | undefined>;
  addDeadLetter(entry: Omit<DeadLetter, 'id'>): Promise<string>;
  /** Oldest first; `after` (an entry id) pages on. A number is `{ count }`. Default count 100. */
  listDeadLetters(options?: number | DeadLetterPage): Promise<DeadLetter[]>;
  /**
   * Retries a dead letter, atomically: the saga becomes `compensating`, leased to `owner` and in the recovery
   * index, and its dead letters are removed — all or nothing. Refused (the entry stays) when the entry is
   * `missing`, the saga is `busy` (a live owner compensates it) or `gone` (its hash expired).
   */
  reopenDeadLetter(
    id: string,
    owner: string,
    leaseMs: number,
  ): Promise<{ ok: true; record: SagaRecord } | { ok: false; reason: 'missing' | 'busy' | 'gone' }>;
  /** In-flight sagas (running or compensating) of the given names, paged: e.g. the stuck compensating ones. */
  list(query: ListQuery): Promise<ListPage>;
  /** Drops one entry (an operator gave up on it). */
  removeDeadLetter(id: string): Promise<boolean>;
  close?(): Promise<void>;
}
