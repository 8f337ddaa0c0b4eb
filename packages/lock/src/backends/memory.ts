import { type Clock, systemClock } from '@ballast/core';
import type { AcquireOptions, AcquireResult, LockBackend, LockHolders, LockMode } from '../backend';

interface Resource {
  mode: LockMode | undefined;
  /** token → { count, expiresAt } */
  holders: Map<string, { count: number; expiresAt: number }>;
  /** token → expiresAt of registered exclusive waiters */
  waiters: Map<string, number>;
  fence: number;
  listeners: Set<() => void>;
}

/** In-process locks with the Redis backend's exact rules (the embedded default: one process only). */
export class MemoryLockBackend implements LockBackend {
  readonly #clock: Clock;
  readonly #resources = new Map<string, Resource>();

  constructor(options: { clock?: Clock } = {}) {
    this.#clock = options.clock ?? systemClock;
  }

  #get(resource: string): Resource {
    let r = this.#resources.get(resource);
    if (!r) {
      r = { mode: undefined, holders: new Map(), waiters: new Map(), fence: 0, listeners: new Set() };
      this.#resources.set(resource, r);
    }
    const now = this.#clock.now();
    for (const [t, h] of r.holders) if (h.expiresAt <= now) r.holders.delete(t);
    for (const [t, at] of r.waiters) if (at <= now) r.waiters.delete(t);
    if (r.holders.size === 0) r.mode = undefined;
    return r;
  }

  async tryAcquire(
    resource: string,
    token: string,
    mode: LockMode,
    ttlMs: number,
    options: AcquireOptions = {},
  ): Promise<AcquireResult> {
    const r = this.#get(resource);
    const now = this.#clock.now();
    const waiting = options.writerPreference === true && r.waiters.size > 0;
    const mine = r.holders.get(token);
    const ok = mine
      ? r.mode === mode
      : r.holders.size === 0
        ? !(mode === 'shared' && waiting)
        : mode === 'shared' && r.mode === 'shared' && !waiting;
    if (!ok) {
      let latest = now;
      for (const h of r.holders.values()) latest = Math.max(latest, h.expiresAt);
      return { acquired: false, retryAfterMs: latest - now };
    }
    const count = (mine?.count ?? 0) + 1;
    r.holders.set(token, { count, expiresAt: now + ttlMs });
    r.mode = mode;
    r.waiters.delete(token);
    r.fence++;
    return { acquired: true, fencingToken: r.fence, count };
  }

  async extend(resource: string, token: string, mode: LockMode, ttlMs: number): Promise<boolean> {
    const r = this.#get(resource);
    const h = r.holders.get(token);
    if (!h || r.mode !== mode) return false;
    h.expiresAt = this.#clock.now() + ttlMs;
    return true;
  }

  async release(resource: string, token: string, mode: LockMode): Promise<number> {
    const r = this.#get(resource);
    const h = r.holders.get(token);
    if (!h || r.mode !== mode) return -1;
    h.count--;
    if (h.count > 0) return h.count;
    r.holders.delete(token);
    if (r.holders.size === 0) r.mode = undefined;
    for (const listener of [...r.listeners]) queueMicrotask(listener);
    return 0;
  }

  async addWaiter(resource: string, token: string, ttlMs: number): Promise<void> {
    this.#get(resource).waiters.set(token, this.#clock.now() + ttlMs);
  }

  async removeWaiter(resource: string, token: string): Promise<void> {
    this.#get(resource).waiters.delete(token);
  }

  onRelease(resource: string, listener: () => void): () => void {
    const r = this.#get(resource);
    r.listeners.add(listener);
    return () => void r.listeners.delete(listener);
  }

  async holders(resource: string): Promise<LockHolders> {
    const r = this.#get(resource);
    return { mode: r.mode, holders: Object.fromEntries([...r.holders].map(([t, h]) => [t, h.count])) };
  }

  async close(): Promise<void> {
    for (const r of this.#resources.values()) r.listeners.clear();
  }
}
