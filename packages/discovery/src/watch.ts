import {
  type Backoff,
  backoffFromResolved,
  type Clock,
  type Logger,
  type ResolvedBackoffOptions,
  sleep,
} from '@ballast/core';
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

/** A token bucket on the clock: `take()` resolves when a request may go. */
export class RateLimiter {
  #tokens: number;
  #last: number;
  constructor(
    readonly burst: number,
    readonly perSecond: number,
    readonly clock: Clock,
  ) {
    this.#tokens = burst;
    this.#last = clock.monotonic();
  }
  /** ms to wait before the next token (0 = one is available and was taken). */
  tryTake(): number {
    const now = this.clock.monotonic();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) / 1_000) * this.perSecond);
    this.#last = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.#tokens) / this.perSecond) * 1_000);
  }
  async take(signal: AbortSignal): Promise<void> {
    for (let wait = this.tryTake(); wait > 0; wait = this.tryTake()) await sleep(this.clock, wait, signal);
  }
}

/**
 * Consul's blocking-query rules for the next `index`: reset to 0 when the index went backwards (the
 * cluster was rebuilt or the data restored), and never below 1 (an index of 0 would not block, and a
 * buggy 0 from the server would make a busy loop).
 */
export function nextIndex(previous: number, received: number): number {
  const next = Number.isFinite(received) && received >= previous ? received : 0;
  return Math.max(1, next);
}

/**
 * One blocking watch of one service (and tag): a loop of blocking queries that keeps a snapshot current,
 * backing off with jitter on errors and rate-limited so a flapping service cannot make it spin.
 */
export class ServiceWatch {
  readonly #o: WatchOptions;
  readonly #abort = new AbortController();
  readonly #limiter: RateLimiter;
  readonly #backoff: Backoff;
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
    this.#limiter = new RateLimiter(options.rateLimit.burst, options.rateLimit.perSecond, options.clock);
    this.#backoff = backoffFromResolved(options.backoff, options.random);
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
    let index = 0;
    while (!signal.aborted) {
      try {
        await this.#limiter.take(signal);
        if (signal.aborted) break;
        this.sentIndexes.push(index);
        if (this.sentIndexes.length > 64) this.sentIndexes.shift();
        o.onRequest?.();
        const res = await o.backend.query(o.name, { tag: o.tag, index, waitMs: o.waitMs, signal });
        if (signal.aborted) break;
        index = nextIndex(index, res.index);
        this.#healthy = true;
        this.#lastError = undefined;
        this.#backoff.reset();
        this.#snapshot = { instances: res.instances, index: res.index, at: o.clock.now() };
        o.onSnapshot(this.#snapshot);
        if (!this.#firstSettled) {
          this.#firstSettled = true;
          this.#settleFirst.resolve(this.#snapshot);
        }
      } catch (error) {
        if (signal.aborted) break;
        this.#healthy = false;
        this.#lastError = error;
        // After an error, confirm with a non-blocking read before blocking again.
        index = 0;
        o.onError?.(error);
        o.logger?.warn({ service: o.name, err: error }, 'discovery watch failed; backing off');
        if (!this.#firstSettled) {
          this.#firstSettled = true;
          this.#settleFirst.reject(error);
        }
        try {
          await sleep(o.clock, this.#backoff.next(), signal);
        } catch {
          break; // aborted
        }
      }
    }
    if (!this.#firstSettled) {
      this.#firstSettled = true;
      this.#settleFirst.reject(new Error('watch stopped'));
    }
  }
}
