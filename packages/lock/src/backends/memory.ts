import { type Clock, EventEmitter, systemClock } from '@ballast/core';
import type {
  AcquireOptions,
  AcquireResult,
  FairAcquireOptions,
  FairGrant,
  LockBackend,
  LockHolders,
  LockInspection,
  LockMode,
} from '../backend';
import { LockBackendClosedError } from './errors';

export interface MemoryLockBackendOptions {
  /** Where expiries are read from (`clock.now()`); default `systemClock`. */
  clock?: Clock;
}

interface Holder {
  count: number;
  /** The hold's fencing token (one for the whole reentrant hold). */
  fence: number;
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
  /** Fair-mode waiters, oldest first (Map keeps insertion order): token → entry expiry and the ttl asked. */
  queue: Map<string, { expiresAt: number; ttlMs: number }>;
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
  /** The last fencing token handed out, for every resource: never reset, as Redis' counter. */
  #fence = 0;
  readonly #released = new Map<string, EventEmitter<FairGrant | undefined>>();
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
      e.waiters.delete(token);
      return this.#hold(e, token, mode, ttlMs, now);
    });
  }

  /** Grants (or re-enters) in `mode`; a re-entry keeps its fencing token and never shortens the hold. */
  #hold(e: Entry, token: string, mode: LockMode, ttlMs: number, now: number): AcquireResult {
    const mine = e.holders.get(token);
    const expiresAt = Math.max(mine?.expiresAt ?? 0, now + Math.ceil(ttlMs));
    const h = mine ?? { count: 0, fence: ++this.#fence, expiresAt };
    h.count++;
    h.expiresAt = expiresAt;
    e.holders.set(token, h);
    e.mode = mode;
    return { acquired: true, fencingToken: h.fence, count: h.count, ttlMs: expiresAt - now };
  }

  async tryAcquireFair(
    resource: string,
    token: string,
    ttlMs: number,
    options: FairAcquireOptions,
  ): Promise<AcquireResult> {
    return this.#run('tryAcquireFair', resource, (e, now) => {
      const mine = e.holders.get(token);
      if (mine && e.mode === 'exclusive') {
        if (options.waiting)
          return { acquired: true, fencingToken: mine.fence, count: mine.count, ttlMs: mine.expiresAt - now };
        return this.#hold(e, token, 'exclusive', ttlMs, now);
      }
      if (e.holders.size === 0) {
        const head = e.queue.keys().next();
        if (head.done || head.value === token) {
          e.queue.delete(token);
          e.waiters.delete(token);
          return this.#hold(e, token, 'exclusive', ttlMs, now);
        }
        this.#handOff(resource, e, now); // its holder expired: the oldest waiter gets it, the caller waits
      }
      let latest = now;
      for (const h of e.holders.values()) latest = Math.max(latest, h.expiresAt);
      if (options.queueMs <= 0) return { acquired: false, retryAfterMs: latest - now };
      const expiresAt = now + Math.ceil(options.queueMs);
      const entry = e.queue.get(token);
      if (entry) entry.expiresAt = expiresAt;
      else e.queue.set(token, { expiresAt, ttlMs: Math.ceil(ttlMs) });
      e.waiters.set(token, expiresAt);
      return { acquired: false, retryAfterMs: latest - now, serverTime: now };
    });
  }

  async leaveQueue(resource: string, token: string): Promise<boolean> {
    return this.#run('leaveQueue', resource, (e, now) => {
      e.queue.delete(token);
      e.waiters.delete(token);
      if (e.mode !== 'exclusive' || !e.holders.has(token)) return false;
      e.holders.delete(token);
      e.mode = undefined;
      this.#freed(resource, e, now);
      return true;
    });
  }

  /** The lock just became free: hand it to the oldest live waiter (announced), else wake everyone. */
  #freed(resource: string, e: Entry, now: number): void {
    if (!this.#handOff(resource, e, now)) this.#wake(resource, undefined);
  }

  /** Gives the free lock to the oldest queued waiter whose entry is alive (entries purged at `now`). */
  #handOff(resource: string, e: Entry, now: number): boolean {
    const head = e.queue.entries().next();
    if (head.done) return false;
    const [token, entry] = head.value;
    e.queue.delete(token);
    e.waiters.delete(token);
    const ttlMs = Math.max(1, Math.min(entry.ttlMs, entry.expiresAt - now));
    const r = this.#hold(e, token, 'exclusive', ttlMs, now);
    if (r.acquired) this.#wake(resource, { token, fencingToken: r.fencingToken, ttlMs, serverTime: now });
    return true;
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
    return this.#run('release', resource, (e, now) => {
      const h = e.holders.get(token);
      if (!h || e.mode !== mode) return -1;
      h.count--;
      if (h.count > 0) return h.count;
      e.holders.delete(token);
      if (e.holders.size > 0) this.#wake(resource, undefined);
      else {
        e.mode = undefined;
        // Exclusive: handed to the oldest queued waiter in this same step. Shared: waiters retry.
        if (mode === 'exclusive') this.#freed(resource, e, now);
        else this.#wake(resource, undefined);
      }
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

  /** Always: in-process listeners hear every wake-up delivered after they registered. */
  listening(_resource: string): boolean {
    return !this.#closed;
  }

  /** Throws `LockBackendClosedError` once closed; the returned unsubscribe is idempotent. */
  onRelease(resource: string, listener: (grant?: FairGrant) => void): () => void {
    this.#assertOpen('onRelease');
    let emitter = this.#released.get(resource);
    if (!emitter) {
      emitter = new EventEmitter<FairGrant | undefined>(`lock released: ${resource}`);
      this.#released.set(resource, emitter);
    }
    const subscribed = emitter;
    const off = subscribed.event((grant) => listener(grant));
    return () => {
      off();
      if (subscribed.size === 0 && this.#released.get(resource) === subscribed) this.#released.delete(resource);
    };
  }

  /**
   * Converts `token`'s hold in place in one step (a read/write lease's upgrade or downgrade; the twin of
   * rw-convert.lua): `[1, fence]` converted (a downgrade keeps its token: `[1, 0]`, and wakes waiting readers),
   * `[0, otherReaders]` an upgrade refused, `[-1]` not held in the other mode. Never a release followed by an
   * acquire: a fair hand-off in between would give the key away.
   */
  async convert(resource: string, token: string, to: LockMode, ttlMs: number): Promise<number[]> {
    return this.#run('convert', resource, (e, now) => {
      const h = e.holders.get(token);
      if (!h || e.mode === to) return [-1];
      if (to === 'shared') {
        e.mode = 'shared';
        h.expiresAt = now + Math.ceil(ttlMs);
        this.#wake(resource, undefined);
        return [1, 0];
      }
      if (e.holders.size > 1) return [0, e.holders.size - 1];
      e.mode = 'exclusive';
      h.fence = ++this.#fence;
      h.expiresAt = now + Math.ceil(ttlMs);
      return [1, h.fence];
    });
  }

  async holders(resource: string): Promise<LockHolders> {
    return this.#run('holders', resource, (e) => ({
      mode: e.holders.size > 0 ? e.mode : undefined,
      holders: Object.fromEntries([...e.holders].map(([token, h]) => [token, h.count])),
    }));
  }

  async inspect(resource: string): Promise<LockInspection> {
    return this.#run('inspect', resource, (e, now) => {
      const queued = [...e.queue].map(([token, q]) => ({ token, ttlMs: q.expiresAt - now, queued: true }));
      const registered = [...e.waiters]
        .filter(([token]) => !e.queue.has(token))
        .map(([token, expiresAt]) => ({ token, ttlMs: expiresAt - now, queued: false }));
      return {
        mode: e.holders.size > 0 ? e.mode : undefined,
        holders: [...e.holders].map(([token, h]) => ({
          token,
          count: h.count,
          fencingToken: h.fence,
          ttlMs: h.expiresAt - now,
        })),
        waiters: [...queued, ...registered],
      };
    });
  }

  /** Idempotent. Drops every lock, waiter and listener; later operations reject with `LockBackendClosedError`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const emitter of this.#released.values()) emitter.clear();
    this.#released.clear();
    this.#entries.clear();
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
      for (const [token, q] of e.queue) if (q.expiresAt <= now) e.queue.delete(token);
      if (e.holders.size === 0) e.mode = undefined;
    } else {
      e = { mode: undefined, holders: new Map(), waiters: new Map(), queue: new Map() };
    }
    const result = step(e, now);
    if (e.holders.size > 0 || e.waiters.size > 0 || e.queue.size > 0) this.#entries.set(resource, e);
    else this.#entries.delete(resource);
    return result;
  }

  /** Release wake-up on a microtask, to whoever listens when it is delivered (like a pub/sub message). */
  #wake(resource: string, grant: FairGrant | undefined): void {
    if (!this.#released.has(resource)) return;
    queueMicrotask(() => {
      if (!this.#closed) this.#released.get(resource)?.emit(grant);
    });
  }

  #assertOpen(operation: string): void {
    if (this.#closed) throw new LockBackendClosedError('MemoryLockBackend', operation);
  }
}
