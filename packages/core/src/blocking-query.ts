/**
 * Consul's blocking-query rules (https://developer.hashicorp.com/consul/api-docs/features/blocking,
 * "Implementation Details"), once for every package that watches Consul (discovery, config-center): the next
 * `?index=` resets when the index goes backwards and is never below 1; errors back off with jitter and restart from
 * a non-blocking read; and requests are rate-limited, since an answer that does not block (a missing or 0
 * `X-Consul-Index`, a busy key) would otherwise make a tight loop.
 */
import { type Backoff, backoffFromResolved, type ResolvedBackoffOptions } from './backoff';
import { type Clock, sleep } from './clock';

/**
 * The next `index` of a blocking query: reset when the index went backwards (the cluster was rebuilt or the data
 * restored), and never below 1 (an index of 0 does not block, and a buggy 0 from the server would busy-loop).
 */
export function nextBlockingIndex(previous: number, received: number): number {
  const next = Number.isFinite(received) && received >= previous ? received : 0;
  return Math.max(1, next);
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

export interface BlockingQueryLoopOptions<T> {
  /** One request with `?index=<index>` (0: a non-blocking read). */
  query(index: number, signal: AbortSignal): Promise<{ index: number; value: T }>;
  /** Each answer, in order. A throw is passed to `onError` and the loop goes on. */
  onValue(value: T, index: number): void;
  /** A failed request (the loop then backs off and restarts from a non-blocking read). */
  onError(error: unknown): void;
  /** Called before each request with the index it sends (tests, metrics). */
  onRequest?(index: number): void;
  clock: Clock;
  backoff: ResolvedBackoffOptions;
  /** Requests per second with a burst. Default `{ burst: 5, perSecond: 10 }`. */
  rateLimit?: { burst: number; perSecond: number };
  random?: () => number;
  signal: AbortSignal;
}

/** Runs blocking queries until `signal` aborts; never throws. Resolves when stopped. */
export async function runBlockingQueryLoop<T>(o: BlockingQueryLoopOptions<T>): Promise<void> {
  const { signal, clock } = o;
  const limit = o.rateLimit ?? { burst: 5, perSecond: 10 };
  const limiter = new RateLimiter(limit.burst, limit.perSecond, clock);
  const backoff: Backoff = backoffFromResolved(o.backoff, o.random);
  let index = 0;
  while (!signal.aborted) {
    let answer: { index: number; value: T };
    try {
      await limiter.take(signal);
      if (signal.aborted) return;
      o.onRequest?.(index);
      answer = await o.query(index, signal);
    } catch (error) {
      if (signal.aborted) return;
      // After an error, confirm with a non-blocking read before blocking again (the agent may have restarted).
      index = 0;
      o.onError(error);
      try {
        await sleep(clock, backoff.next(), signal);
      } catch {
        return; // aborted
      }
      continue;
    }
    if (signal.aborted) return;
    index = nextBlockingIndex(index, answer.index);
    backoff.reset();
    try {
      o.onValue(answer.value, answer.index);
    } catch (error) {
      o.onError(error);
    }
  }
}
