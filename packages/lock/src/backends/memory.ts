import { type Clock, EventEmitter, systemClock } from '@ballast/core';
import type { AcquireOptions, AcquireResult, LockBackend, LockHolders, LockMode } from '../backend';
import { LockBackendClosedError } from './errors';

export interface MemoryLockBackendOptions {
  /** Where expiries are read from (`clock.now()`); default `systemClock`. */
  clock?: Clock;
}

interface Holder {
  count: number;
  /** `clock.now()` ms at which the holder stops counting (expired when expiresAt ≤ now). */
  expiresAt: number;
}

/** The live state of one resource; dropped as soon as it has neither holders nor waiters. */
interface Entry {
  /** Meaningful only while `holders` is non-empty: a free resource forgets its mode. */
  mode: LockMode | undefined;
  holders: Map<string, Holder>;
  /** token → expiresAt of registered exclusive waiters (writer preference) */
  waiters: Map<string, number>;
}

/**
 * In-process locks with the Redis backend's exact rules (the acquire/extend/release Lua scripts): the
 * embedded default, for one process only. Every operation first drops holders and waiters whose expiry is
 * ≤ now, then decides atomically (nothing is awaited in between). Release wake-ups are delivered on a
 * microtask, never inside the releasing caller's stack, as pub/sub delivers them later too.
 */
export class MemoryLockBackend implements LockBackend {
  readonly #clock: Clock;
  readonly #entries = new Map<string, Entry>();
  /** The last fencing token handed out per resource: never reset, as Redis' `fence` counter. */
  readonly #fences = new Map<string, number>();
  readonly #released = new Map<string, EventEmitter<void>>();
  #closed = false;

  constructor(options: MemoryLockBackendOptions = {}) {
    this.#clock = options.clock ?? systemClock;
  }

  async tryAcquire(
    resource: string,
    token: string,
    mode: LockMode,
    ttlMs: number,
    options: AcquireOptions = {},
  ): Promise<AcquireResult> {
    return this.#run('tryAcquire', resource, (e, now) => {
      const waiting = options.writerPreference === true && e.waiters.size > 0;
      const mine = e.holders.get(token);
      const ok = mine
        ? e.mode === mode // reentrant in the same mode only: no upgrade, no downgrade
        : e.holders.size === 0
          ? !(mode === 'shared' && waiting)
          : mode === 'shared' && e.mode === 'shared' && !waiting;
      if (!ok) {
        let latest = now;
        for (const h of e.holders.values()) latest = Math.max(latest, h.expiresAt);
        return { acquired: false, retryAfterMs: latest - now };
      }
      const count = (mine?.count ?? 0) + 1;
      e.holders.set(token, { count, expiresAt: now + Math.ceil(ttlMs) });
      e.mode = mode;
      e.waiters.delete(token);
      const fencingToken = (this.#fences.get(resource) ?? 0) + 1;
      this.#fences.set(resource, fencingToken);
      return { acquired: true, fencingToken, count };
    });
  }

  async extend(resource: string, token: string, mode: LockMode, ttlMs: number): Promise<boolean> {
    return this.#run('extend', resource, (e, now) => {
      const h = e.holders.get(token);
      if (!h || e.mode !== mode) return false;
      h.expiresAt = now + Math.ceil(ttlMs);
      return true;
    });
  }

  async release(resource: string, token: string, mode: LockMode): Promise<number> {
    return this.#run('release', resource, (e) => {
      const h = e.holders.get(token);
      if (!h || e.mode !== mode) return -1;
      h.count--;
      if (h.count > 0) return h.count;
      e.holders.delete(token);
      if (e.holders.size === 0) e.mode = undefined;
      this.#wake(resource);
      return 0;
    });
  }

  async addWaiter(resource: string, token: string, ttlMs: number): Promise<void> {
    this.#run('addWaiter', resource, (e, now) => {
      e.waiters.set(token, now + Math.ceil(ttlMs));
    });
  }

  async removeWaiter(resource: string, token: string): Promise<void> {
    this.#run('removeWaiter', resource, (e) => {
      e.waiters.delete(token);
    });
  }

  /** Throws `LockBackendClosedError` once closed; the returned unsubscribe is idempotent. */
  onRelease(resource: string, listener: () => void): () => void {
    this.#assertOpen('onRelease');
    let emitter = this.#released.get(resource);
    if (!emitter) {
      emitter = new EventEmitter<void>(`lock released: ${resource}`);
      this.#released.set(resource, emitter);
    }
    const subscribed = emitter;
    const off = subscribed.event(() => listener());
    return () => {
      off();
      if (subscribed.size === 0 && this.#released.get(resource) === subscribed) this.#released.delete(resource);
    };
  }

  async holders(resource: string): Promise<LockHolders> {
    return this.#run('holders', resource, (e) => ({
      mode: e.holders.size > 0 ? e.mode : undefined,
      holders: Object.fromEntries([...e.holders].map(([token, h]) => [token, h.count])),
    }));
  }

  /** Idempotent. Drops every lock, waiter and listener; later operations reject with `LockBackendClosedError`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const emitter of this.#released.values()) emitter.clear();
    this.#released.clear();
    this.#entries.clear();
    this.#fences.clear();
  }

  /**
   * One atomic step on `resource`: purge what expired at `now`, decide, then forget the entry if nothing
   * lives in it any more (the fencing counter stays).
   */
  #run<T>(operation: string, resource: string, step: (entry: Entry, now: number) => T): T {
    this.#assertOpen(operation);
    const now = this.#clock.now();
    let e = this.#entries.get(resource);
    if (e) {
      for (const [token, h] of e.holders) if (h.expiresAt <= now) e.holders.delete(token);
      for (const [token, at] of e.waiters) if (at <= now) e.waiters.delete(token);
      if (e.holders.size === 0) e.mode = undefined;
    } else {
      e = { mode: undefined, holders: new Map(), waiters: new Map() };
    }
    const result = step(e, now);
    if (e.holders.size > 0 || e.waiters.size > 0) this.#entries.set(resource, e);
    else this.#entries.delete(resource);
    return result;
  }

  /** Release wake-up on a microtask, to whoever listens when it is delivered (like a pub/sub message). */
  #wake(resource: string): void {
    if (!this.#released.has(resource)) return;
    queueMicrotask(() => {
      if (!this.#closed) this.#released.get(resource)?.emit();
    });
  }

  #assertOpen(operation: string): void {
    if (this.#closed) throw new LockBackendClosedError('MemoryLockBackend', operation);
  }
}
