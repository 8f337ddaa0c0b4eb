import { randomUUID } from 'node:crypto';
import {
  abortedError,
  type Clock,
  childLogger,
  defineScript,
  guardRedis,
  isCluster,
  type Logger,
  parseOptions,
  type RedisClient,
  runScript,
  systemClock,
} from '@ballast/core';
import { z } from 'zod';
import type { AcquireResult, LockBackend, LockMode } from './backend';
import { MemoryLockBackend } from './backends/memory';
import { RedisLockBackend, sendQueuedLockScripts } from './backends/redis';
import { InvalidLockKeyError, LockLostError, LockTimeoutError } from './errors';
import { lockKeys } from './keys';
import rwConvertSource from './lua/rw-convert.lua';
import { LockUpgradeError, PrimitiveClosedError } from './primitive-errors';
import { primitiveInstruments } from './primitive-metrics';
import { commonPrimitiveShape, holdOptionsSchema, leaseShape } from './primitive-options';
import { processLocks } from './process-memory';
import { Renewal } from './renewal';
import { boundedCall, waitLoop } from './wait-loop';

const CONVERT = defineScript('lock:rw-convert', rwConvertSource);

export const readWriteLockOptionsSchema = z
  .object({
    /** Or a `MemoryLockBackend` (e.g. a memory lock manager's `manager.backend`, to share its locks). */
    backend: z
      .custom<MemoryLockBackend>((v) => v instanceof MemoryLockBackend, {
        message: 'expected a MemoryLockBackend (for Redis, pass `redis`)',
      })
      .optional(),
    ...commonPrimitiveShape,
    ...leaseShape,
  })
  .strict();
export type ReadWriteLockOptions = z.input<typeof readWriteLockOptionsSchema>;

export const rwAcquireSchema = holdOptionsSchema;
export type RwAcquireOptions = z.input<typeof rwAcquireSchema>;

/** A read (shared) or write (exclusive) hold that can change mode in place. */
export interface RwLease {
  readonly key: string;
  /** `shared` (read) or `exclusive` (write) — what the lease holds now. */
  readonly mode: LockMode;
  /** The fencing token of the last grant: the acquisition, or the last upgrade (a downgrade keeps it). */
  readonly fencingToken: number;
  /** Aborted (with `LockLostError`) when the lease is lost. */
  readonly signal: AbortSignal;
  /**
   * Read → write, atomically, when this lease is the only reader: resolves holding the write lock (with a new,
   * higher fencing token). Never waits: with other readers it rejects with `LockUpgradeError` at once and the
   * read lock is still held. An upgrade of a write lease resolves as is.
   */
  upgrade(): Promise<void>;
  /** Write → read, atomically, always allowed: nobody can take the write lock in between; waiting readers join. */
  downgrade(): Promise<void>;
  /** Releases the hold in its current mode; idempotent. */
  release(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

type ConvertResult = { ok: true; fencingToken: number } | { ok: false; readers: number } | { ok: false; lost: true };

/**
 * Read/write locks whose leases convert in place — the rules, chosen so that no conversion can deadlock:
 * - **downgrade** (write → read) is always allowed and atomic: the holder keeps the key throughout, and readers
 *   waiting for it are woken to share it;
 * - **upgrade** (read → write) is atomic and granted only when the caller is the sole reader; otherwise it
 *   fails at once with `LockUpgradeError`, keeping the read lock. It never waits: two readers each waiting to
 *   upgrade would wait for each other for ever (the classic upgrade deadlock), so waiting is left to an
 *   explicit `release()` + `write()`, which other writers can then take first.
 * The locks are the lock manager's own (same keys): a `manager.acquire(key)` excludes a `write(key)` here.
 */
export class ReadWriteLock {
  readonly #o: ReturnType<typeof readWriteLockOptionsSchema.parse>;
  readonly #backend: LockBackend;
  readonly #memory: MemoryLockBackend | undefined;
  readonly #redis: RedisClient | undefined;
  readonly #ownsBackend: boolean;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #m = primitiveInstruments('rw_lock');
  readonly #held = new Set<RwLeaseHandle>();
  readonly #id = randomUUID();
  #seq = 0;
  #closed = false;

  constructor(options: ReadWriteLockOptions = {}) {
    const o = parseOptions(readWriteLockOptionsSchema, options, 'createReadWriteLock');
    this.#o = o;
    this.#clock = o.clock ?? systemClock;
    this.#log = childLogger(o.logger, { component: 'rw-lock' });
    this.#ownsBackend = o.backend === undefined && o.redis !== undefined;
    if (o.backend || !o.redis) {
      this.#memory = o.backend ?? (o.clock ? new MemoryLockBackend({ clock: o.clock }) : processLocks());
      this.#backend = this.#memory;
    } else {
      this.#redis = guardRedis(o.redis, { commandTimeoutMs: o.commandTimeoutMs });
      this.#backend = new RedisLockBackend({
        redis: o.redis,
        prefix: o.prefix,
        logger: this.#log,
        commandTimeoutMs: o.commandTimeoutMs,
      });
    }
  }

