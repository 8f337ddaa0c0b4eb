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
  /** Its prefix's stats (kept here so release and loss need no key parsing). */
  entry: PrefixEntry;
  /** The watchdog group it is extended by, and when next (monotonic ms); undefined: not auto-extended. */
  group: WatchGroup | undefined;
  due: number;
}

/** Stats of one key prefix, with the metric attributes object reused by every record. */
interface PrefixEntry {
  stats: LockStats;
  attrs: { prefix: string };
}

/**
 * Every auto-extended lease of one extension interval (ttl/3) sits in one insertion-ordered set, due times
 * ascending (each is re-added at the tail when extended), so ONE timer per interval — armed at the head's due
 * time — serves them all: taking and dropping a lease costs a set insert and delete, not a timer of its own.
 */
interface WatchGroup {
  interval: number;
  leases: Set<Held>;
  timer: TimerHandle | undefined;
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

const WRITER_PREFERENCE = Object.freeze({ writerPreference: true });
const NO_PREFERENCE = Object.freeze({ writerPreference: false });

/** Stats are kept per key prefix: `user:42` → `user`. */
function prefixOf(key: string): string {
  const i = key.indexOf(':');
  return i < 0 ? key : key.slice(0, i);
}

/** Acquire options once checked (`mode` may still be unset: exclusive). */
type CheckedAcquire = AcquireLockOptions;

/**
 * The acquire options checked by hand: the same rules as `acquireOptionsSchema`, without zod's cost on every
 * call. Undefined when anything is off — the caller then runs the schema, which names the problem.
 */
function quickAcquireOptions(options: AcquireLockOptions): CheckedAcquire | undefined {
  if (typeof options !== 'object' || options === null) return undefined;
  for (const name in options) {
    const v = (options as Record<string, unknown>)[name];
    if (v === undefined) continue;
    switch (name) {
      case 'ttlMs':
        if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) return undefined;
        break;
      case 'waitMs':
        if (typeof v !== 'number' || !(v >= 0)) return undefined;
        break;
      case 'mode':
        if (v !== 'exclusive' && v !== 'shared') return undefined;
        break;
      case 'signal':
        if (!(v instanceof AbortSignal)) return undefined;
        break;
      case 'owner':
        if (typeof v !== 'string' || v.length === 0) return undefined;
        break;
      case 'autoExtend':
        if (typeof v !== 'boolean') return undefined;
        break;
      default:
        return undefined;
    }
  }
  return options;
}

const RESOLVED = Promise.resolve();

/** What a lease needs of its manager. */
interface LeaseOps {
  extend(h: Held, ttlMs: number): Promise<boolean>;
  release(h: Held): Promise<void>;
}

/** A class, not an object literal of closures: one allocation per lease on the hot path. */
class HeldLease implements Lease {
  readonly key: string;
  readonly mode: LockMode;
  readonly token: string;
  readonly fencingToken: number;
  readonly count: number;
  readonly #h: Held;
  readonly #ops: LeaseOps;
  readonly #ttlMs: number;
  #released = false;

  constructor(h: Held, ops: LeaseOps, ttlMs: number, fencingToken: number, count: number) {
    this.key = h.key;
    this.mode = h.mode;
    this.token = h.token;
    this.fencingToken = fencingToken;
    this.count = count;
    this.#h = h;
    this.#ops = ops;
    this.#ttlMs = ttlMs;
  }

