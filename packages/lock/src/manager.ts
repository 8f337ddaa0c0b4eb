import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import {
  abortedError,
  type BackendName,
  type Clock,
  childLogger,
  type Event,
  guardRedis,
  InvalidOptionsError,
  isCluster,
  type Logger,
  parseOptions,
  processSlot,
  systemClock,
  waitForReplicas,
} from '@ballast/core';
import type { LockBackend, LockMode } from './backend';
import { MemoryLockBackend } from './backends/memory';
import { RedisLockBackend } from './backends/redis';
import { Closing } from './closing';
import { withinDeadline } from './deadline';
import { checkDeadlock } from './deadlock';
import {
  InvalidLockKeyError,
  LockAlreadyHeldError,
  LockDurabilityError,
  LockManagerClosedError,
  LockManagerNotConfiguredError,
  LockTimeoutError,
} from './errors';
import { type FairBackend, isFairBackend, pause, topUp, waitFair } from './fair';
import { lockKeys } from './keys';
import type { Lease } from './lease';
import { LeaseKeeper, type LostEvent } from './leases';
import {
  type AcquireLockOptions,
  acquireOptionsSchema,
  type LockManagerOptions,
  managerOptionsSchema,
} from './options';
import { type CheckedAcquire, quickAcquireOptions } from './quick-options';
import { entryFor, type LockStats, lockInstruments, type PrefixEntry, record, statsSnapshot } from './stats';
import { WaitGraph } from './wait-graph';
import { keepWaiterRegistered } from './waiters';

export type { LockStats } from './stats';

const WRITER_PREFERENCE = Object.freeze({ writerPreference: true });
const NO_PREFERENCE = Object.freeze({ writerPreference: false });
const NOT_QUEUED = Object.freeze({ queueMs: 0 });

/**
 * Distributed locks: exclusive or shared, reentrant per owner, kept alive by a watchdog while held and valid
 * no longer than confirmed, fenced, waited for without polling, with deadlock detection (across managers on
 * one Redis). Held leases live in `LeaseKeeper`, close() against acquisitions in flight in `Closing`.
 */
export class LockManager {
  readonly #backend: LockBackend;
  readonly #ownsBackend: boolean;
  readonly #o: ReturnType<typeof managerOptionsSchema.parse>;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #random: () => number;
  readonly #als = new AsyncLocalStorage<{ owner: string }>();
  readonly #leases: LeaseKeeper;
  readonly #closing = new Closing();
  readonly #graph: WaitGraph | undefined;
  readonly #waitsFor = new Map<string, string>(); // owner → key
  readonly #prefixes = new Map<string, PrefixEntry>();
  /** Owner ids are `<sequence>.<this manager's UUID>`: unique, and no UUID drawn per acquisition. */
  readonly #id = randomUUID();
  #seq = 0;
  readonly #m = lockInstruments();
  /** A held lock was lost (its lease's signal aborted at the same moment); never for a released lease. */
  readonly onLost: Event<LostEvent>;
  readonly #backendName: BackendName;
  /** The backend when it can queue fairly (memory, Redis), else undefined. */
  readonly #fairBackend: FairBackend | undefined;
  #closed: Promise<void> | undefined;
  /**
   * Every backend command is bounded by `commandTimeoutMs` on the system clock (the Redis backend the manager
   * made: `guardRedis`), and the manager's clock is the system clock too: a first attempt's deadline past the
   * command timeout can never fire first.
   */
  readonly #commandsBounded: boolean;

