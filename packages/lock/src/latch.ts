import { abortedError, type Clock, childLogger, objectSchema, parseOptions, systemClock } from '@ballast/core';
import { z } from 'zod';
import { MemoryLatchBackend } from './backends/latch-memory';
import { RedisLatchBackend } from './backends/latch-redis';
import type { LatchBackend } from './latch-backend';
import { LatchTimeoutError, PrimitiveClosedError } from './primitive-errors';
import { primitiveInstruments } from './primitive-metrics';
import { commonPrimitiveShape, signalSchema, waitMsSchema } from './primitive-options';
import { processLatches } from './process-memory';
import { boundedCall, waitLoop } from './wait-loop';

export const latchOptionsSchema = z
  .object({
    /** The latch's name: latches of one name (and prefix, and backend) share their count. */
    name: z.string().min(1),
    /** Or any `LatchBackend` (e.g. one `MemoryLatchBackend` shared in a process). */
    backend: objectSchema<LatchBackend>('backend').optional(),
    ...commonPrimitiveShape,
  })
  .strict();
export type CountDownLatchOptions = z.input<typeof latchOptionsSchema>;

export const latchAwaitSchema = z
  .object({
    /** Give up after this long with `LatchTimeoutError`; default: wait until open or aborted. */
    timeoutMs: waitMsSchema.optional(),
    signal: signalSchema,
  })
  .strict();
export type LatchAwaitOptions = z.input<typeof latchAwaitSchema>;

const countSchema = z.number().int().positive();
const trySetSchema = z.object({ ttlMs: z.number().int().positive().optional() }).strict();

/**
 * A count-down latch shared by processes (Redisson's `RCountDownLatch`): `trySetCount(n)` arms it, each
 * `countDown()` takes one off, and every `await()` resolves once the count is 0. Waiters are woken by pub/sub and
 * re-check the count at least every `maxRetryDelayMs`, so a missed message delays a waiter, never hangs it.
 */
export class CountDownLatch {
  readonly name: string;
  readonly #o: ReturnType<typeof latchOptionsSchema.parse>;
  readonly #backend: LatchBackend;
  readonly #ownsBackend: boolean;
  readonly #clock: Clock;
  readonly #m = primitiveInstruments('latch');
  #closed = false;

  constructor(options: CountDownLatchOptions) {
    const o = parseOptions(latchOptionsSchema, options, 'createCountDownLatch');
    this.#o = o;
    this.name = o.name;
    this.#clock = o.clock ?? systemClock;
    this.#ownsBackend = o.backend === undefined && o.redis !== undefined;
    this.#backend =
      o.backend ??
      (o.redis
        ? new RedisLatchBackend({
            redis: o.redis,
            prefix: o.prefix,
            logger: childLogger(o.logger, { component: 'latch' }),
            commandTimeoutMs: o.commandTimeoutMs,
          })
        : o.clock
          ? new MemoryLatchBackend({ clock: o.clock })
          : processLatches());
  }

  #open(operation: string): void {
    if (this.#closed) throw new PrimitiveClosedError(`latch "${this.name}"`, operation);
  }

  /**
   * Arms the latch with `count` when it is open (count 0); false when it is counting already. `ttlMs` bounds the
   * latch's life on the backend (a latch nobody counts down is then forgotten, and its waiters are released).
   */
  async trySetCount(count: number, options: { ttlMs?: number } = {}): Promise<boolean> {
    this.#open('trySetCount');
    const n = parseOptions(countSchema, count, 'latch.trySetCount');
    const o = parseOptions(trySetSchema, options, 'latch.trySetCount');
    const ok = await this.#backend.trySetCount(this.name, n, o.ttlMs ?? 0);
    this.#m.count('trySetCount', ok ? 'granted' : 'refused');
    return ok;
  }

  /** Counts down by one; returns what is left. At 0 every waiter (in every process) is released. */
  async countDown(): Promise<number> {
    this.#open('countDown');
    const left = await this.#backend.countDown(this.name);
    this.#m.count('countDown', left === 0 ? 'released' : 'granted');
    return left;
  }

  async getCount(): Promise<number> {
    this.#open('getCount');
    return this.#backend.getCount(this.name);
  }

  /**
   * Resolves once the count is 0. `timeoutMs` rejects with `LatchTimeoutError`, `signal` with `AbortedError`;
   * Redis unreachable past either: `BackendUnavailableError` (or the timeout's error with it as `cause`).
   */
  async await(options: LatchAwaitOptions = {}): Promise<void> {
    this.#open('await');
    const o = parseOptions(latchAwaitSchema, options, 'latch.await');
    if (o.signal?.aborted) throw abortedError(o.signal);
    const started = this.#clock.monotonic();
    const deadline = started + (o.timeoutMs ?? Number.POSITIVE_INFINITY);
    const timedOut = (cause?: unknown) => {
      this.#m.count('await', 'timeout');
      return new LatchTimeoutError(this.name, Math.round(this.#clock.monotonic() - started), cause);
    };
    const first = await boundedCall(
      this.#backend.getCount(this.name),
      this.#clock,
      deadline,
      o.signal,
      this.#backend.kind,
      'latch.await',
    );
    if (first > 0) {
      if (deadline <= this.#clock.monotonic()) throw timedOut();
      await waitLoop({
        clock: this.#clock,
        deadline,
        signal: o.signal,
        backend: this.#backend.kind,
        operation: 'latch.await',
        maxRetryDelayMs: this.#o.maxRetryDelayMs,
        random: this.#o.random ?? Math.random,
        attempt: async () => {
          const n = await this.#backend.getCount(this.name);
          // No expiry hint for a latch: re-check at the safety-net pace between wake-ups.
          return n === 0 ? { done: true, value: undefined } : { done: false, retryAfterMs: this.#o.maxRetryDelayMs };
        },
        subscribe: (wake) => this.#backend.onOpen(this.name, wake),
        timedOut,
      });
    }
    this.#m.count('await', 'granted');
    this.#m.waited(this.#clock.monotonic() - started);
  }

  /** Stops this object (not the latch: other processes keep counting); closes a Redis backend it created. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsBackend) await this.#backend.close();
  }
}

/** `createCountDownLatch({ redis, name: 'warmup' })`; without `redis`/`backend`: in-process. */
export function createCountDownLatch(options: CountDownLatchOptions): CountDownLatch {
  return new CountDownLatch(options);
}
