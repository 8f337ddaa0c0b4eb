import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import {
  abortedError,
  type BackendName,
  type Clock,
  childLogger,
  EventEmitter,
  type Logger,
  parseOptions,
  processSlot,
  systemClock,
} from '@ballast/core';
import type { LockBackend, LockMode } from './backend';
import { MemoryLockBackend } from './backends/memory';
import { RedisLockBackend } from './backends/redis';
import { withinDeadline } from './deadline';
import { checkDeadlock } from './deadlock';
import { InvalidLockKeyError, LockLostError, LockManagerNotConfiguredError, LockTimeoutError } from './errors';
import { type FairBackend, isFairBackend, waitFair } from './fair';
import { type Held, HeldLease, type LeaseOps } from './held-lease';
import type { Lease } from './lease';
import {
  type AcquireLockOptions,
  acquireOptionsSchema,
  type LockManagerOptions,
  managerOptionsSchema,
} from './options';
import { type CheckedAcquire, quickAcquireOptions } from './quick-options';
import { entryFor, type LockStats, lockInstruments, observe, type PrefixEntry, statsSnapshot } from './stats';
import { Watchdog } from './watchdog';

export type { LockStats } from './stats';

const WRITER_PREFERENCE = Object.freeze({ writerPreference: true });
const NO_PREFERENCE = Object.freeze({ writerPreference: false });
const NOT_QUEUED = Object.freeze({ queueMs: 0 });

/**
 * Distributed locks: exclusive or shared, reentrant per owner, kept alive by a watchdog while held, fenced,
 * waited for without polling, with deadlock detection among this manager's waiters.
 */
export class LockManager {
  readonly #backend: LockBackend;
  readonly #ownsBackend: boolean;
  readonly #o: ReturnType<typeof managerOptionsSchema.parse>;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #random: () => number;
  readonly #als = new AsyncLocalStorage<{ owner: string }>();
  readonly #held = new Map<string, Held>(); // `${key}\u0000${token}`
  readonly #waitsFor = new Map<string, string>(); // owner → key
  readonly #prefixes = new Map<string, PrefixEntry>();
  /** Owner ids are `<sequence>.<this manager's UUID>`: unique, and no UUID drawn per acquisition. */
  readonly #id = randomUUID();
  #seq = 0;
  readonly #ops: LeaseOps = { extend: (h, ms) => this.#extend(h, ms), release: (h) => this.#release(h) };
  readonly #lost = new EventEmitter<{ key: string; token: string; reason: string }>('lost');
  readonly #m = lockInstruments();
  readonly #watchdog: Watchdog;
  /** A held lock was lost (its lease's signal aborted at the same moment). */
  readonly onLost = this.#lost.event;
  #closed = false;
  readonly #backendName: BackendName;
  /** The backend when it can queue fairly (memory, Redis), else undefined. */
  readonly #fairBackend: FairBackend | undefined;
  #extendFailing = false;

