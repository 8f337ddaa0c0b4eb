import { randomUUID } from 'node:crypto';
import {
  abortedError,
  type Clock,
  childLogger,
  defineScript,
  guardRedis,
  hashSlot,
  isCluster,
  type Logger,
  objectSchema,
  parseOptions,
  type RedisClient,
  runScript,
  systemClock,
} from '@ballast/core';
import { z } from 'zod';
import type { LockBackend } from './backend';
import { MemoryLockBackend } from './backends/memory';
import { RedisLockBackend, sendQueuedLockScripts } from './backends/redis';
import { InvalidLockKeyError, LockLostError, LockTimeoutError } from './errors';
import { type FairBackend, isFairBackend } from './fair';
import { lockKeys } from './keys';
import multiAcquireSource from './lua/multi-acquire.lua';
import { PrimitiveClosedError } from './primitive-errors';
import { primitiveInstruments } from './primitive-metrics';
import { commonPrimitiveShape, holdOptionsSchema, leaseShape } from './primitive-options';
import { processLocks } from './process-memory';
import { Renewal } from './renewal';
import { type Attempt, boundedCall, waitLoop } from './wait-loop';

const MULTI_ACQUIRE = defineScript('lock:multi-acquire', multiAcquireSource);
const NOT_QUEUED = Object.freeze({ queueMs: 0 });

export const multiLockOptionsSchema = z
  .object({
    /** Or any `LockBackend` (then keys are taken one by one in sorted order, with rollback). */
    backend: objectSchema<LockBackend>('backend').optional(),
    ...commonPrimitiveShape,
    ...leaseShape,
  })
  .strict();
export type MultiLockOptions = z.input<typeof multiLockOptionsSchema>;

export const multiAcquireSchema = holdOptionsSchema;
export type MultiAcquireOptions = z.input<typeof multiAcquireSchema>;