  /** A read (shared) lease on `key`, waiting up to `waitMs`. */
  read(key: string, options: RwAcquireOptions = {}): Promise<RwLease> {
    return this.#acquire(key, 'shared', options, true) as Promise<RwLease>;
  }

  /** A write (exclusive) lease on `key`, waiting up to `waitMs`. */
  write(key: string, options: RwAcquireOptions = {}): Promise<RwLease> {
    return this.#acquire(key, 'exclusive', options, true) as Promise<RwLease>;
  }

  tryRead(key: string, options: Omit<RwAcquireOptions, 'waitMs'> = {}): Promise<RwLease | undefined> {
    return this.#acquire(key, 'shared', { ...options, waitMs: 0 }, false);
  }

  tryWrite(key: string, options: Omit<RwAcquireOptions, 'waitMs'> = {}): Promise<RwLease | undefined> {
    return this.#acquire(key, 'exclusive', { ...options, waitMs: 0 }, false);
  }

  async #acquire(key: string, mode: LockMode, options: RwAcquireOptions, wait: boolean): Promise<RwLease | undefined> {
    if (this.#closed) throw new PrimitiveClosedError('read/write lock', 'acquire');
    if (typeof key !== 'string' || key.length === 0)
      throw new InvalidLockKeyError('lock key must be a non-empty string');
    const o = parseOptions(rwAcquireSchema, options, 'readWriteLock.acquire');
    if (o.signal?.aborted) throw abortedError(o.signal);
    const ttlMs = o.ttlMs ?? this.#o.ttlMs;
    const token = `${(++this.#seq).toString(36)}.${this.#id}`;
    const started = this.#clock.monotonic();
    const deadline = started + (wait ? (o.waitMs ?? this.#o.waitMs) : 0);
    const kind = this.#redis ? 'redis' : 'lock backend';
    let attemptStart = started;
    // Readers respect writers registered by lock managers (writer preference), as the manager's readers do.
    const attempt = (): Promise<AcquireResult> => {
      attemptStart = this.#clock.monotonic();
      return this.#backend.tryAcquire(key, token, mode, ttlMs, { writerPreference: mode === 'shared' });
    };
    let r = await boundedCall(attempt(), this.#clock, deadline, o.signal, kind, 'readWriteLock.acquire');
    if (!r.acquired) {
      if (!wait) {
        this.#m.count('acquire', 'refused');
        return undefined;
      }
      r = await waitLoop<AcquireResult>({
        clock: this.#clock,
        deadline,
        signal: o.signal,
        backend: kind,
        operation: 'readWriteLock.acquire',
        maxRetryDelayMs: this.#o.maxRetryDelayMs,
        random: this.#o.random ?? Math.random,
        attempt: async () => {
          const a = await attempt();
          return a.acquired ? { done: true, value: a } : { done: false, retryAfterMs: a.retryAfterMs };
        },
        subscribe: (wake) => {
          const off = this.#backend.onRelease(key, wake);
          const ready = (this.#backend as { subscribed?: (k: string) => Promise<void> }).subscribed?.(key);
          return { off, ready };
        },
        timedOut: (cause) => {
          this.#m.count('acquire', 'timeout');
          return new LockTimeoutError(key, Math.round(this.#clock.monotonic() - started), cause);
        },
      });
    }
    if (!r.acquired) throw new Error('unreachable');
    this.#m.count('acquire', 'granted');
    this.#m.waited(this.#clock.monotonic() - started);
    const lease = new RwLeaseHandle(
      this,
      key,
      token,
      mode,
      r.fencingToken,
      ttlMs,
      o.autoExtend ?? this.#o.autoExtend,
      attemptStart,
    );
    this.#held.add(lease);
    return lease;
  }

  /** @internal */
  _renewal(l: RwLeaseHandle, ttlMs: number, autoExtend: boolean, attemptStart: number, onLost: (r: string) => void) {
    return new Renewal({
      clock: this.#clock,
      ttlMs,
      driftFactor: this.#o.driftFactor,
      autoExtend,
      attemptStart,
      extend: () => l.serial(() => this.#backend.extend(l.key, l.token, l.mode, ttlMs)),
      onLost: (reason) => {
        this.#m.count('lease', 'lost');
        this.#log.warn({ reason }, 'read/write lease lost');
        onLost(reason);
      },
      logger: this.#log,
    });
  }

  /** @internal One atomic conversion of `l`'s hold to `to`. */
  async _convert(l: RwLeaseHandle, to: LockMode, ttlMs: number): Promise<ConvertResult> {
    let r: number[];
    if (this.#redis) {
      const k = lockKeys(this.#o.prefix, l.key, { perSlot: isCluster(this.#redis) });
      sendQueuedLockScripts(this.#o.redis!); // this tick's batched exclusive calls go out first (call order)
      r = await runScript<number[]>(
        this.#redis,
        CONVERT,
        [k.owners, k.expiry, k.counter, k.fence],
        [l.token, to, Math.ceil(ttlMs), k.released],
      );
    } else {
      // One synchronous step in memory (a release then an acquire could hand the key to a fair waiter between).
      r = await this.#memory!.convert(l.key, l.token, to, ttlMs);
    }
    const out: ConvertResult =
      r[0] === 1
        ? { ok: true, fencingToken: Number(r[1]) }
        : r[0] === 0
          ? { ok: false, readers: Number(r[1]) }
          : { ok: false, lost: true };
    this.#m.count(to === 'exclusive' ? 'upgrade' : 'downgrade', out.ok ? 'granted' : 'refused');
    return out;
  }

  /** @internal */
  async _release(l: RwLeaseHandle): Promise<void> {
    this.#held.delete(l);
    const left = await this.#backend.release(l.key, l.token, l.mode);
    this.#m.count('release', left < 0 ? 'lost' : 'released');
  }

  /** Releases every lease this object holds; closes a Redis backend it created. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#held].map((l) => l.release()));
    if (this.#ownsBackend) await this.#backend.close();
  }
}

class RwLeaseHandle implements RwLease {
  readonly #controller = new AbortController();
  readonly #renewal: Renewal;
  readonly #rw: ReadWriteLock;
  readonly #ttlMs: number;
  #mode: LockMode;
  #fence: number;
  #chain: Promise<unknown> = Promise.resolve();
  #released: Promise<void> | undefined;

  constructor(
    rw: ReadWriteLock,
    readonly key: string,
    readonly token: string,
    mode: LockMode,
    fencingToken: number,
    ttlMs: number,
    autoExtend: boolean,
    attemptStart: number,
  ) {
    this.#rw = rw;
    this.#mode = mode;
    this.#fence = fencingToken;
    this.#ttlMs = ttlMs;
    this.#renewal = rw._renewal(this, ttlMs, autoExtend, attemptStart, (reason) =>
      this.#controller.abort(new LockLostError(key, reason)),
    );
  }

  get mode(): LockMode {
    return this.#mode;
  }
  get fencingToken(): number {
    return this.#fence;
  }
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Runs `fn` after the lease's previous operation settled: an extend never races a conversion. */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#chain.then(fn, fn);
    this.#chain = next.catch(() => {});
    return next;
  }

  upgrade(): Promise<void> {
    return this.#convert('exclusive');
  }

  downgrade(): Promise<void> {
    return this.#convert('shared');
  }

  #convert(to: LockMode): Promise<void> {
    return this.serial(async () => {
      const gone = (why: string) =>
        to === 'exclusive' ? new LockUpgradeError(this.key, 0, why) : new LockLostError(this.key, why);
      if (this.#released || this.#controller.signal.aborted) throw gone('the lease is released or lost');
      if (this.#mode === to) return;
      const r = await this.#rw._convert(this, to, this.#ttlMs);
      if (r.ok) {
        this.#mode = to;
        if (to === 'exclusive') this.#fence = r.fencingToken;
        return;
      }
      if ('lost' in r) throw gone('the lease is no longer held');
      throw new LockUpgradeError(this.key, r.readers, `${r.readers} other reader(s) hold it`);
    });
  }

  release(): Promise<void> {
    this.#renewal.stop();
    this.#released ??= this.serial(() => this.#rw._release(this));
    return this.#released;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }
}

/**
 * `createReadWriteLock({ redis, prefix })` — the same `redis`/`prefix` as the lock manager's, so they share locks.
 * Without `redis` or `backend`: in-process.
 */
export function createReadWriteLock(options: ReadWriteLockOptions = {}): ReadWriteLock {
  return new ReadWriteLock(options);
}
