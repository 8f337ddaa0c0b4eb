import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import {
  abortedError,
  type Clock,
  childLogger,
  EventEmitter,
  getMeter,
  type Logger,
  metricName,
  parseOptions,
  systemClock,
  type TimerHandle,
} from '@ballast/core';
import type { LockBackend, LockMode } from './backend';
import { MemoryLockBackend } from './backends/memory';
import { RedisLockBackend } from './backends/redis';
import { DeadlockError, InvalidLockKeyError, LockLostError, LockTimeoutError } from './errors';
import { ASYNC_DISPOSE, type Lease } from './lease';
import {
  type AcquireLockOptions,
  acquireOptionsSchema,
  type LockManagerOptions,
  managerOptionsSchema,
} from './options';

interface Held {
  key: string;
  mode: LockMode;
  token: string;
  count: number;
  ttlMs: number;
  validUntil: number;
  acquiredAt: number;
  /** Created when someone reads the lease's signal (most callers never do). */
  controller: AbortController | undefined;
  /** Set when the lock is lost; a controller created later starts aborted with it. */
  lost: LockLostError | undefined;
  watchdog: TimerHandle | undefined;
}

function signalOf(h: Held): AbortSignal {
  if (!h.controller) {
    h.controller = new AbortController();
    if (h.lost) h.controller.abort(h.lost);
  }
  return h.controller.signal;
}

export interface LockStats {
  acquisitions: number;
  /** Acquisitions that had to wait. */
  contended: number;
  timeouts: number;
  lost: number;
  waitMs: { count: number; total: number; max: number };
  holdMs: { count: number; total: number; max: number };
}

const emptyStats = (): LockStats => ({
  acquisitions: 0,
  contended: 0,
  timeouts: 0,
  lost: 0,
  waitMs: { count: 0, total: 0, max: 0 },
  holdMs: { count: 0, total: 0, max: 0 },
});

const DEFAULT_ACQUIRE = acquireOptionsSchema.parse({});
const WRITER_PREFERENCE = Object.freeze({ writerPreference: true });
const NO_PREFERENCE = Object.freeze({ writerPreference: false });
function isEmpty(o: object): boolean {
  for (const _ in o) return false;
  return true;
}

/** Stats are kept per key prefix: `user:42` → `user`. */
const prefixOf = (key: string) => key.split(':', 1)[0]!;

function observe(h: { count: number; total: number; max: number }, ms: number): void {
  h.count++;
  h.total += ms;
  if (ms > h.max) h.max = ms;
}

