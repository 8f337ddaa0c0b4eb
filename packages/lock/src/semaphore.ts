import { randomUUID } from 'node:crypto';
import {
  abortedError,
  type Clock,
  childLogger,
  type Logger,
  objectSchema,
  parseOptions,
  systemClock,
} from '@ballast/core';
import { z } from 'zod';
import { MemorySemaphoreBackend } from './backends/semaphore-memory';
import { RedisSemaphoreBackend } from './backends/semaphore-redis';
import { LockLostError } from './errors';
import { InvalidPermitsError, PrimitiveClosedError, SemaphoreTimeoutError } from './primitive-errors';
import { primitiveInstruments } from './primitive-metrics';
import { commonPrimitiveShape, holdOptionsSchema, leaseShape } from './primitive-options';
import { processSemaphores } from './process-memory';
import { Renewal } from './renewal';
import type { SemaphoreBackend } from './semaphore-backend';
import { boundedCall, waitLoop } from './wait-loop';

export const semaphoreOptionsSchema = z
  .object({
    /** The semaphore's name: semaphores of one name (and prefix, and backend) share their permits. */
    name: z.string().min(1),
    /** How many permits exist. Every client of one semaphore must give the same number. */
    permits: z.number().int().positive(),
    /** Or any `SemaphoreBackend` (e.g. one `MemorySemaphoreBackend` shared in a process). */
    backend: objectSchema<SemaphoreBackend>('backend').optional(),
    ...commonPrimitiveShape,
    ...leaseShape,
  })
  .strict();
export type SemaphoreOptions = z.input<typeof semaphoreOptionsSchema>;

export const permitOptionsSchema = holdOptionsSchema;
export type PermitOptions = z.input<typeof permitOptionsSchema>;

/** Permits held by one `acquire`: released together. */
export interface Permit {
  /** How many permits this holds. */
  readonly permits: number;
  /** The holder id, unique per acquire. */
  readonly id: string;
  /** Aborted (with `LockLostError`) when the lease is lost: ran out, or could not be extended in time. */
  readonly signal: AbortSignal;
  /** Gives the permits back: true when they were still held, false when the lease had run out. Idempotent. */
  release(): Promise<boolean>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** The in-process backend semaphores use when given neither `redis` nor `backend`: shared by the process. */
/**
 * A counting semaphore (Redisson's `RPermitExpirableSemaphore`): `permits` permits shared by every client of
 * `name`; each `acquire(n)` takes n of them under a lease that a watchdog extends while held, so a holder that
 * dies gives its permits back when its lease runs out. Waiters are woken by releases (pub/sub), not by polling.
 * Not fair: a waiter for many permits can be overtaken by waiters for fewer.
 */
export class Semaphore {
  readonly name: string;
  /** The number of permits. */
  readonly limit: number;
  readonly #o: ReturnType<typeof semaphoreOptionsSchema.parse>;
  readonly #backend: SemaphoreBackend;
  readonly #ownsBackend: boolean;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #m = primitiveInstruments('semaphore');
  readonly #held = new Set<PermitHandle>();
  readonly #id = randomUUID();
  #seq = 0;
  #closed = false;

  constructor(options: SemaphoreOptions) {
    const o = parseOptions(semaphoreOptionsSchema, options, 'createSemaphore');
    this.#o = o;
    this.name = o.name;
    this.limit = o.permits;
    this.#clock = o.clock ?? systemClock;
    this.#log = childLogger(o.logger, { component: 'semaphore' });
    this.#ownsBackend = o.backend === undefined && o.redis !== undefined;
    this.#backend =
      o.backend ??
      (o.redis
        ? new RedisSemaphoreBackend({
            redis: o.redis,
            prefix: o.prefix,
            logger: this.#log,
            commandTimeoutMs: o.commandTimeoutMs,
          })
        : o.clock
          ? new MemorySemaphoreBackend({ clock: o.clock })
          : processSemaphores());
  }

  /** Takes `permits` permits (default 1), waiting up to `waitMs` (default: the semaphore's, forever). */
  acquire(permits = 1, options: PermitOptions = {}): Promise<Permit> {
    return this.#acquire(permits, options, true) as Promise<Permit>;
  }

  /** One attempt, no waiting: the permits, or undefined when too few are free. */
  tryAcquire(permits = 1, options: Omit<PermitOptions, 'waitMs'> = {}): Promise<Permit | undefined> {
    return this.#acquire(permits, { ...options, waitMs: 0 }, false);
  }

  /** Runs `fn` holding `permits` permits, released after; `fn` gets the permit's signal. */
  async using<T>(
    fn: (signal: AbortSignal, permit: Permit) => Promise<T> | T,
    permits = 1,
    options: PermitOptions = {},
  ): Promise<T> {
    const permit = await this.acquire(permits, options);
    try {
      return await fn(permit.signal, permit);
    } finally {
      await permit.release();
    }
  }