  constructor(options: LockManagerOptions = {}) {
    const o = parseOptions(managerOptionsSchema, options, 'createLockManager');
    this.#o = o;
    this.#clock = o.clock ?? systemClock;
    this.#watchdog = new Watchdog(this.#clock, this.#ops);
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
            commandTimeoutMs: o.commandTimeoutMs,
          })
        : new MemoryLockBackend(o.clock ? { clock: o.clock } : {}));
    this.#fairBackend = isFairBackend(this.#backend) ? this.#backend : undefined;
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
    if (this.#closed) throw new InvalidLockKeyError('the lock manager is closed');
    if (typeof key !== 'string' || key.length === 0)
      throw new InvalidLockKeyError('lock key must be a non-empty string');
    const o = quickAcquireOptions(options) ?? parseOptions(acquireOptionsSchema, options, 'acquire');
    const ttlMs = o.ttlMs ?? this.#o.ttlMs;
    const mode = o.mode ?? 'exclusive';
    const owner = o.owner ?? this.#als.getStore()?.owner ?? this.#newOwner();
    const entry = entryFor(this.#prefixes, key);
    const started = this.#clock.monotonic();
    if (o.signal?.aborted) throw abortedError(o.signal);
    const fair = mode === 'exclusive' && (o.fair ?? this.#o.fair) ? this.#fairBackend : undefined;
    // Its release channel already heard: a fair waiter queues with its first attempt (one round trip less).
    if (fair && wait && fair.listening?.(key))
      return this.#wait(key, mode, o, owner, ttlMs, entry, started, 0, fair, true);
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
    const waitMs = wait ? (o.waitMs ?? this.#o.waitMs) : 0;
    const r =
      o.signal || (waitMs > 0 && waitMs !== Number.POSITIVE_INFINITY)
        ? await withinDeadline(attempt, this.#clock, started + waitMs, o.signal, this.#backendName)
        : await attempt;
    if (r.acquired) return this.#granted(key, mode, o, owner, ttlMs, entry, started, started, r.fencingToken, r.count);
    if (!wait) return undefined;
    return this.#wait(key, mode, o, owner, ttlMs, entry, started, r.retryAfterMs, fair);
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
    fencingToken: number,
    count: number,
  ): Lease {
    const waited = this.#clock.monotonic() - started;
    entry.stats.acquisitions++;
    observe(entry.stats.waitMs, waited);
    this.#m.acquisitions.add(1, entry.attrs);
    this.#m.wait.record(waited, entry.attrs);
    return this.#lease(
      key,
      mode,
      owner,
      ttlMs,
      attemptStart,
      fencingToken,
      count,
      o.autoExtend ?? this.#o.autoExtend,
      entry,
    );
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
    fair: FairBackend | undefined,
    untried = false,
  ): Promise<Lease> {
    const signal = o.signal;
    const deadline = started + (o.waitMs ?? this.#o.waitMs);
    // A fair waiter's queue entry blocks readers too (registered by the same script).
    const writer = !fair && mode === 'exclusive' && this.#o.writerPreference;
    const preference = this.#o.writerPreference ? WRITER_PREFERENCE : NO_PREFERENCE;
    let unsubscribe: (() => void) | undefined;
    let wake: (() => void) | undefined;
    // Set by a release notification at any time — also while an attempt is in flight, when there is no
    // sleep to cut short yet: the next sleep is then skipped instead of missing the wake-up.
    let released = false;
    let retryAfterMs = firstRetryAfterMs;
    // The lock was seen taken: a deadline passing while Redis is slow to answer is still a timed-out wait.
    const timedOut = (cause: unknown) => {
      entry.stats.timeouts++;
      this.#m.timeouts.add(1, entry.attrs);
      return new LockTimeoutError(key, Math.round(this.#clock.monotonic() - started), cause);
    };
    const bounded = <T>(call: Promise<T>) =>
      withinDeadline(call, this.#clock, deadline, signal, this.#backendName, timedOut);
    const contended = () => {
      entry.stats.contended++;
      this.#m.contended.add(1, entry.attrs);
      checkDeadlock(this.#held, this.#waitsFor, owner, key);
      this.#waitsFor.set(owner, key);
    };
    if (!untried) contended();
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
          firstRetryAfterMs,
          bounded,
          timedOut,
          ...(untried ? { onFirstRefusal: contended } : {}),
        });
        const lease = this.#granted(key, mode, o, owner, ttlMs, entry, started, g.start, g.fencingToken, g.count);
        // Handed over with less than asked (the waiter's queue entry had less left): extend now unless the
        // watchdog's first extension (at ttl/3) comes well before the hold runs out.
        if (g.grantedMs < ttlMs && (!(o.autoExtend ?? this.#o.autoExtend) || g.grantedMs < ttlMs / 2))
          void lease.extend(ttlMs);
        return lease;
      }
      if (writer) await bounded(this.#backend.addWaiter(key, owner, Math.max(ttlMs, 1_000)));
      unsubscribe = this.#backend.onRelease(key, () => {
        released = true;
        wake?.();
      });
      const subscribed = (this.#backend as { subscribed?: (k: string) => Promise<void> }).subscribed?.(key);
      if (subscribed) await bounded(subscribed);
      // A release may have happened before we subscribed: try once more before sleeping.
      for (let slept = false; ; slept = true) {
        if (slept) {
          const now = this.#clock.monotonic();
          if (now >= deadline) throw timedOut(undefined);
          if (!released) {
            // Safety net only: wake-ups come from the release channel.
            const cap = Math.min(Math.max(retryAfterMs, 1), this.#o.maxRetryDelayMs, deadline - now);
            const delay = cap / 2 + (this.#random() * cap) / 2;
            await new Promise<void>((resolve) => {
              // Whichever ends the sleep (timer, release, abort) removes the abort listener: a long wait sleeps
              // many times and must not pile listeners onto the caller's signal.
              const onAbort = () => wake?.();
              const timer = this.#clock.setTimeout(() => {
                signal?.removeEventListener('abort', onAbort);
                resolve();
              }, delay);
              wake = () => {
                this.#clock.clearTimeout(timer);
                signal?.removeEventListener('abort', onAbort);
                resolve();
              };
              signal?.addEventListener('abort', onAbort, { once: true });
            });
            wake = undefined;
          }
        }
        if (signal?.aborted) throw abortedError(signal);
        released = false;
        const attemptStart = this.#clock.monotonic();
        const r = await bounded(this.#backend.tryAcquire(key, owner, mode, ttlMs, preference));
        if (r.acquired)
          return this.#granted(key, mode, o, owner, ttlMs, entry, started, attemptStart, r.fencingToken, r.count);
        retryAfterMs = r.retryAfterMs;
      }
    } finally {
      this.#waitsFor.delete(owner);
      unsubscribe?.();
      if (writer) await this.#backend.removeWaiter(key, owner).catch(() => {});
    }
  }

  #lease(
    key: string,
    mode: LockMode,
    token: string,
    ttlMs: number,
    attemptStart: number,
    fencingToken: number,
    count: number,
    autoExtend: boolean,
    entry: PrefixEntry,
  ): Lease {
    const id = `${key}\u0000${token}`;
    let held = this.#held.get(id);
    if (!held) {
      held = {
        key,
        mode,
        token,
        count: 0,
        ttlMs,
        validUntil: attemptStart + ttlMs - (ttlMs * this.#o.driftFactor + 2),
        acquiredAt: this.#clock.monotonic(),
        controller: undefined,
        lost: undefined,
        entry,
        group: undefined,
        due: 0,
      };
      this.#held.set(id, held);
      if (autoExtend) this.#watchdog.watch(held, held.acquiredAt);
    }
    held.count = count;
    return new HeldLease(held, this.#ops, ttlMs, fencingToken, count);
  }

  async #extend(h: Held, ttlMs: number): Promise<boolean> {
    if (h.lost) return false;
    const start = this.#clock.monotonic();
    try {
      const ok = await this.#backend.extend(h.key, h.token, h.mode, ttlMs);
      if (!ok) {
        this.#lose(h, 'the lock was gone or taken when extending it');
        return false;
      }
      if (ttlMs !== h.ttlMs) {
        h.ttlMs = ttlMs;
        this.#watchdog.ttlChanged(h);
      }
      h.validUntil = start + ttlMs - (ttlMs * this.#o.driftFactor + 2);
      if (this.#extendFailing) this.#log.info({ key: h.key }, 'lock extension works again');
      this.#extendFailing = false;
      return true;
    } catch (error) {
      // Redis unreachable: keep the lease while it is still surely valid, then give it up. One warning per
      // outage (the watchdog retries every ttl/3 for every lease held), debug lines in between.
      const reason = error instanceof Error ? error.message : String(error);
      if (this.#extendFailing) this.#log.debug({ key: h.key, reason }, 'lock extension failed');
      else this.#log.warn({ key: h.key, reason }, 'lock extension failed; retrying while the lease is valid');
      this.#extendFailing = true;
      if (this.#clock.monotonic() >= h.validUntil) this.#lose(h, 'could not extend it before it expired');
      return false;
    }
  }

  #lose(h: Held, reason: string): void {
    if (h.lost) return;
    h.lost = new LockLostError(h.key, reason);
    this.#forget(h);
    h.entry.stats.lost++;
    this.#m.lost.add(1, h.entry.attrs);
    this.#log.error({ key: h.key, reason }, 'lock lost');
    h.controller?.abort(h.lost);
    this.#lost.emit({ key: h.key, token: h.token, reason });
  }

  #forget(h: Held): void {
    this.#watchdog.unwatch(h);
    this.#held.delete(`${h.key}\u0000${h.token}`);
  }

  async #release(h: Held): Promise<void> {
    if (h.lost) return; // already lost: nothing to release
    const left = await this.#backend.release(h.key, h.token, h.mode);
    if (left > 0) {
      h.count = left;
      return;
    }
    this.#forget(h);
    const held = this.#clock.monotonic() - h.acquiredAt;
    observe(h.entry.stats.holdMs, held);
    this.#m.hold.record(held, h.entry.attrs);
    if (left < 0) this.#lose(h, 'it had expired before release');
  }

  /** Releases every lease this manager holds and closes a backend it created. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#watchdog.close();
    await Promise.allSettled([...this.#held.values()].map((h) => this.#release(h)));
    if (this.#ownsBackend) await this.#backend.close();
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
