// Deadlock detection across processes: a wait-for graph kept in Redis beside the locks.
import type { Clock, Logger, RedisClient, TimerHandle } from '@ballast/core';
import type { LockBackend } from './backend';
import { DeadlockError } from './errors';
import { waitForKey } from './keys';

/** A wait shorter than this is never looked at: contended waits end in milliseconds, deadlocks do not. */
export const WAIT_GRAPH_DELAY_MS = 50;
/** How often a long wait renews its edge and looks for a cycle again. */
export const WAIT_GRAPH_PERIOD_MS = 500;
/** Edges of a process that died vanish after this long (it stopped renewing them). */
const EDGE_TTL_MS = 3 * WAIT_GRAPH_PERIOD_MS;
/** Longest chain of waits followed. */
const MAX_DEPTH = 16;

const short = (owner: string) => owner.slice(0, 12);

/**
 * The wait-for graph of every manager sharing a Redis: a waiting owner writes `lock-wait:{owner}` → the key
 * it waits for (expiring unless renewed, so a dead process's edges vanish); who holds a key is the lock's own
 * state (`backend.holders`, which expires with the leases). A waiter walks waiter → key → holders → the keys
 * they wait for … and finds a cycle when the walk comes back to it. It looks when its wait has lasted
 * `WAIT_GRAPH_DELAY_MS` (its edge is written then) and every `WAIT_GRAPH_PERIOD_MS` after. Every member of a
 * cycle may see it; only the one with the greatest owner id gives up (`DeadlockError`), so exactly one fails
 * and the others get their locks once it has let go.
 */
export class WaitGraph {
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #backend: LockBackend;
  readonly #clock: Clock;
  readonly #log: Logger;

  constructor(redis: RedisClient, prefix: string, backend: LockBackend, clock: Clock, log: Logger) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#backend = backend;
    this.#clock = clock;
    this.#log = log;
  }

  /** Watches `owner` waiting for `key`; `onDeadlock` gets the error when it must give up. Returns the stop. */
  watch(owner: string, key: string, onDeadlock: (error: DeadlockError) => void): () => void {
    const edge = waitForKey(this.#prefix, owner);
    let stopped = false;
    let written = false;
    let timer: TimerHandle | undefined;
    const round = async () => {
      written = true;
      await this.#redis.set(edge, key, 'PX', EDGE_TTL_MS);
      if (stopped) return;
      const cycle = await this.#cycle(owner, key);
      if (stopped || !cycle) return;
      const victim = [...cycle.owners].sort().at(-1);
      if (victim === owner) onDeadlock(new DeadlockError(cycle.path));
    };
    const arm = (ms: number) => {
      timer = this.#clock.setTimeout(() => {
        timer = undefined;
        round()
          .catch((error: unknown) => this.#log.debug({ key, err: error }, 'deadlock check failed; retrying'))
          .finally(() => {
            if (stopped) this.#drop(edge, written);
            else arm(WAIT_GRAPH_PERIOD_MS);
          });
      }, ms);
      timer.unref?.();
    };
    arm(WAIT_GRAPH_DELAY_MS);
    return () => {
      stopped = true;
      if (timer) {
        this.#clock.clearTimeout(timer);
        this.#drop(edge, written);
      }
    };
  }

  #drop(edge: string, written: boolean): void {
    if (written) this.#redis.del(edge).catch(() => {});
  }

  /** The cycle through `owner` waiting for `key`, if the graph has one. */
  async #cycle(owner: string, key: string): Promise<{ owners: string[]; path: string[] } | undefined> {
    const owners = [owner];
    const path = [short(owner)];
    // Keys on the walk so far. A real cycle never passes one key twice (a key's holder cannot wait for a key on
    // the way to it): meeting one again means reads at different moments — a holder granted a moment ago whose
    // edge is not deleted yet, in a chain of hand-offs — not a deadlock.
    const keys = [key];
    const visit = async (k: string, depth: number): Promise<boolean> => {
      if (depth > MAX_DEPTH) return false;
      const { holders } = await this.#backend.holders(k);
      for (const holder of Object.keys(holders)) {
        if (holder === owner) {
          // The key it waits for is held by itself: a fair hand-off (or a grant) it has not heard of yet — the
          // release script made it the holder before its wait ended. Not a cycle.
          if (depth === 0) continue;
          path.push(`waits for ${k} held by ${short(holder)}`);
          return true;
        }
        if (owners.includes(holder)) continue; // a cycle not through this waiter: not its to break
        const next = await this.#redis.get(waitForKey(this.#prefix, holder));
        if (next === null || keys.includes(next)) continue;
        owners.push(holder);
        keys.push(next);
        path.push(`waits for ${k} held by ${short(holder)}`);
        if (await visit(next, depth + 1)) return true;
        owners.pop();
        keys.pop();
        path.pop();
      }
      return false;
    };
    return (await visit(key, 0)) ? { owners, path } : undefined;
  }
}