/** Several exclusive locks held together: released together. */
export interface MultiLease {
  /** The keys held, sorted and without duplicates. */
  readonly keys: readonly string[];
  /** Each key's fencing token. */
  readonly fencingTokens: Readonly<Record<string, number>>;
  /** Aborted (with `LockLostError`) as soon as any of the locks is lost. */
  readonly signal: AbortSignal;
  /** Releases every lock (each one even when another fails); idempotent. */
  release(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Redisson's `RedissonMultiLock`: several exclusive locks acquired all-or-nothing and released together. On one
 * Redis node, and on a Cluster when every key hashes to one slot, one script takes them all atomically;
 * otherwise the keys are taken one at a time in sorted order (two multi-locks over overlapping keys cannot
 * deadlock) and, when one is held by someone else, the ones taken are released before waiting for that one.
 * The locks are the lock manager's own: `manager.acquire('a')` and a multi-lock of `['a', 'b']` on the same
 * prefix exclude each other.
 */
export class MultiLock {
  readonly #o: ReturnType<typeof multiLockOptionsSchema.parse>;
  readonly #backend: LockBackend;
  /** The backend when it keeps fair queues (memory, Redis), else undefined. */
  readonly #fair: FairBackend | undefined;
  readonly #ownsBackend: boolean;
  readonly #redis: RedisClient | undefined;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #m = primitiveInstruments('multi_lock');
  readonly #held = new Set<MultiLeaseHandle>();
  readonly #id = randomUUID();
  #seq = 0;
  #closed = false;

  constructor(options: MultiLockOptions = {}) {
    const o = parseOptions(multiLockOptionsSchema, options, 'createMultiLock');
    this.#o = o;
    this.#clock = o.clock ?? systemClock;
    this.#log = childLogger(o.logger, { component: 'multi-lock' });
    this.#redis = o.backend ? undefined : o.redis && guardRedis(o.redis, { commandTimeoutMs: o.commandTimeoutMs });
    this.#ownsBackend = o.backend === undefined && o.redis !== undefined;
    this.#backend =
      o.backend ??
      (o.redis
        ? new RedisLockBackend({
            redis: o.redis,
            prefix: o.prefix,
            logger: this.#log,
            commandTimeoutMs: o.commandTimeoutMs,
          })
        : o.clock
          ? new MemoryLockBackend({ clock: o.clock })
          : processLocks());
    this.#fair = isFairBackend(this.#backend) ? this.#backend : undefined;
  }

  /** Whether `keys` are taken by one script (true) or in order with rollback (false) on this multi-lock's backend. */
  atomic(keys: readonly string[]): boolean {
    if (!this.#redis) return false;
    if (!isCluster(this.#redis)) return true;
    const slots = new Set(normalise(keys).map((k) => hashSlot(lockKeys(this.#o.prefix, k).owners)));
    return slots.size === 1;
  }

  /** Acquires every key or none, waiting up to `waitMs` (default: the multi-lock's, forever). */
  acquire(keys: readonly string[], options: MultiAcquireOptions = {}): Promise<MultiLease> {
    return this.#acquire(keys, options, true) as Promise<MultiLease>;
  }

  /** One attempt, no waiting: every key, or undefined (holding none) when any is taken. */
  tryAcquire(
    keys: readonly string[],
    options: Omit<MultiAcquireOptions, 'waitMs'> = {},
  ): Promise<MultiLease | undefined> {
    return this.#acquire(keys, { ...options, waitMs: 0 }, false);
  }

  /** Runs `fn` holding every key, released after; `fn` gets the lease's signal. */
  async using<T>(
    keys: readonly string[],
    fn: (signal: AbortSignal, lease: MultiLease) => Promise<T> | T,
    options: MultiAcquireOptions = {},
  ): Promise<T> {
    const lease = await this.acquire(keys, options);
    try {
      return await fn(lease.signal, lease);
    } finally {
      await lease.release();
    }
  }

  async #acquire(
    input: readonly string[],
    options: MultiAcquireOptions,
    wait: boolean,
  ): Promise<MultiLease | undefined> {
    if (this.#closed) throw new PrimitiveClosedError('multi-lock', 'acquire');
    if (!Array.isArray(input) || input.length === 0)
      throw new InvalidLockKeyError('a multi-lock needs at least one key');
    for (const k of input)
      if (typeof k !== 'string' || k.length === 0) throw new InvalidLockKeyError('lock key must be a non-empty string');
    const keys = normalise(input);
    const o = parseOptions(multiAcquireSchema, options, 'multiLock.acquire');
    if (o.signal?.aborted) throw abortedError(o.signal);
    const ttlMs = o.ttlMs ?? this.#o.ttlMs;
    const token = `${(++this.#seq).toString(36)}.${this.#id}`;
    const started = this.#clock.monotonic();
    const deadline = started + (wait ? (o.waitMs ?? this.#o.waitMs) : 0);
    const kind = this.#redis ? 'redis' : 'lock backend';
    const atomic = this.atomic(keys);
    let attemptStart = started;
    /** Index of the key last seen held: the one to wait for. */
    let blocker = 0;
    const attempt = async (): Promise<Attempt<number[]>> => {
      attemptStart = this.#clock.monotonic();
      const r = atomic ? await this.#tryAtomic(keys, token, ttlMs) : await this.#tryOrdered(keys, token, ttlMs);
      if (!r.done) blocker = r.blocker;
      return r;
    };
    let r = await boundedCall(attempt(), this.#clock, deadline, o.signal, kind, 'multiLock.acquire');
    if (!r.done) {
      if (!wait) {
        this.#m.count('acquire', 'refused');
        return undefined;
      }
      const value = await waitLoop({
        clock: this.#clock,
        deadline,
        signal: o.signal,
        backend: kind,
        operation: 'multiLock.acquire',
        maxRetryDelayMs: this.#o.maxRetryDelayMs,
        random: this.#o.random ?? Math.random,
        attempt,
        // Wake on a release of the key last seen held. Not on the others: an attempt's own rollback releases
        // keys before the blocker, and waking on those would retry in a loop that never sleeps.
        subscribe: (wake) => {
          const subs = keys.map((k, i) =>
            this.#backend.onRelease(k, () => {
              if (i === blocker) wake();
            }),
          );
          const ready = (this.#backend as { subscribed?: (k: string) => Promise<void> }).subscribed;
          return {
            off: () => {
              for (const off of subs) off();
            },
            ready: ready ? Promise.all(keys.map((k) => ready.call(this.#backend, k))).then(() => {}) : undefined,
          };
        },
        timedOut: (cause) => {
          this.#m.count('acquire', 'timeout');
          return new LockTimeoutError(
            keys[blocker] ?? keys.join(','),
            Math.round(this.#clock.monotonic() - started),
            cause,
          );
        },
      });
      r = { done: true, value };
    }
    this.#m.count('acquire', 'granted');
    this.#m.waited(this.#clock.monotonic() - started);
    const fences = Object.fromEntries(keys.map((k, i) => [k, r.done ? (r.value[i] ?? 0) : 0]));
    const lease = new MultiLeaseHandle(
      this,
      keys,
      token,
      fences,
      ttlMs,
      o.autoExtend ?? this.#o.autoExtend,
      attemptStart,
    );
    this.#held.add(lease);
    return lease;
  }

  async #tryAtomic(
    keys: readonly string[],
    token: string,
    ttlMs: number,
  ): Promise<{ done: true; value: number[] } | { done: false; retryAfterMs: number; blocker: number }> {
    const perSlot = isCluster(this.#redis!);
    const lks = keys.map((k) => lockKeys(this.#o.prefix, k, { perSlot }));
    // One counter for every key: they share a slot here (a Cluster's per-slot counter is the same key).
    const redisKeys = [lks[0]!.counter, ...lks.flatMap((lk) => [lk.owners, lk.queue, lk.queueInfo, lk.fence])];
    // This tick's batched exclusive calls on the client (a release of one of these keys) go out first.
    sendQueuedLockScripts(this.#o.redis!);
    const r = await runScript<number[]>(this.#redis!, MULTI_ACQUIRE, redisKeys, [token, Math.ceil(ttlMs)]);
    if (r[0] === 1) return { done: true, value: r.slice(1).map(Number) };
    return { done: false, blocker: Number(r[1]) - 1, retryAfterMs: Number(r[2]) };
  }

  async #tryOrdered(
    keys: readonly string[],
    token: string,
    ttlMs: number,
  ): Promise<{ done: true; value: number[] } | { done: false; retryAfterMs: number; blocker: number }> {
    const fences: number[] = [];
    for (let i = 0; i < keys.length; i++) {
      let r: Awaited<ReturnType<LockBackend['tryAcquire']>>;
      try {
        // A fair backend's attempt takes a free key only when no live waiter queued for it first (it hands the
        // key to that waiter instead): a multi-lock does not queue, and does not jump a fair queue either.
        r = await (this.#fair
          ? this.#fair.tryAcquireFair(keys[i]!, token, ttlMs, NOT_QUEUED)
          : this.#backend.tryAcquire(keys[i]!, token, 'exclusive', ttlMs));
      } catch (error) {
        await this.#rollback(keys.slice(0, i), token);
        throw error;
      }
      if (!r.acquired) {
        await this.#rollback(keys.slice(0, i), token);
        return { done: false, blocker: i, retryAfterMs: r.retryAfterMs };
      }
      fences.push(r.fencingToken);
    }
    return { done: true, value: fences };
  }

  /** Releases what an attempt took before it found a key held (all-or-nothing). */
  async #rollback(taken: readonly string[], token: string): Promise<void> {
    await Promise.all(
      taken.map((k) =>
        this.#backend.release(k, token, 'exclusive').catch((error: unknown) => {
          // Unreleased, it runs out after ttlMs: nothing is held for ever.
          this.#log.warn({ err: error }, 'multi-lock rollback failed; the lock runs out after its ttl');
        }),
      ),
    );
  }

  /** @internal */
  _renewal(
    l: MultiLeaseHandle,
    token: string,
    ttlMs: number,
    autoExtend: boolean,
    attemptStart: number,
    onLost: (r: string) => void,
  ) {
    return new Renewal({
      clock: this.#clock,
      ttlMs,
      driftFactor: this.#o.driftFactor,
      autoExtend,
      attemptStart,
      extend: async () => {
        const ok = await Promise.all(l.keys.map((k) => this.#backend.extend(k, token, 'exclusive', ttlMs)));
        return ok.every(Boolean);
      },
      onLost: (reason) => {
        this.#m.count('lease', 'lost');
        this.#log.warn({ reason }, 'multi-lock lost');
        onLost(reason);
      },
      logger: this.#log,
    });
  }

  /** @internal */
  async _release(l: MultiLeaseHandle, token: string): Promise<void> {
    this.#held.delete(l);
    const results = await Promise.allSettled(l.keys.map((k) => this.#backend.release(k, token, 'exclusive')));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    this.#m.count('release', failed ? 'error' : 'released');
    if (failed) throw failed.reason;
  }

  /** Releases every multi-lease this object holds; closes a Redis backend it created. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#held].map((l) => l.release()));
    if (this.#ownsBackend) await this.#backend.close();
  }
}

function normalise(keys: readonly string[]): string[] {
  return [...new Set(keys)].sort();
}

class MultiLeaseHandle implements MultiLease {
  readonly #controller = new AbortController();
  readonly #renewal: Renewal;
  readonly #multi: MultiLock;
  readonly #token: string;
  #released: Promise<void> | undefined;

  constructor(
    multi: MultiLock,
    readonly keys: readonly string[],
    token: string,
    readonly fencingTokens: Readonly<Record<string, number>>,
    ttlMs: number,
    autoExtend: boolean,
    attemptStart: number,
  ) {
    this.#multi = multi;
    this.#token = token;
    this.#renewal = multi._renewal(this, token, ttlMs, autoExtend, attemptStart, (reason) =>
      this.#controller.abort(new LockLostError(keys.join(','), reason)),
    );
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  release(): Promise<void> {
    this.#renewal.stop();
    this.#released ??= this.#multi._release(this, this.#token);
    return this.#released;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }
}

/**
 * `createMultiLock({ redis, prefix })` — the same `redis`/`prefix` as the lock manager's, so they share locks.
 * Without `redis` or `backend`: in-process.
 */
export function createMultiLock(options: MultiLockOptions = {}): MultiLock {
  return new MultiLock(options);
}