const meter = () => getMeter('@ballast/lock');

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
  readonly #stats = new Map<string, LockStats>();
  readonly #lost = new EventEmitter<{ key: string; token: string; reason: string }>('lost');
  readonly #m = {
    acquisitions: meter().createCounter(metricName('lock', 'acquisitions_total')),
    contended: meter().createCounter(metricName('lock', 'contended_total')),
    lost: meter().createCounter(metricName('lock', 'lost_total')),
    wait: meter().createHistogram(metricName('lock', 'wait_ms'), { unit: 'ms' }),
    hold: meter().createHistogram(metricName('lock', 'hold_ms'), { unit: 'ms' }),
  };
  /** A held lock was lost (its lease's signal aborted at the same moment). */
  readonly onLost = this.#lost.event;
  #closed = false;

  constructor(options: LockManagerOptions = {}) {
    const o = parseOptions(managerOptionsSchema, options, 'createLockManager');
    this.#o = o;
    this.#clock = o.clock ?? systemClock;
    this.#log = childLogger(o.logger, { component: 'lock' });
    this.#random = o.random ?? Math.random;
    this.#ownsBackend = o.backend === undefined;
    this.#backend =
      o.backend ??
      (o.redis
        ? new RedisLockBackend({ redis: o.redis, prefix: o.prefix, logger: this.#log })
        : new MemoryLockBackend(o.clock ? { clock: o.clock } : {}));
  }

  get backend(): LockBackend {
    return this.#backend;
  }

  /**
   * Acquires `key` (waiting up to `waitMs`, default forever) and returns a lease. Inside `using()` the same
   * owner re-entering a key it holds is counted, not blocked.
   */
  async acquire(key: string, options: AcquireLockOptions = {}): Promise<Lease> {
    const lease = await this.#acquire(key, options, true);
    return lease!;
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
    const owner = options.owner ?? this.#als.getStore()?.owner ?? randomUUID();
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
    return Object.fromEntries([...this.#stats].map(([k, v]) => [k, structuredClone(v)]));
  }

  #statsFor(key: string): LockStats {
    const p = prefixOf(key);
    let s = this.#stats.get(p);
    if (!s) {
      s = emptyStats();
      this.#stats.set(p, s);
    }
    return s;
  }

  async #acquire(key: string, options: AcquireLockOptions, wait: boolean): Promise<Lease | undefined> {
    if (this.#closed) throw new InvalidLockKeyError('the lock manager is closed');
    if (typeof key !== 'string' || key.length === 0)
      throw new InvalidLockKeyError('lock key must be a non-empty string');
    // The common call passes no options: skip validation then (the defaults are known).
    const o = isEmpty(options) ? DEFAULT_ACQUIRE : parseOptions(acquireOptionsSchema, options, 'acquire');
    const ttlMs = o.ttlMs ?? this.#o.ttlMs;
    const waitMs = o.waitMs ?? this.#o.waitMs;
    const owner = o.owner ?? this.#als.getStore()?.owner ?? randomUUID();
    const signal = o.signal;
    const stats = this.#statsFor(key);
    const started = this.#clock.monotonic();
    const deadline = started + waitMs;
    let unsubscribe: (() => void) | undefined;
    let wake: (() => void) | undefined;
    // Set by a release notification at any time — also while an attempt is in flight, when there is no
    // sleep to cut short yet: the next sleep is then skipped instead of missing the wake-up.
    let released = false;
    let contended = false;
    const preference = this.#o.writerPreference ? WRITER_PREFERENCE : NO_PREFERENCE;
    try {
      for (;;) {
        if (signal?.aborted) throw abortedError(signal);
        released = false;
        const attemptStart = this.#clock.monotonic();
        const r = await this.#backend.tryAcquire(
          key,
          owner,
          o.mode,
          ttlMs,
          // An exclusive request that never registered as a waiter has no registration to drop.
          contended || o.mode === 'shared' ? preference : NO_PREFERENCE,
        );
        if (r.acquired) {
          const waited = this.#clock.monotonic() - started;
          stats.acquisitions++;
          observe(stats.waitMs, waited);
          this.#m.acquisitions.add(1, { prefix: prefixOf(key) });
          this.#m.wait.record(waited, { prefix: prefixOf(key) });
          return this.#lease(
            key,
            o.mode,
            owner,
            ttlMs,
            attemptStart,
            r.fencingToken,
            r.count,
            o.autoExtend ?? this.#o.autoExtend,
          );
        }
        if (!wait) return undefined;
        if (!contended) {
          contended = true;
          stats.contended++;
          this.#m.contended.add(1, { prefix: prefixOf(key) });
          this.#checkDeadlock(owner, key);
          this.#waitsFor.set(owner, key);
          if (o.mode === 'exclusive' && this.#o.writerPreference)
            await this.#backend.addWaiter(key, owner, Math.max(ttlMs, 1_000));
          unsubscribe = this.#backend.onRelease(key, () => {
            released = true;
            wake?.();
          });
          await (this.#backend as { subscribed?: (k: string) => Promise<void> }).subscribed?.(key);
          continue; // a release may have happened before we subscribed: try once more before sleeping
        }
        const now = this.#clock.monotonic();
        if (now >= deadline) {
          stats.timeouts++;
          throw new LockTimeoutError(key, Math.round(now - started));
        }
        if (released) continue; // a holder released while we were trying: try again at once
        // Safety net only: wake-ups come from the release channel.
        const cap = Math.min(Math.max(r.retryAfterMs, 1), this.#o.maxRetryDelayMs, deadline - now);
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
    } finally {
      if (contended) {
        this.#waitsFor.delete(owner);
        unsubscribe?.();
        if (o.mode === 'exclusive' && this.#o.writerPreference) {
          await this.#backend.removeWaiter(key, owner).catch(() => {});
        }
      }
    }
  }

  /** Fails this waiter when waiting would close a cycle: it holds something a holder of `key` waits for. */
  #checkDeadlock(owner: string, key: string): void {
    const path = [owner];
    const visit = (k: string, depth: number): boolean => {
      if (depth > 64) return false;
      for (const h of this.#held.values()) {
        if (h.key !== k || h.token === path[path.length - 1]) continue;
        if (h.token === owner) return true;
        const next = this.#waitsFor.get(h.token);
        if (next === undefined) continue;
        path.push(`${k} held by ${h.token.slice(0, 8)}`, h.token);
        if (visit(next, depth + 1)) return true;
        path.splice(-2);
      }
      return false;
    };
    if (visit(key, 0)) throw new DeadlockError([...path.map((p) => p.slice(0, 24)), `waits for ${key}`]);
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
  ): Lease {
    const id = `${key}\u0000${token}`;
    const drift = ttlMs * this.#o.driftFactor + 2;
    let held = this.#held.get(id);
    if (!held) {
      held = {
        key,
        mode,
        token,
        count: 0,
        ttlMs,
        validUntil: attemptStart + ttlMs - drift,
        acquiredAt: this.#clock.monotonic(),
        controller: undefined,
        lost: undefined,
        watchdog: undefined,
      };
      this.#held.set(id, held);
      if (autoExtend) {
        const h = held;
        h.watchdog = this.#clock.setInterval(() => void this.#extend(h, h.ttlMs), Math.max(1, Math.floor(ttlMs / 3)));
        h.watchdog.unref();
      }
    }
    held.count = count;
    const h = held;
    let released = false;
    const lease: Lease = {
      key,
      mode,
      token,
      fencingToken,
      count,
      get signal() {
        return signalOf(h);
      },
      get validUntil() {
        return h.validUntil;
      },
      extend: (ms = ttlMs) => this.#extend(h, ms),
      release: async () => {
        if (released) return;
        released = true;
        await this.#release(h);
      },
      [ASYNC_DISPOSE]: () => lease.release(),
    };
    return lease;
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
      h.ttlMs = ttlMs;
      h.validUntil = start + ttlMs - (ttlMs * this.#o.driftFactor + 2);
      return true;
    } catch (error) {
      // Redis unreachable: keep the lease while it is still surely valid, then give it up.
      this.#log.warn({ err: error, key: h.key }, 'lock extension failed');
      if (this.#clock.monotonic() >= h.validUntil) this.#lose(h, 'could not extend it before it expired');
      return false;
    }
  }

  #lose(h: Held, reason: string): void {
    if (h.lost) return;
    h.lost = new LockLostError(h.key, reason);
    this.#forget(h);
    this.#statsFor(h.key).lost++;
    this.#m.lost.add(1, { prefix: prefixOf(h.key) });
    this.#log.error({ key: h.key, reason }, 'lock lost');
    h.controller?.abort(h.lost);
    this.#lost.emit({ key: h.key, token: h.token, reason });
  }

  #forget(h: Held): void {
    if (h.watchdog) this.#clock.clearInterval(h.watchdog);
    h.watchdog = undefined;
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
    observe(this.#statsFor(h.key).holdMs, held);
    this.#m.hold.record(held, { prefix: prefixOf(h.key) });
    if (left < 0) this.#lose(h, 'it had expired before release');
  }

  /** Releases every lease this manager holds and closes a backend it created. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#held.values()].map((h) => this.#release(h)));
    if (this.#ownsBackend) await this.#backend.close();
  }
}

export function createLockManager(options: LockManagerOptions = {}): LockManager {
  return new LockManager(options);
}

let defaultManager: LockManager | undefined;
/** The manager `@WithLock` uses when given none (in-memory until replaced with `setLockManager`). */
export function getLockManager(): LockManager {
  defaultManager ??= new LockManager();
  return defaultManager;
}
export function setLockManager(manager: LockManager): void {
  defaultManager = manager;
}