  /** Permits free now. */
  available(): Promise<number> {
    if (this.#closed) return Promise.reject(new PrimitiveClosedError(`semaphore "${this.name}"`, 'available'));
    return this.#backend.available(this.name, this.limit);
  }

  async #acquire(permits: number, options: PermitOptions, wait: boolean): Promise<Permit | undefined> {
    if (this.#closed) throw new PrimitiveClosedError(`semaphore "${this.name}"`, 'acquire');
    if (!Number.isInteger(permits) || permits < 1 || permits > this.limit)
      throw new InvalidPermitsError(this.name, permits, this.limit);
    const o = parseOptions(permitOptionsSchema, options, 'semaphore.acquire');
    if (o.signal?.aborted) throw abortedError(o.signal);
    const ttlMs = o.ttlMs ?? this.#o.ttlMs;
    const holder = `${(++this.#seq).toString(36)}.${this.#id}`;
    const started = this.#clock.monotonic();
    const waitMs = wait ? (o.waitMs ?? this.#o.waitMs) : 0;
    const deadline = started + waitMs;
    const kind = this.#backend.kind;
    let attemptStart = started;
    const attempt = async () => {
      attemptStart = this.#clock.monotonic();
      return this.#backend.tryAcquire(this.name, holder, permits, this.limit, ttlMs);
    };
    const timedOut = (cause?: unknown) => {
      this.#m.count('acquire', 'timeout');
      return new SemaphoreTimeoutError(this.name, permits, Math.round(this.#clock.monotonic() - started), cause);
    };
    let r = await boundedCall(attempt(), this.#clock, deadline, o.signal, kind, 'semaphore.acquire');
    if (!r.acquired) {
      if (!wait) {
        this.#m.count('acquire', 'refused');
        return undefined;
      }
      r = await waitLoop({
        clock: this.#clock,
        deadline,
        signal: o.signal,
        backend: kind,
        operation: 'semaphore.acquire',
        maxRetryDelayMs: this.#o.maxRetryDelayMs,
        random: this.#o.random ?? Math.random,
        attempt: async () => {
          const a = await attempt();
          return a.acquired ? { done: true, value: a } : { done: false, retryAfterMs: a.retryAfterMs };
        },
        subscribe: (wake) => this.#backend.onRelease(this.name, wake),
        timedOut,
      });
    }
    this.#m.count('acquire', 'granted');
    this.#m.waited(this.#clock.monotonic() - started);
    const handle = new PermitHandle(this, holder, permits, ttlMs, o.autoExtend ?? this.#o.autoExtend, attemptStart);
    this.#held.add(handle);
    return handle;
  }

  /** @internal */
  _renewal(h: PermitHandle, ttlMs: number, autoExtend: boolean, attemptStart: number, onLost: (r: string) => void) {
    return new Renewal({
      clock: this.#clock,
      ttlMs,
      driftFactor: this.#o.driftFactor,
      autoExtend,
      attemptStart,
      extend: () => this.#backend.extend(this.name, h.id, ttlMs),
      onLost: (reason) => {
        this.#m.count('lease', 'lost');
        this.#log.warn({ semaphore: this.name, reason }, 'semaphore permits lost');
        onLost(reason);
      },
      logger: this.#log,
    });
  }

  /** @internal */
  async _release(h: PermitHandle): Promise<boolean> {
    this.#held.delete(h);
    const ok = await this.#backend.release(this.name, h.id);
    this.#m.count('release', ok ? 'released' : 'lost');
    return ok;
  }

  /** Releases every permit this semaphore object holds; closes a Redis backend it created. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#held].map((h) => h.release()));
    if (this.#ownsBackend) await this.#backend.close();
  }
}

class PermitHandle implements Permit {
  readonly #sem: Semaphore;
  readonly #controller = new AbortController();
  readonly #renewal: Renewal;
  #released: Promise<boolean> | undefined;

  constructor(
    sem: Semaphore,
    readonly id: string,
    readonly permits: number,
    ttlMs: number,
    autoExtend: boolean,
    attemptStart: number,
  ) {
    this.#sem = sem;
    this.#renewal = sem._renewal(this, ttlMs, autoExtend, attemptStart, (reason) =>
      this.#controller.abort(new LockLostError(`semaphore:${sem.name}`, reason)),
    );
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  release(): Promise<boolean> {
    this.#renewal.stop();
    this.#released ??= this.#sem._release(this);
    return this.#released;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }
}

/**
 * `createSemaphore({ redis, name: 'exports', permits: 3 })`. Without `redis` or `backend`: in-process, shared by
 * every semaphore of the process that has no `clock` option (with a `clock`, pass one `MemorySemaphoreBackend`
 * to the semaphores that must share permits).
 */
export function createSemaphore(options: SemaphoreOptions): Semaphore {
  return new Semaphore(options);
}
