import { type Clock, systemClock, type TimerHandle } from '@ballast/core';
import type {
  DiscoveryBackend,
  InstanceStatus,
  QueryOptions,
  QueryResult,
  RegistrationSpec,
  ServiceInstance,
} from '../backend';
import { instanceUrl } from '../backend';
import { RegistrationLostError } from '../errors';

interface Entry {
  spec: RegistrationSpec;
  status: InstanceStatus;
  ttlTimer?: TimerHandle;
  reapTimer?: TimerHandle;
}

export interface MemoryBackendOptions {
  clock?: Clock;
}

/**
 * One process's registry: for tests and single-process apps. Same semantics as the others: TTL checks go
 * critical when not heartbeated, `deregisterCriticalAfterMs` removes, blocking queries wait on an index.
 */
export class MemoryBackend implements DiscoveryBackend {
  readonly kind = 'memory' as const;
  readonly runsHttpChecks = false;
  readonly #clock: Clock;
  readonly #entries = new Map<string, Entry>();
  readonly #serviceIndex = new Map<string, number>();
  readonly #waiters = new Map<() => void, () => void>();
  #index = 1;

  constructor(options: MemoryBackendOptions = {}) {
    this.#clock = options.clock ?? systemClock;
  }

  #bump(service: string): void {
    this.#index += 1;
    this.#serviceIndex.set(service, this.#index);
    for (const w of [...this.#waiters.keys()]) w();
  }

  async register(spec: RegistrationSpec): Promise<void> {
    const old = this.#entries.get(spec.id);
    if (old) this.#clear(old);
    const entry: Entry = { spec, status: spec.status ?? (spec.check ? 'critical' : 'passing') };
    this.#entries.set(spec.id, entry);
    this.#arm(entry);
    if (old && old.spec.name !== spec.name) this.#bump(old.spec.name);
    this.#bump(spec.name);
  }

  async deregister(id: string): Promise<void> {
    const e = this.#entries.get(id);
    if (!e) return;
    this.#clear(e);
    this.#entries.delete(id);
    this.#bump(e.spec.name);
  }

  async heartbeat(id: string, status: InstanceStatus): Promise<void> {
    const e = this.#entries.get(id);
    if (!e) throw new RegistrationLostError(id);
    this.#setStatus(e, status);
    this.#arm(e);
  }

  async isRegistered(id: string): Promise<boolean> {
    return this.#entries.has(id);
  }

  #setStatus(e: Entry, status: InstanceStatus): void {
    if (e.status === status) return;
    e.status = status;
    this.#bump(e.spec.name);
    this.#armReap(e);
  }

  #clear(e: Entry): void {
    if (e.ttlTimer) this.#clock.clearTimeout(e.ttlTimer);
    if (e.reapTimer) this.#clock.clearTimeout(e.reapTimer);
    e.ttlTimer = undefined;
    e.reapTimer = undefined;
  }

  #arm(e: Entry): void {
    if (e.ttlTimer) this.#clock.clearTimeout(e.ttlTimer);
    e.ttlTimer = undefined;
    const c = e.spec.check;
    if (c && 'ttlMs' in c) {
      e.ttlTimer = this.#clock.setTimeout(() => {
        e.ttlTimer = undefined;
        if (this.#entries.get(e.spec.id) === e) this.#setStatus(e, 'critical');
      }, c.ttlMs);
      e.ttlTimer.unref();
    }
    this.#armReap(e);
  }

  #armReap(e: Entry): void {
    const after = e.spec.check?.deregisterCriticalAfterMs;
    if (e.status !== 'critical') {
      if (e.reapTimer) this.#clock.clearTimeout(e.reapTimer);
      e.reapTimer = undefined;
      return;
    }
    if (after === undefined || e.reapTimer) return;
    e.reapTimer = this.#clock.setTimeout(() => {
      if (this.#entries.get(e.spec.id) === e && e.status === 'critical') void this.deregister(e.spec.id);
    }, after);
    e.reapTimer.unref();
  }

  #snapshot(name: string, tag?: string): QueryResult {
    const instances: ServiceInstance[] = [];
    for (const { spec, status } of this.#entries.values()) {
      if (spec.name !== name || (tag && !spec.tags.includes(tag))) continue;
      instances.push({
        id: spec.id,
        name: spec.name,
        address: spec.address,
        port: spec.port,
        tags: [...spec.tags],
        meta: { ...spec.meta },
        status,
        url: instanceUrl(spec.address, spec.port),
      });
    }
    return { index: this.#serviceIndex.get(name) ?? 1, instances };
  }

  query(name: string, options: QueryOptions = {}): Promise<QueryResult> {
    const min = options.index ?? 0;
    const first = this.#snapshot(name, options.tag);
    if (min <= 0 || first.index > min || options.signal?.aborted) return Promise.resolve(first);
    return new Promise((resolve) => {
      const finish = () => {
        this.#waiters.delete(check);
        this.#clock.clearTimeout(timer);
        options.signal?.removeEventListener('abort', finish);
        resolve(this.#snapshot(name, options.tag));
      };
      const check = () => {
        if ((this.#serviceIndex.get(name) ?? 1) > min) finish();
      };
      this.#waiters.set(check, finish);
      const timer = this.#clock.setTimeout(finish, options.waitMs ?? 300_000);
      timer.unref();
      options.signal?.addEventListener('abort', finish, { once: true });
    });
  }

  async close(): Promise<void> {
    for (const e of this.#entries.values()) this.#clear(e);
    for (const finish of [...this.#waiters.values()]) finish();
  }
}