  constructor(options: LockManagerOptions = {}) {
    const o = parseOptions(managerOptionsSchema, options, 'createLockManager');
    if (o.durability && (!o.redis || o.backend))
      throw new InvalidOptionsError('createLockManager', [
        {
          path: 'durability',
          expected: 'the redis option and no backend (WAIT runs on the Redis master the manager writes to)',
          received: o.backend ? 'a backend' : 'no redis',
          message: 'durability needs the redis option (not a backend)',
        },
      ]);
    this.#o = o;
    this.#clock = o.clock ?? systemClock;
    this.#log = childLogger(o.logger, { component: 'lock' });
    this.#random = o.random ?? Math.random;
    this.#ownsBackend = o.backend === undefined;
    this.#backendName = o.backend === undefined ? 'redis' : 'lock backend';
    this.#backend =
      o.backend ??
      (o.redis
        ? new RedisLockBackend({
            redis: o.redis,
            prefix: o.prefix,
            logger: this.#log,
            coalesceWrites: o.coalesceWrites,
            coalesceScripts: o.coalesceScripts,
            commandTimeoutMs: o.commandTimeoutMs,
          })
        : new MemoryLockBackend(o.clock ? { clock: o.clock } : {}));
    this.#fairBackend = isFairBackend(this.#backend) ? this.#backend : undefined;
    this.#leases = new LeaseKeeper({
      backend: this.#backend,
      clock: this.#clock,
      log: this.#log,
      driftFactor: o.driftFactor,
      commandTimeoutMs: o.commandTimeoutMs,
      backendName: this.#backendName,
      boundReleases: !(this.#ownsBackend && o.redis),
      instruments: this.#m,
    });
    this.onLost = this.#leases.onLost;
    this.#commandsBounded = this.#ownsBackend && o.redis !== undefined && this.#clock === systemClock;
    if (this.#ownsBackend && o.redis) {
      const redis = guardRedis(o.redis, { commandTimeoutMs: o.commandTimeoutMs });
      this.#graph = new WaitGraph(redis, o.prefix, this.#backend, this.#clock, this.#log);
    }
  }

  get backend(): LockBackend {
    return this.#backend;
  }

  #newOwner(): string {
    return `${(++this.#seq).toString(36)}.${this.#id}`;
  }

  /**
   * Acquires `key` (waiting up to `waitMs`, default forever) and returns a lease. Inside `using()` the same
   * owner re-entering a key it holds is counted, not blocked.
   */
  acquire(key: string, options: AcquireLockOptions = {}): Promise<Lease> {
    return this.#acquire(key, options, true) as Promise<Lease>;
  }

  /** One attempt, no waiting: a lease, or undefined when the lock is taken. */
  async tryAcquire(key: string, options: Omit<AcquireLockOptions, 'waitMs'> = {}): Promise<Lease | undefined> {
    return this.#acquire(key, { ...options, waitMs: 0 }, false);
  }

  /**
   * Runs `fn` holding `key`, releasing it after; `fn` gets the lease's signal (aborted if the lock is lost).
   * Nested `using`/`acquire` calls inside `fn` share its owner, so re-entering a held key is counted.
   */
  async using<T>(
    key: string,
    fn: (signal: AbortSignal, lease: Lease) => Promise<T> | T,
    options: AcquireLockOptions = {},
  ): Promise<T> {
    const owner = options.owner ?? this.#als.getStore()?.owner ?? this.#newOwner();
    return this.#als.run({ owner }, async () => {
      const lease = await this.acquire(key, { ...options, owner });
      try {
        return await fn(lease.signal, lease);
      } finally {
        await lease.release();
      }
    });
  }

  stats(): Record<string, LockStats> {
    return statsSnapshot(this.#prefixes);
  }

  async #acquire(key: string, options: AcquireLockOptions, wait: boolean): Promise<Lease | undefined> {
    this.#closing.check();
    if (typeof key !== 'string' || key.length === 0)
      throw new InvalidLockKeyError('lock key must be a non-empty string');
    const o = quickAcquireOptions(options) ?? parseOptions(acquireOptionsSchema, options, 'acquire');
    const ttlMs = o.ttlMs ?? this.#o.ttlMs;
    const mode = o.mode ?? 'exclusive';
    const context = o.owner ?? this.#als.getStore()?.owner;
    const owner = context ?? this.#newOwner();
    const entry = entryFor(this.#prefixes, key);
    const started = this.#clock.monotonic();
    if (o.signal?.aborted) throw abortedError(o.signal);
    const fair = mode === 'exclusive' && (o.fair ?? this.#o.fair) ? this.#fairBackend : undefined;
    const waitMs = wait ? (o.waitMs ?? this.#o.waitMs) : 0;
    const implicit = context === undefined;
    // (No closures made here for the paths most acquisitions never take: hand-back, self-wait check.)
    this.#closing.enter(); // close() waits for this acquisition to settle
    try {
      // Its release channel already heard: a fair waiter queues with its first attempt (one round trip less).
      if (fair && wait && fair.listening?.(key)) {
        if (this.#selfWait(key, waitMs, o, implicit)) throw new LockAlreadyHeldError(key);
        return await this.#wait(key, mode, o, owner, ttlMs, entry, started, 0, implicit, fair, true);
      }
      // The first attempt: most acquisitions end here. (A fair one takes a free lock only if nobody queued first.)
      const attempt = fair
        ? fair.tryAcquireFair(key, owner, ttlMs, NOT_QUEUED)
        : this.#backend.tryAcquire(
            key,
            owner,
            mode,
            ttlMs,
            // An exclusive request that never registered as a waiter has no registration to drop.
            mode === 'shared' && this.#o.writerPreference ? WRITER_PREFERENCE : NO_PREFERENCE,
          );
      // A deadline the command timeout reaches first needs no timer of its own (the common `waitMs` ≥ 5 s).
      const bounded =
        o.signal ||
        (waitMs > 0 &&
          waitMs !== Number.POSITIVE_INFINITY &&
          !(this.#commandsBounded && waitMs >= this.#o.commandTimeoutMs));
      const r = bounded
        ? await withinDeadline(attempt, this.#clock, started + waitMs, o.signal, this.#backendName).catch((e) => {
            // Granted after all: hand it back.
            this.#closing.abandon(attempt, () => this.#backend.release(key, owner, mode));
            throw e;
          })
        : await attempt;
      if (r.acquired) {
        if (this.#closing.closed) return await this.#closing.refuse(key, () => this.#backend.release(key, owner, mode));
        return await this.#durable(
          this.#granted(key, mode, o, owner, ttlMs, entry, started, started, r, implicit),
          false,
        );
      }
      if (!wait) return undefined;
      if (this.#selfWait(key, waitMs, o, implicit)) throw new LockAlreadyHeldError(key);
      return await this.#wait(key, mode, o, owner, ttlMs, entry, started, r.retryAfterMs, implicit, fair);
    } finally {
      this.#closing.leave();
    }
  }

  /** Outside any lock context, an unbounded wait for a key taken the same way would wait for itself. */
  #selfWait(key: string, waitMs: number, o: CheckedAcquire, implicit: boolean): boolean {
    return waitMs === Number.POSITIVE_INFINITY && !o.signal && implicit && this.#leases.heldImplicitly(key);
  }

  #granted(
    key: string,
    mode: LockMode,
    o: CheckedAcquire,
    owner: string,
    ttlMs: number,
    entry: PrefixEntry,
    started: number,
    attemptStart: number,
    r: { fencingToken: number; count: number },
    implicit: boolean,
  ): Lease {
    record(entry, this.#m, 'grant', this.#clock.monotonic() - started);
    const autoExtend = o.autoExtend ?? this.#o.autoExtend;
    return this.#leases.lease(
      key,
      mode,
      owner,
      ttlMs,
      attemptStart,
      r.fencingToken,
      r.count,
      autoExtend,
      entry,
      implicit,
    );
  }

  /**
   * `durability`: the lease is returned only once `replicas` replicas acknowledged the grant (WAIT on the lock's
   * master); otherwise it is released and `LockDurabilityError` thrown. A grant handed over by a fair release was
   * written by the releasing client's connection, which a WAIT on ours would not cover: our own write (an
   * extend of the hold) comes first, and the replication stream is in order.
   */
  async #durable(lease: Lease, handedOver: boolean): Promise<Lease> {
    const d = this.#o.durability;
    const redis = this.#o.redis;
    if (!d || !redis) return lease;
    try {
      if (handedOver) await lease.extend();
      const key = lockKeys(this.#o.prefix, lease.key, { perSlot: isCluster(redis) }).owners;
      const { acked, node } = await waitForReplicas(redis, key, {
        ...d,
        commandTimeoutMs: this.#o.commandTimeoutMs,
      });
      if (acked >= d.replicas) return lease;
      throw new LockDurabilityError('redis', node, lease.key, acked, d.replicas, d.timeoutMs);
    } catch (error) {
      // (The WAIT itself failing — e.g. the master stopped answering — is thrown as is: no lease either way.)
      await lease.release().catch(() => {});
      throw error;
    }
  }

  /** The first attempt found the lock taken: register as a waiter and retry on every release notification. */
  async #wait(
    key: string,
    mode: LockMode,
    o: CheckedAcquire,
    owner: string,
    ttlMs: number,
    entry: PrefixEntry,
    started: number,
    firstRetryAfterMs: number,
    implicit: boolean,
    fair?: FairBackend,
    untried = false,
  ): Promise<Lease> {
    const signal = o.signal;
    const deadline = started + (o.waitMs ?? this.#o.waitMs);
    // A fair waiter's queue entry blocks readers too (registered by the same script).
    const writer = !fair && mode === 'exclusive' && this.#o.writerPreference;
    const preference = this.#o.writerPreference ? WRITER_PREFERENCE : NO_PREFERENCE;
    const release = () => this.#backend.release(key, owner, mode);
    let unsubscribe: (() => void) | undefined;
    let unregister: (() => Promise<void>) | undefined;
    let wake: (() => void) | undefined;
    // Set by a release notification at any time — also while an attempt is in flight, when there is no
    // sleep to cut short yet: the next sleep is then skipped instead of missing the wake-up.
    let released = false;
    let retryAfterMs = firstRetryAfterMs;
    // Why the wait must end (the manager closed, a deadlock across managers): aborts this signal.
    const halter = new AbortController();
    const halt = (reason: unknown) => halter.abort(reason);
    const halted = halter.signal;
    // The lock was seen taken: a deadline passing while Redis is slow to answer is still a timed-out wait.
    const timedOut = (cause: unknown) => {
      record(entry, this.#m, 'timeout');
      return new LockTimeoutError(key, Math.round(this.#clock.monotonic() - started), cause);
    };
    const bounded = <T>(call: Promise<T>) =>
      withinDeadline(call, this.#clock, deadline, signal, this.#backendName, timedOut);
    const contended = () => {
      record(entry, this.#m, 'contended');
      checkDeadlock(this.#leases.held, this.#waitsFor, owner, key);
      this.#waitsFor.set(owner, key);
    };
    if (!untried) contended();
    const offClose = this.#closing.onClose(() => halt(new LockManagerClosedError(key)));
    const offGraph = this.#graph?.watch(owner, key, halt);
    try {
      if (fair) {
        const g = await waitFair({
          backend: fair,
          clock: this.#clock,
          key,
          owner,
          ttlMs,
          queueMs: this.#o.fairQueueTtlMs,
          maxRetryDelayMs: this.#o.maxRetryDelayMs,
          deadline,
          signal,
          halted,
          firstRetryAfterMs,
          bounded,
          timedOut,
          ...(untried ? { onFirstRefusal: contended } : {}),
        });
        if (this.#closing.closed) return await this.#closing.refuse(key, release);
        const lease = this.#granted(key, mode, o, owner, ttlMs, entry, started, g.start, g, implicit);
        return await this.#durable(topUp(lease, g, ttlMs, o.autoExtend ?? this.#o.autoExtend), true);
      }
      if (writer)
        unregister = await keepWaiterRegistered(
          this.#backend,
          this.#clock,
          this.#log,
          key,
          owner,
          Math.max(ttlMs, 1_000),
          bounded,
        );
      unsubscribe = this.#backend.onRelease(key, () => {
        released = true;
        wake?.();
      });
      const subscribed = (this.#backend as { subscribed?: (k: string) => Promise<void> }).subscribed?.(key);
      if (subscribed) await bounded(subscribed);
      // A release may have happened before we subscribed: try once more before sleeping.
      for (let slept = false; ; slept = true) {
        if (halted.aborted) throw halted.reason;
        if (slept) {
          const now = this.#clock.monotonic();
          if (now >= deadline) throw timedOut(undefined);
          if (!released) {
            // Safety net only: wake-ups come from the release channel.
            const cap = Math.min(Math.max(retryAfterMs, 1), this.#o.maxRetryDelayMs, deadline - now);
            await pause(this.#clock, cap / 2 + (this.#random() * cap) / 2, [signal, halted], (w) => (wake = w));
            wake = undefined;
            if (halted.aborted) throw halted.reason;
          }
        }
        if (signal?.aborted) throw abortedError(signal);
        released = false;
        const attemptStart = this.#clock.monotonic();
        const attempt = this.#backend.tryAcquire(key, owner, mode, ttlMs, preference);
        const r = await bounded(attempt).catch((e: unknown) => {
          this.#closing.abandon(attempt, release); // granted after all: hand it back
          throw e;
        });
        if (r.acquired) {
          if (this.#closing.closed) return await this.#closing.refuse(key, release);
          return await this.#durable(
            this.#granted(key, mode, o, owner, ttlMs, entry, started, attemptStart, r, implicit),
            false,
          );
        }
        retryAfterMs = r.retryAfterMs;
      }
    } finally {
      this.#waitsFor.delete(owner);
      offClose();
      offGraph?.();
      unsubscribe?.();
      await unregister?.();
    }
  }

  /**
   * Refuses new acquisitions and waiters (`LockManagerClosedError`), waits for acquisitions in flight (a grant
   * racing close is released at once), releases every lease held, and closes a backend it created.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.#closing.close();
      await this.#leases.close();
      if (this.#ownsBackend) await this.#backend.close();
    })();
    return this.#closed;
  }
}

export function createLockManager(options: LockManagerOptions = {}): LockManager {
  return new LockManager(options);
}

/** Shared by the ESM and CJS builds of the package in one process (core's `processSlot`). */
const defaultManager = processSlot<LockManager>('lock/defaultManager');
/**
 * The manager `@WithLock` uses when given none: the one `setLockManager` configured (the NestJS module does it).
 * There is no implicit default — an in-process one would lock a single process only — so without one this
 * throws `LockManagerNotConfiguredError`, naming `where` (the decorated method).
 */
export function getLockManager(where = 'getLockManager()'): LockManager {
  const manager = defaultManager.get();
  if (!manager) throw new LockManagerNotConfiguredError(where);
  return manager;
}
/**
 * Sets the manager `@WithLock` uses when given none: `setLockManager(createLockManager({ redis }))`, or
 * `setLockManager(createLockManager())` to choose in-process locks explicitly. `undefined` unsets it.
 */
export function setLockManager(manager: LockManager | undefined): void {
  defaultManager.set(manager);
}
