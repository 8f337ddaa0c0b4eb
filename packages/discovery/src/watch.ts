import { type Clock, type Logger, type ResolvedBackoffOptions, runBlockingQueryLoop } from '@ballast/core';
import type { DiscoveryBackend, ServiceInstance } from './backend';

export interface WatchSnapshot {
  instances: readonly ServiceInstance[];
  index: number;
  /** clock.now() of the response that produced it. */
  at: number;
}

export interface WatchOptions {
  backend: DiscoveryBackend;
  name: string;
  tag?: string;
  /** Registry-side filter expression (Consul `?filter=`). */
  filter?: string | undefined;
  waitMs: number;
  backoff: ResolvedBackoffOptions;
  rateLimit: { burst: number; perSecond: number };
  clock: Clock;
  logger?: Logger;
  random?: () => number;
  onSnapshot(snapshot: WatchSnapshot): void;
  onRequest?(): void;
  onError?(error: unknown): void;
}

/** Consul's blocking-query rules and the request rate limiter live in core, shared with config-center. */
export { nextBlockingIndex as nextIndex, RateLimiter } from '@ballast/core';

/**
 * One blocking watch of one service (and tag): a loop of blocking queries that keeps a snapshot current,
 * backing off with jitter on errors and rate-limited so a flapping service cannot make it spin.
 */
export class ServiceWatch {
  readonly #o: WatchOptions;
  readonly #abort = new AbortController();
  #snapshot: WatchSnapshot | undefined;
  #healthy = false;
  #lastError: unknown;
  #first: Promise<WatchSnapshot>;
  #settleFirst!: { resolve: (s: WatchSnapshot) => void; reject: (e: unknown) => void };
  #firstSettled = false;
  /** The index sent with each request, newest last (tests read it). */
  readonly sentIndexes: number[] = [];
  lastUsed: number;
  subscribers = 0;
  readonly done: Promise<void>;

  constructor(options: WatchOptions) {
    this.#o = options;
    this.lastUsed = options.clock.now();
    this.#first = new Promise((resolve, reject) => {
      this.#settleFirst = { resolve, reject };
    });
    this.#first.catch(() => {}); // observed by lookups; never an unhandled rejection
    this.done = this.#loop();
  }

  get snapshot(): WatchSnapshot | undefined {
    return this.#snapshot;
  }
  /** The last round succeeded: the snapshot is as current as the backend's blocking semantics make it. */
  get healthy(): boolean {
    return this.#healthy;
  }
  get lastError(): unknown {
    return this.#lastError;
  }
  get stopped(): boolean {
    return this.#abort.signal.aborted;
  }
  /** The first round's outcome: every cold-miss lookup awaits this one request (single flight). */
  get first(): Promise<WatchSnapshot> {
    return this.#first;
  }

  stop(): Promise<void> {
    this.#abort.abort();
    return this.done;
  }

  async #loop(): Promise<void> {
    const o = this.#o;
    const signal = this.#abort.signal;
    await runBlockingQueryLoop({
      signal,
      clock: o.clock,
      backoff: o.backoff,
      rateLimit: o.rateLimit,
      ...(o.random ? { random: o.random } : {}),
      onRequest: (index) => {
        this.sentIndexes.push(index);
        if (this.sentIndexes.length > 64) this.sentIndexes.shift();
        o.onRequest?.();
      },
      query: async (index, s) => {
        const res = await o.backend.query(o.name, {
          tag: o.tag,
          ...(o.filter === undefined ? {} : { filter: o.filter }),
          index,
          waitMs: o.waitMs,
          signal: s,
        });
        return { index: res.index, value: res };
      },
      onValue: (res) => {
        this.#healthy = true;
        this.#lastError = undefined;
        this.#snapshot = { instances: res.instances, index: res.index, at: o.clock.now() };
        o.onSnapshot(this.#snapshot);
        if (!this.#firstSettled) {
          this.#firstSettled = true;
          this.#settleFirst.resolve(this.#snapshot);
        }
      },
      onError: (error) => {
        this.#healthy = false;
        this.#lastError = error;
        o.onError?.(error);
        o.logger?.warn({ service: o.name, err: error }, 'discovery watch failed; backing off');
        if (!this.#firstSettled) {
          this.#firstSettled = true;
          this.#settleFirst.reject(error);
        }
      },
    });
    if (!this.#firstSettled) {
      this.#firstSettled = true;
      this.#settleFirst.reject(new Error('watch stopped'));
    }
  }
}
