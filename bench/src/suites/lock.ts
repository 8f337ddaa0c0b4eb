import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createRedis, type Redis } from '@ballast/core';
import { createLockManager } from '@ballast/lock';
import { Mutex } from 'redis-semaphore';
// @ts-expect-error TS7016: redlock 5.0.0-beta.2's package.json `exports` has no `types` condition, so its own
// typings (dist/index.d.ts) are not found through the package name; they are imported by path below.
import RedlockImpl from 'redlock';
import type RedlockTyped from '../../node_modules/redlock/dist/index';
import { benchRedisUrl } from '../env';
import type { BenchCase, Suite } from '../harness';
import { masterWithReplica } from '../replicated';

/** Lease length for every impl (ballast `ttlMs`, redlock's `duration`, redis-semaphore's `lockTimeout`). */
const TTL_MS = 10_000;
/** How long one acquisition may wait (ballast `waitMs`, redis-semaphore `acquireTimeout`, its default). */
const WAIT_MS = 10_000;
/**
 * redlock as its users configure a hot lock: retry forever (`retryCount: -1`; its default, 10 retries, gives up
 * after ~2 s, which ten workers on one key reach) every 10 ± 5 ms (its default 200 ± 100 ms would make every
 * ratio meaningless). redis-semaphore: `retryInterval: 10` (also its default). Otherwise as they ship.
 */
const REDLOCK_SETTINGS = { retryCount: -1, retryDelay: 10, retryJitter: 5 };
const SEMAPHORE_RETRY_MS = 10;
const Redlock = RedlockImpl as typeof RedlockTyped;

export interface LockSuiteOptions {
  /** Concurrent workers per case. Default 10. */
  workers?: number;
  /** acquire+release cycles per worker per measured call (`opsPerCall` = workers × cycles). Default 20. */
  cycles?: number;
}

/**
 * Fairness of one case: the largest number of consecutive grants to one worker while another worker was waiting
 * (1 = strict turns; a worker that re-takes the lock it just released while others wait makes it grow), and the
 * wait of each acquisition (acquire call → lease in hand).
 */
class Fairness {
  #waiting = 0;
  #last = -1;
  #streak = 0;
  #max = 0;
  readonly #waits: number[] = [];

  reset(): void {
    this.#last = -1;
    this.#streak = 0;
    this.#max = 0;
    this.#waits.length = 0;
  }

  asking(): void {
    this.#waiting++;
  }

  granted(worker: number, waitMs: number): void {
    this.#waiting--;
    this.#waits.push(waitMs);
    if (this.#waiting === 0) {
      // Nobody else wanted the lock: no one was passed over.
      this.#last = -1;
      this.#streak = 0;
      return;
    }
    this.#streak = worker === this.#last ? this.#streak + 1 : 1;
    this.#last = worker;
    this.#max = Math.max(this.#max, this.#streak);
  }

  columns(): { maxConsecutive: number; waitP50Us: number; waitP99Us: number } {
    const w = [...this.#waits].sort((a, b) => a - b);
    const q = (p: number) => (w.length === 0 ? 0 : w[Math.min(w.length - 1, Math.floor(p * w.length))]!);
    const us = (ms: number) => Number((ms * 1000).toFixed(1));
    return { maxConsecutive: this.#max, waitP50Us: us(q(0.5)), waitP99Us: us(q(0.99)) };
  }
}

/** What one acquisition returns: the function that releases it. */
type Release = () => Promise<unknown>;
interface Impl {
  name: 'ballast' | 'redlock' | 'redis-semaphore' | 'ballast-replicated' | 'ballast-replicated+wait1';
  acquire(key: string): Promise<Release>;
}

/**
 * One round: `workers` concurrent workers, worker i on `keyOf(i)`, each doing `cycles` × (acquire → release,
 * no work in between). `onWait` gets each acquisition's wait in ms: from the acquire call to the lease in hand.
 */
async function round(
  impl: Impl,
  workers: number,
  cycles: number,
  keyOf: (worker: number) => string,
  onWait?: (ms: number) => void,
  fairness?: Fairness,
): Promise<void> {
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      const key = keyOf(w);
      for (let i = 0; i < cycles; i++) {
        const t0 = performance.now();
        fairness?.asking();
        const release = await impl.acquire(key);
        const waited = performance.now() - t0;
        fairness?.granted(w, waited);
        onWait?.(waited);
        await release();
      }
    }),
  );
}

/**
 * The `contended` workload run back to back in the background (rounds of `workers` × `cycles` on one key), for
 * the `contended-wait-p99` rows: each measured call takes the next acquisition's wait, in the order they were
 * granted, and hands it to tinybench as that call's duration (`overriddenDuration`, tinybench's documented way to
 * report a time measured by the task itself). p50/p99 of the calls are thus per-acquisition wait quantiles.
 */
class Field {
  readonly #waits: number[] = [];
  #taken = 0;
  #acquisitions = 0;
  #running = true;
  #error: unknown;
  #notify: (() => void) | undefined;
  readonly #started = performance.now();
  readonly #done: Promise<void>;

