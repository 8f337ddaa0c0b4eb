/**
 * What operators see of the locks on Redis (the `ballast lock` commands and the dashboard): which resources
 * are held, by whom, with which fencing token and how long is left, who queues for them — and a forced
 * release for a holder that is stuck. Read from the keys the Redis backend writes (`lockKeys`), with `SCAN`
 * (never `KEYS`); on a Cluster, on every master.
 */
import {
  defineScript,
  globEscape,
  guardRedis,
  isCluster,
  prefixKey,
  type RedisClient,
  runScript,
  scanKeys,
} from '@ballast/core';
import type { LockInspection } from './backend';
import { RedisLockBackend, sendQueuedLockScripts } from './backends/redis';
import { lockKeys } from './keys';
import fairPrelude from './lua/fair-prelude.lua';
import forceReleaseSource from './lua/force-release.lua';

const FORCE_RELEASE = defineScript('lock:force-release', `${fairPrelude}\n${forceReleaseSource}`);

/** One lock as `LockInspector` lists it: the backend's `inspect` snapshot, named. */
export interface LockInfo extends LockInspection {
  resource: string;
}

export interface LockInspectorOptions {
  redis: RedisClient;
  /** The prefix the lock managers use. Default `ballast`. */
  prefix?: string;
  /** Each command's bound (core's `guardRedis`). Default 5 s. */
  commandTimeoutMs?: number;
}

export interface LockListOptions {
  /** A glob on resource names (`order:*`). Default every resource. */
  match?: string;
  /** At most this many locks (default 100). */
  limit?: number;
}

export class LockInspector {
  readonly #redis: RedisClient;
  readonly #client: object;
  readonly #prefix: string;
  readonly #perSlot: boolean;
  readonly #backend: RedisLockBackend;

  constructor(options: LockInspectorOptions) {
    this.#redis = guardRedis(options.redis, { commandTimeoutMs: options.commandTimeoutMs });
    this.#client = options.redis;
    this.#prefix = options.prefix ?? 'ballast';
    this.#perSlot = isCluster(options.redis);
    this.#backend = new RedisLockBackend({
      redis: options.redis,
      prefix: this.#prefix,
      ...(options.commandTimeoutMs === undefined ? {} : { commandTimeoutMs: options.commandTimeoutMs }),
    });
  }

  /**
   * Locks that are held or have live waiters, sorted by resource name. A snapshot: each lock is read
   * atomically (`RedisLockBackend.inspect`, one script), the list is not (locks come and go while it is read).
   */
  async list(options: LockListOptions = {}): Promise<LockInfo[]> {
    const limit = options.limit ?? 100;
    const head = prefixKey(this.#prefix, 'lock:{');
    const pattern = (tail: string) => `${globEscape(head)}${options.match ?? '*'}}:${tail}`;
    const resources = new Set<string>();
    for (const tail of ['owners', 'queue', 'waiters']) {
      for await (const key of scanKeys(this.#redis, pattern(tail))) {
        const resource = key.slice(head.length, key.length - tail.length - 2);
        if (!resource.includes('}')) resources.add(resource);
      }
    }
    const infos = await Promise.all([...resources].sort().map((r) => this.show(r)));
    return infos.filter((i): i is LockInfo => i !== undefined).slice(0, limit);
  }

  /** One lock, read atomically; `undefined` when nobody holds it and nobody waits. */
  async show(resource: string): Promise<LockInfo | undefined> {
    const inspection = await this.#backend.inspect(resource);
    if (inspection.holders.length === 0 && inspection.waiters.length === 0) return undefined;
    return { resource, ...inspection };
  }
  /**
   * Frees a lock whatever holds it — for a holder that is stuck, not dead (a dead one's lease runs out on its
   * own). The holder is not told: its next extend or release finds the lease lost and its lease's signal
   * aborts; until then it may believe it holds the lock, which is why writes behind locks should be fenced
   * (`fencedSet`): the next grant's fencing token is greater than its own. A queued fair waiter gets the lock in
   * the same step, as on a release. Resolves with the number of holders removed (0: it was free).
   */
  async forceRelease(resource: string): Promise<number> {
    const k = lockKeys(this.#prefix, resource, { perSlot: this.#perSlot });
    sendQueuedLockScripts(this.#client); // this tick's batched exclusive calls go out first (call order)
    return Number(
      await runScript<number>(
        this.#redis,
        FORCE_RELEASE,
        [k.owners, k.counter, k.queue, k.queueInfo, k.waiters, k.fence, k.expiry],
        [k.released],
      ),
    );
  }
}