  get signal(): AbortSignal {
    return signalOf(this.#h);
  }

  get validUntil(): number {
    return this.#h.validUntil;
  }

  extend(ms: number = this.#ttlMs): Promise<boolean> {
    return this.#ops.extend(this.#h, ms);
  }

  release(): Promise<void> {
    if (this.#released) return RESOLVED;
    this.#released = true;
    return this.#ops.release(this.#h);
  }

  [ASYNC_DISPOSE](): Promise<void> {
    return this.release();
  }
}

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
  readonly #prefixes = new Map<string, PrefixEntry>();
  readonly #groups = new Map<number, WatchGroup>(); // extension interval → leases
  /** Owner ids are `<sequence>.<this manager's UUID>`: unique, and no UUID drawn per acquisition. */
  readonly #id = randomUUID();
  #seq = 0;
  readonly #ops: LeaseOps = { extend: (h, ms) => this.#extend(h, ms), release: (h) => this.#release(h) };
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
    return Object.fromEntries([...this.#prefixes].map(([k, v]) => [k, structuredClone(v.stats)]));
  }

  #entryFor(key: string): PrefixEntry {
    const p = prefixOf(key);
    let e = this.#prefixes.get(p);
    if (!e) {
      e = { stats: emptyStats(), attrs: Object.freeze({ prefix: p }) };
      this.#prefixes.set(p, e);
    }
    return e;
  }

  async #acquire(key: string, options: AcquireLockOptions, wait: boolean): Promise<Lease | undefined> {
    if (this.#closed) throw new InvalidLockKeyError('the lock manager is closed');
    if (typeof key !== 'string' || key.length === 0)
      throw new InvalidLockKeyError('lock key must be a non-empty string');
    const o = quickAcquireOptions(options) ?? parseOptions(acquireOptionsSchema, options, 'acquire');
    const ttlMs = o.ttlMs ?? this.#o.ttlMs;
    const mode = o.mode ?? 'exclusive';
    const owner = o.owner ?? this.#als.getStore()?.owner ?? this.#newOwner();
    const entry = this.#entryFor(key);
    const started = this.#clock.monotonic();
    if (o.signal?.aborted) throw abortedError(o.signal);
    // The first attempt: most acquisitions end here.
    const r = await this.#backend.tryAcquire(
      key,
      owner,
      mode,
      ttlMs,
      // An exclusive request that never registered as a waiter has no registration to drop.
      mode === 'shared' && this.#o.writerPreference ? WRITER_PREFERENCE : NO_PREFERENCE,
    );
    if (r.acquired) return this.#granted(key, mode, o, owner, ttlMs, entry, started, started, r.fencingToken, r.count);
    if (!wait) return undefined;
    return this.#wait(key, mode, o, owner, ttlMs, entry, started, r.retryAfterMs);
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
  ): Promise<Lease> {
    const signal = o.signal;
    const deadline = started + (o.waitMs ?? this.#o.waitMs);
    const writer = mode === 'exclusive' && this.#o.writerPreference;
    const preference = this.#o.writerPreference ? WRITER_PREFERENCE : NO_PREFERENCE;
    let unsubscribe: (() => void) | undefined;
    let wake: (() => void) | undefined;
    // Set by a release notification at any time — also while an attempt is in flight, when there is no
    // sleep to cut short yet: the next sleep is then skipped instead of missing the wake-up.
    let released = false;
    let retryAfterMs = firstRetryAfterMs;
    entry.stats.contended++;
    this.#m.contended.add(1, entry.attrs);
    this.#checkDeadlock(owner, key);
    this.#waitsFor.set(owner, key);
    try {
      if (writer) await this.#backend.addWaiter(key, owner, Math.max(ttlMs, 1_000));
      unsubscribe = this.#backend.onRelease(key, () => {
        released = true;
        wake?.();
      });
      await (this.#backend as { subscribed?: (k: string) => Promise<void> }).subscribed?.(key);
      // A release may have happened before we subscribed: try once more before sleeping.
      for (let slept = false; ; slept = true) {
        if (slept) {
          const now = this.#clock.monotonic();
          if (now >= deadline) {
            entry.stats.timeouts++;
            throw new LockTimeoutError(key, Math.round(now - started));
          }
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
        const r = await this.#backend.tryAcquire(key, owner, mode, ttlMs, preference);
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
      if (autoExtend) this.#watch(held, held.acquiredAt);
    }
    held.count = count;
    return new HeldLease(held, this.#ops, ttlMs, fencingToken, count);
  }

  /** Puts `h` at the tail of its interval's watchdog group (due one interval from `now`). */
  #watch(h: Held, now: number): void {
    const interval = Math.max(1, Math.floor(h.ttlMs / 3));
    let g = this.#groups.get(interval);
    if (!g) {
      g = { interval, leases: new Set(), timer: undefined };
      this.#groups.set(interval, g);
    }
    h.group = g;
    h.due = now + interval;
    g.leases.add(h);
    if (!g.timer) this.#arm(g, interval);
  }

  #unwatch(h: Held): void {
    h.group?.leases.delete(h);
    h.group = undefined;
  }

  #arm(g: WatchGroup, delay: number): void {
    g.timer = this.#clock.setTimeout(() => this.#tick(g), Math.max(1, delay));
    g.timer.unref?.();
  }

  /** Extends every lease of `g` that is due, moves it to the tail, and re-arms for the new head. */
  #tick(g: WatchGroup): void {
    g.timer = undefined;
    if (this.#closed) return;
    const now = this.#clock.monotonic();
    const due: Held[] = [];
    for (const h of g.leases) {
      if (h.due > now) break;
      due.push(h);
    }
    for (const h of due) {
      g.leases.delete(h);
      h.due = now + g.interval;
      g.leases.add(h);
      // #extend never rejects: failures are logged and, past validity, turn into a lost lease.
      void this.#extend(h, h.ttlMs);
    }
    for (const head of g.leases) {
      this.#arm(g, head.due - now);
      return;
    }
    this.#groups.delete(g.interval);
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
        // A new ttl means a new extension interval.
        if (h.group && h.group.interval !== Math.max(1, Math.floor(ttlMs / 3))) {
          this.#unwatch(h);
          this.#watch(h, this.#clock.monotonic());
        }
      }
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
    h.entry.stats.lost++;
    this.#m.lost.add(1, h.entry.attrs);
    this.#log.error({ key: h.key, reason }, 'lock lost');
    h.controller?.abort(h.lost);
    this.#lost.emit({ key: h.key, token: h.token, reason });
  }

  #forget(h: Held): void {
    this.#unwatch(h);
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
    for (const g of this.#groups.values()) if (g.timer) this.#clock.clearTimeout(g.timer);
    this.#groups.clear();
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