  constructor(impl: Impl, workers: number, cycles: number, key: string, fairness: Fairness) {
    const onWait = (ms: number) => {
      this.#acquisitions++;
      this.#waits.push(ms);
      this.#wake();
    };
    this.#done = (async () => {
      try {
        while (this.#running) await round(impl, workers, cycles, () => key, onWait, fairness);
      } catch (error) {
        this.#error = error;
        this.#wake();
      }
    })();
  }

  #wake(): void {
    const n = this.#notify;
    this.#notify = undefined;
    n?.();
  }

  /** The next granted acquisition's wait, ms (waits for one if none is queued). */
  async next(): Promise<number> {
    while (this.#taken >= this.#waits.length) {
      if (this.#error) throw this.#error;
      await new Promise<void>((resolve) => {
        this.#notify = resolve;
      });
    }
    return this.#waits[this.#taken++]!;
  }

  /**
   * Stops after the current round. Returns the acquisitions/s of the whole field up to now and the mean of the
   * waits handed out (what tinybench's mean is).
   */
  async stop(): Promise<{ acquisitionsPerSec: number; meanTakenMs: number }> {
    const elapsedMs = performance.now() - this.#started;
    const acquisitions = this.#acquisitions;
    this.#running = false;
    await this.#done;
    if (this.#error) throw this.#error;
    let sum = 0;
    for (let i = 0; i < this.#taken; i++) sum += this.#waits[i]!;
    return {
      acquisitionsPerSec: (acquisitions * 1000) / elapsedMs,
      meanTakenMs: this.#taken > 0 ? sum / this.#taken : 0,
    };
  }
}

/**
 * Locks: `@ballast/lock` beside redlock (one Redis node) and redis-semaphore's `Mutex`, same run, same local
 * Redis, each impl on its own connection and key prefix (`bench:lock:<run>:<impl>:…`, deleted in teardown).
 * Each impl in its documented default behaviour, ttl 10 s:
 * - ballast: `createLockManager({ redis, prefix, ttlMs })`, `acquire(key, { waitMs: 10 s })` — waiters wake on the
 *   release channel (pub/sub; jittered safety-net timer ≤ 1 s); watchdog on (`autoExtend` default: an interval
 *   at ttl/3 per lease, cleared on release); writer preference on (default: a contended exclusive waiter
 *   registers in the waiters zset and removes itself when granted).
 *   Exclusive locks are fair by default: a waiter queues, and the release script hands it the lock (pub/sub grant).
 * - redlock 5 (beta.2): `new Redlock([client], { retryCount: -1, retryDelay: 10, retryJitter: 5 })`,
 *   `acquire([key], 10 s)`, `release()` — tuned as for a hot lock (its 200 ± 100 ms default retry would dominate
 *   every number); driftFactor 0.01 (default); no auto-extension (only `using()` extends).
 * - redis-semaphore 5.8: `new Mutex(client, key, { lockTimeout: 10 s, acquireTimeout: 10 s, retryInterval: 10 })`
 *   per acquisition, `acquire()`, `release()` — defaults otherwise: SET NX PX polled every 10 ms, refresh on
 *   (an interval at 0.8 × lockTimeout per lock, cleared on release). 10 s is also its default acquireTimeout.
 *
 * Cases (one measured call = every worker doing `cycles` acquire→release cycles, no work while held):
 * - `uncontended`: `workers` concurrent workers, each on its own key. ops/s = acquisitions/s.
 * - `contended`: `workers` concurrent workers on ONE key. ops/s = acquisitions/s; p50/p99 are per round.
 * - `contended-wait-p99`: the same contended workload, run continuously in the background; each measured call
 *   is one granted acquisition, its duration that acquisition's wait (acquire call → lease in hand). So
 *   `p50Us`/`p99Us` are the per-acquisition wait p50/p99 in µs, and `opsPerSec` is the field's acquisitions/s
 *   over the same phase (the case's `opsPerCall` is set after the phase to acquisitions/s × mean wait, so the
 *   harness's `1000 / mean × opsPerCall` prints exactly that). It is measured in its own phase, so it is close
 *   to, not identical with, the `contended` row's ops/s.
 *
 * - `uncontended` / `contended` on a private master + 1 replica (`ballast-replicated`), plain and with
 *   `durability: { replicas: 1 }` (`ballast-replicated+wait1`: WAIT after every grant): what it costs.
 *
 * Every row also carries fairness columns over all its acquisitions (warm-up included): `maxConsecutive`, the
 * largest number of consecutive grants to one worker while another worker waited, and `waitP50Us`/`waitP99Us`,
 * the per-acquisition wait (acquire call → lease in hand).
 */
export function createLockSuite(options: LockSuiteOptions = {}): Suite {
  const workers = options.workers ?? 10;
  const cycles = options.cycles ?? 20;
  return {
    name: 'lock',
    description: `distributed lock, ${workers} workers × ${cycles} acquire+release: @ballast/lock vs redlock vs redis-semaphore Mutex`,
    async setup() {
      const run = randomUUID().slice(0, 8);
      const base = `bench:lock:${run}`;
      const url = benchRedisUrl();
      const ballastRedis = createRedis(url) as Redis;
      const redlockRedis = createRedis(url) as Redis;
      const semaphoreRedis = createRedis(url) as Redis;

      const manager = createLockManager({ redis: ballastRedis, prefix: `${base}:ballast`, ttlMs: TTL_MS });
      const redlock = new Redlock([redlockRedis], REDLOCK_SETTINGS);

      const impls: Impl[] = [
        {
          name: 'ballast',
          async acquire(key) {
            const lease = await manager.acquire(key, { waitMs: WAIT_MS });
            return () => lease.release();
          },
        },
        {
          name: 'redlock',
          async acquire(key) {
            const lock = await redlock.acquire([`${base}:redlock:${key}`], TTL_MS);
            return () => lock.release();
          },
        },
        {
          name: 'redis-semaphore',
          async acquire(key) {
            // Its key becomes `mutex:<key>`.
            const mutex = new Mutex(semaphoreRedis, `${base}:redis-semaphore:${key}`, {
              lockTimeout: TTL_MS,
              acquireTimeout: WAIT_MS,
              retryInterval: SEMAPHORE_RETRY_MS,
            });
            await mutex.acquire();
            return () => mutex.release();
          },
        },
      ];

      // The cost of WAIT-based durability: the same manager on a private master + replica, plain and WAIT 1.
      const pair = await masterWithReplica('lock');
      const pairClients = [createRedis(pair.master.url) as Redis, createRedis(pair.master.url) as Redis];
      const replicatedManagers = {
        'ballast-replicated': createLockManager({ redis: pairClients[0]!, prefix: `${base}:r`, ttlMs: TTL_MS }),
        'ballast-replicated+wait1': createLockManager({
          redis: pairClients[1]!,
          prefix: `${base}:w`,
          ttlMs: TTL_MS,
          durability: { replicas: 1, timeoutMs: 1_000 },
        }),
      };
      const replicated: Impl[] = Object.entries(replicatedManagers).map(([name, m]) => ({
        name: name as Impl['name'],
        async acquire(key) {
          const lease = await m.acquire(key, { waitMs: WAIT_MS });
          return () => lease.release();
        },
      }));

      const perCall = workers * cycles;
      const cases: BenchCase[] = [];
      for (const impl of [...impls, ...replicated]) {
        const fairness = new Fairness();
        cases.push({
          case: 'uncontended',
          impl: impl.name,
          opsPerCall: perCall,
          beforeAll: () => fairness.reset(),
          fn: () => round(impl, workers, cycles, (w) => `uncontended:${w}`, undefined, fairness),
          extra: () => fairness.columns(),
        });
      }
      for (const impl of [...impls, ...replicated]) {
        const fairness = new Fairness();
        cases.push({
          case: 'contended',
          impl: impl.name,
          opsPerCall: perCall,
          beforeAll: () => fairness.reset(),
          fn: () => round(impl, workers, cycles, () => 'contended', undefined, fairness),
          extra: () => fairness.columns(),
        });
      }
      for (const impl of impls) {
        let field: Field | undefined;
        const fairness = new Fairness();
        const c: BenchCase = {
          case: 'contended-wait-p99',
          impl: impl.name,
          extra: () => fairness.columns(),
          beforeAll: async () => {
            await field?.stop().catch(() => {});
            fairness.reset();
            field = new Field(impl, workers, cycles, 'contended-wait', fairness);
          },
          fn: async () => ({ overriddenDuration: await field!.next() }),
          afterAll: async () => {
            const f = field;
            field = undefined;
            if (!f) return;
            const { acquisitionsPerSec, meanTakenMs } = await f.stop();
            // 1000 / mean × opsPerCall = acquisitions/s (see the suite's doc).
            c.opsPerCall = (acquisitionsPerSec * meanTakenMs) / 1000;
          },
        };
        cases.push(c);
      }

      return {
        cases,
        teardown: async () => {
          try {
            await manager.close();
            for (const m of Object.values(replicatedManagers)) await m.close().catch(() => {});
            for (const r of [...pairClients, pair.redis]) r.disconnect();
            await Promise.all([pair.replica.stop(), pair.master.stop()]);
            for (const pattern of [`${base}:*`, `mutex:${base}:*`]) {
              let cursor = '0';
              do {
                const [next, keys] = await ballastRedis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
                cursor = next;
                if (keys.length > 0) await ballastRedis.del(...keys);
              } while (cursor !== '0');
            }
          } finally {
            ballastRedis.disconnect();
            redlockRedis.disconnect();
            semaphoreRedis.disconnect();
          }
        },
      };
    },
  };
}

export const lock: Suite = createLockSuite();
