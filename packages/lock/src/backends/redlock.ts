/**
 * Redlock: one lock over N independent Redis masters (no replication between them), as described on
 * redis.io's "Distributed Locks with Redis" page and implemented by the `redlock` npm package. Each node is a
 * `RedisLockBackend` (one Lua script per operation, each node's own server time), so reentrancy, shared
 * mode, writer preference and release wake-ups work as on one node; this class only adds the quorum.
 *
 * - `tryAcquire` asks every node at once with the same token. It holds the lock when a quorum
 *   (⌊N/2⌋ + 1) granted it AND time is left: validity = ttl − elapsed − drift > 0, drift = ttl·driftFactor
 *   + 2 ms. Otherwise it releases on every node that granted it or did not answer (a lost reply may hide a
 *   grant; a node that refused holds nothing of this attempt) and returns the largest refusal hint. A node
 *   that errors or does not answer within `nodeTimeoutMs` counts as a refusal: one node down never fails
 *   the call. The decision is taken as soon as it is known, so a hung node costs nothing once a quorum is in.
 * - `extend`: true when a quorum extended within the new validity; false when a majority says the token does
 *   not hold the lock (lost); throws `RedlockQuorumError` when too few nodes answered to tell, so
 *   `LockManager` keeps the lease until it surely expired and retries, as it does for one unreachable Redis.
 * - `release`: on every node; the largest remaining count among the nodes that held it when a quorum held
 *   it, −1 when a majority says it did not (the lease was lost); when unreachable nodes leave it undecided,
 *   the largest count seen, or −1 when no node confirmed the hold.
 * - `addWaiter` / `removeWaiter` / `onRelease` / `subscribed` / `close`: on every node, node errors ignored
 *   (a release on any node wakes the waiter; `subscribed` waits at most `nodeTimeoutMs` for a hung node).
 * - `holders`: the majority view: a token is listed only when a quorum of nodes reports it as a live holder
 *   (with the largest count among them); a minority leftover of a failed attempt is not a holder.
 *
 * Fencing tokens: every node keeps its own counter, and counters drift apart (a minority grant that was
 * rolled back still counts). The token returned is the largest of the granting nodes' counters, and before
 * returning it the nodes that lag behind it are raised to it (`RAISE_FENCE`), so a majority always stands at
 * or above the last token handed out and the next quorum — which shares a node with it — goes higher. That
 * needs a client per node: given `RedisLockBackend` instances instead of clients, the raise is skipped and
 * tokens may go backwards after counters diverged. Either way tokens are monotonic only while a majority of
 * nodes keeps its counters: a node that restarts without persistence (or fails over to a replica that missed
 * writes) starts again from a lower counter and, if it is the one node two quorums share, can repeat a token.
 *
 * Known limits (Kleppmann, "How to do distributed locking", 2016; antirez's reply "Is Redlock safe?"):
 * - Redlock assumes bounded network delay, process pauses and clock drift. A client paused (GC, swap, a
 *   stopped VM) past its validity keeps running while another holds the lock; a node whose clock jumps (NTP
 *   step, manual change) expires leases early. `driftFactor` only budgets for ordinary drift. Where
 *   correctness, not only efficiency, depends on the lock, check the fencing token at the resource
 *   (`fencedSet`), and remember it is only as monotonic as said above.
 * - A node that restarts without persistence forgets its locks: with N = 3, if the lock was held on A and B
 *   and B restarts empty, another client can take B and C, and two clients hold the lock. Mitigate with
 *   `appendonly yes` + `appendfsync always` on every node, or keep a restarted node out for longer than the
 *   largest ttl in use (delayed restart), so every lock it knew has expired before it votes again.
 * - Reentrancy: a re-acquisition that misses its quorum releases one level on the nodes whose reply was lost;
 *   when the command never ran there, that node gives up one level too many of the outer hold.
 * Use an odd N ≥ 3 (5 tolerates two failures); every node must be an independent master, not a replica.
 */
import {
  type Clock,
  childLogger,
  clockSchema,
  defineScript,
  type Logger,
  loggerSchema,
  parseOptions,
  type RedisClient,
  runScript,
  systemClock,
} from '@ballast/core';
import { z } from 'zod';
import type { AcquireOptions, AcquireResult, LockBackend, LockHolders, LockMode } from '../backend';
import { RedlockQuorumError } from '../errors';
import { lockKeys } from '../keys';
import { RedisLockBackend } from './redis';

/**
 * KEYS[1] counter  the fencing counter (see `lockKeys`)
 * ARGV[1]        the fencing token just handed out
 * Raises the counter to ARGV[1] when it is lower; returns the counter.
 */
const RAISE_FENCE = defineScript(
  'lock:redlock-raise-fence',
  `local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local want = tonumber(ARGV[1])
if cur < want then redis.call('SET', KEYS[1], ARGV[1]) return want end
return cur`,
);

/** Retry hint when no node refused with one of its own (nodes down, or the quorum came too late). */
const FALLBACK_RETRY_MS = 100;

const isClient = (v: unknown): v is RedisClient =>
  typeof v === 'object' && v !== null && typeof (v as RedisClient).evalsha === 'function';

export const redlockOptionsSchema = z
  .object({
    /** Independent Redis masters (clients, or backends built on them): 3 or 5; an odd count. */
    nodes: z
      .array(
        z.custom<RedisClient | RedisLockBackend>((v) => v instanceof RedisLockBackend || isClient(v), {
          message: 'expected a Redis client or a RedisLockBackend',
        }),
      )
      .min(1)
      .refine((n) => new Set(n).size === n.length, { message: 'the same node is given twice' }),
    /** Key prefix of the backends made from clients (backends given as such keep their own). */
    prefix: z.string().min(1).default('ballast'),
    /** Share of the ttl assumed lost to clock drift between the nodes (+2 ms). */
    driftFactor: z.number().min(0).max(0.5).default(0.01),
    /** How long one node may take to answer before it counts as a refusal (acquire/extend: at most the ttl). */
    nodeTimeoutMs: z.number().int().positive().default(1_000),
    logger: loggerSchema().optional(),
    clock: clockSchema().optional(),
  })
  .strict();

export type RedlockBackendOptions = z.input<typeof redlockOptionsSchema>;

interface Node {
  backend: RedisLockBackend;
  /** Present when built from a client: needed to raise the fencing counter. */
  redis: RedisClient | undefined;
  label: string;
  healthy: boolean;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };
type Outcomes<T> = (Outcome<T> | undefined)[];

function labelOf(node: RedisClient | RedisLockBackend, i: number): string {
  const o = (node as { options?: { host?: string; port?: number } }).options;
  return o?.host ? `${o.host}:${o.port ?? 6379}` : `node ${i}`;
}

/** Redlock over N independent Redis masters: a lock is held when a majority of them grants it in time. */
export class RedlockBackend implements LockBackend {
  readonly #nodes: readonly Node[];
  readonly #all: readonly number[];
  readonly #quorum: number;
  readonly #prefix: string;
  readonly #driftFactor: number;
  readonly #nodeTimeoutMs: number;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #raisesFences: boolean;

  constructor(options: RedlockBackendOptions) {
    const o = parseOptions(redlockOptionsSchema, options, 'RedlockBackend');
    this.#log = childLogger(o.logger, { component: 'redlock' });
    this.#prefix = o.prefix;
    this.#driftFactor = o.driftFactor;
    this.#nodeTimeoutMs = o.nodeTimeoutMs;
    this.#clock = o.clock ?? systemClock;
    this.#nodes = o.nodes.map((n, i) =>
      n instanceof RedisLockBackend
        ? { backend: n, redis: undefined, label: labelOf(n, i), healthy: true }
        : {
            backend: new RedisLockBackend({ redis: n, prefix: o.prefix, logger: this.#log }),
            redis: n,
            label: labelOf(n, i),
            healthy: true,
          },
    );
    const n = this.#nodes.length;
    this.#all = this.#nodes.map((_, i) => i);
    this.#quorum = Math.floor(n / 2) + 1;
    this.#raisesFences = this.#nodes.every((x) => x.redis !== undefined);
    if (n < 3) this.#log.warn({ nodes: n }, `Redlock on ${n} node(s) tolerates no node failure: use 3 or 5`);
    if (n % 2 === 0) {
      this.#log.warn(
        { nodes: n },
        `Redlock on an even number of nodes (${n}) tolerates no more failures than ${n - 1}`,
      );
    }
    const labels = this.#nodes.map((x) => x.label).filter((l) => !l.startsWith('node '));
    if (new Set(labels).size < labels.length) {
      this.#log.warn({ nodes: labels }, 'two Redlock nodes point at the same server: they are not independent');
    }
    if (!this.#raisesFences) {
      this.#log.info('Redlock nodes given as backends: fencing counters are not raised to the quorum maximum');
    }
  }

  /** How many nodes must agree: ⌊N/2⌋ + 1. */
  get quorum(): number {
    return this.#quorum;
  }

  async tryAcquire(
    resource: string,
    token: string,
    mode: LockMode,
    ttlMs: number,
    options: AcquireOptions = {},
  ): Promise<AcquireResult> {
    const start = this.#clock.monotonic();
    const n = this.#nodes.length;
    const q = this.#quorum;
    const outs = await this.#each(
      this.#all,
      (node) => node.backend.tryAcquire(resource, token, mode, ttlMs, options),
      Math.min(this.#nodeTimeoutMs, ttlMs),
      (o) => {
        const won = o.filter((x) => x?.ok && x.value.acquired).length;
        const lost = o.filter((x) => x && !(x.ok && x.value.acquired)).length;
        return won >= q || lost > n - q;
      },
    );
    const won: number[] = [];
    const grants: { fencingToken: number; count: number }[] = [];
    let hint = -1;
    outs.forEach((x, i) => {
      if (!x?.ok) return;
      if (x.value.acquired) {
        won.push(i);
        grants.push(x.value);
      } else hint = Math.max(hint, x.value.retryAfterMs);
    });
    if (won.length >= q && this.#validity(start, ttlMs) > 0) {
      const fencingToken = Math.max(...grants.map((g) => g.fencingToken));
      const count = Math.max(...grants.map((g) => g.count));
      const behind = won.filter((_, k) => grants[k]!.fencingToken < fencingToken);
      if ((await this.#raiseFences(resource, won.length, behind, fencingToken)) && this.#validity(start, ttlMs) > 0) {
        return { acquired: true, fencingToken, count };
      }
    }
    // Not held: undo what this attempt may have taken (a refusing node holds nothing of it).
    const undo = this.#all.filter((i) => !(outs[i]?.ok && !outs[i].value.acquired));
    await this.#each(undo, (node) => node.backend.release(resource, token, mode), this.#nodeTimeoutMs);
    return { acquired: false, retryAfterMs: hint >= 0 ? hint : FALLBACK_RETRY_MS };
  }

  /** ttl − elapsed − drift: how long a lock taken (or extended) at `start` is still surely held. */
  #validity(start: number, ttlMs: number): number {
    return ttlMs - (this.#clock.monotonic() - start) - (ttlMs * this.#driftFactor + 2);
  }

  /** Raises the lagging granting nodes' counters to `fence`; true when a quorum then stands at or above it. */
  async #raiseFences(resource: string, granted: number, behind: number[], fence: number): Promise<boolean> {
    if (!this.#raisesFences || behind.length === 0) return true;
    const key = lockKeys(this.#prefix, resource).counter;
    const outs = await this.#each(
      behind,
      (node) => runScript<number>(node.redis!, RAISE_FENCE, [key], [fence]),
      this.#nodeTimeoutMs,
    );
    const raised = behind.filter((i) => outs[i]?.ok).length;
    return granted - behind.length + raised >= this.#quorum;
  }

  async extend(resource: string, token: string, mode: LockMode, ttlMs: number): Promise<boolean> {
    const start = this.#clock.monotonic();
    const n = this.#nodes.length;
    const q = this.#quorum;
    const tally = (o: Outcomes<boolean>) => ({
      yes: o.filter((x) => x?.ok && x.value).length,
      no: o.filter((x) => x?.ok && !x.value).length,
    });
    const outs = await this.#each(
      this.#all,
      (node) => node.backend.extend(resource, token, mode, ttlMs),
      Math.min(this.#nodeTimeoutMs, ttlMs),
      (o) => {
        const t = tally(o);
        return t.yes >= q || t.no > n - q;
      },
    );
    const { yes, no } = tally(outs);
    if (yes >= q) return this.#validity(start, ttlMs) > 0;
    if (no > n - q) return false;
    const cause = outs.find((x) => x && !x.ok);
    throw new RedlockQuorumError(resource, 'extend', yes + no, q, cause && !cause.ok ? cause.error : undefined);
  }

  async release(resource: string, token: string, mode: LockMode): Promise<number> {
    const outs = await this.#each(
      this.#all,
      (node) => node.backend.release(resource, token, mode),
      this.#nodeTimeoutMs,
    );
    const held = outs.flatMap((x) => (x?.ok && x.value >= 0 ? [x.value] : []));
    const notHeld = outs.filter((x) => x?.ok && x.value < 0).length;
    if (held.length >= this.#quorum) return Math.max(...held);
    if (notHeld > this.#nodes.length - this.#quorum) return -1;
    return held.length > 0 ? Math.max(...held) : -1;
  }

  async addWaiter(resource: string, token: string, ttlMs: number): Promise<void> {
    await this.#each(this.#all, (node) => node.backend.addWaiter(resource, token, ttlMs), this.#nodeTimeoutMs);
  }

  async removeWaiter(resource: string, token: string): Promise<void> {
    await this.#each(this.#all, (node) => node.backend.removeWaiter(resource, token), this.#nodeTimeoutMs);
  }

  onRelease(resource: string, listener: () => void): () => void {
    const offs = this.#nodes.map((node) => node.backend.onRelease(resource, listener));
    return () => {
      for (const off of offs) off();
    };
  }

  /** Resolves once every node's release channel is subscribed (a node that hangs: after `nodeTimeoutMs`). */
  async subscribed(resource: string): Promise<void> {
    await this.#each(this.#all, (node) => node.backend.subscribed(resource), this.#nodeTimeoutMs);
  }

  /** The majority view: the live holders a quorum of nodes agrees on. */
  async holders(resource: string): Promise<LockHolders> {
    const outs = await this.#each(this.#all, (node) => node.backend.holders(resource), this.#nodeTimeoutMs);
    const seen = new Map<string, { mode: LockMode; token: string; nodes: number; count: number }>();
    for (const x of outs) {
      if (!x?.ok || x.value.mode === undefined) continue;
      for (const [token, count] of Object.entries(x.value.holders)) {
        const id = `${x.value.mode}\u0000${token}`;
        const s = seen.get(id) ?? { mode: x.value.mode, token, nodes: 0, count: 0 };
        s.nodes++;
        s.count = Math.max(s.count, count);
        seen.set(id, s);
      }
    }
    const agreed = [...seen.values()].filter((s) => s.nodes >= this.#quorum);
    return {
      mode: agreed[0]?.mode,
      holders: Object.fromEntries(agreed.map((s) => [s.token, s.count])),
    };
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.#nodes.map((node) => node.backend.close()));
  }

  /**
   * Calls `call` on the nodes `indices` at once. Resolves with their outcomes (by node index; `undefined` for
   * a node not asked or not answered yet) when all answered, when `enough(outcomes)` holds, or after
   * `timeoutMs` — whichever comes first. Never rejects.
   */
  #each<T>(
    indices: readonly number[],
    call: (node: Node) => Promise<T>,
    timeoutMs: number,
    enough?: (outcomes: Outcomes<T>) => boolean,
  ): Promise<Outcomes<T>> {
    const outs: Outcomes<T> = this.#nodes.map(() => undefined);
    if (indices.length === 0) return Promise.resolve(outs);
    return new Promise((resolve) => {
      let pending = indices.length;
      let finished = false;
      const finish = (timedOut: boolean) => {
        if (finished) return;
        finished = true;
        this.#clock.clearTimeout(timer);
        if (timedOut) {
          const error = new Error(`no answer within ${timeoutMs} ms`);
          for (const i of indices) if (!outs[i]) this.#health(this.#nodes[i]!, error);
        }
        resolve(outs.slice());
      };
      const timer = this.#clock.setTimeout(() => finish(true), Math.max(1, timeoutMs));
      for (const i of indices) {
        const node = this.#nodes[i]!;
        let p: Promise<T>;
        try {
          p = call(node);
        } catch (error) {
          p = Promise.reject(error);
        }
        void p
          .then(
            (value): Outcome<T> => ({ ok: true, value }),
            (error: unknown): Outcome<T> => ({ ok: false, error }),
          )
          .then((o) => {
            this.#health(node, o.ok ? undefined : o.error);
            if (finished) return;
            outs[i] = o;
            pending--;
            if (pending === 0 || enough?.(outs)) finish(false);
          });
      }
    });
  }

  /** Logs a node's transitions only (failing → answering again), not every failed call. */
  #health(node: Node, error: unknown): void {
    if (error === undefined) {
      if (!node.healthy) this.#log.info({ node: node.label }, 'Redlock node answers again');
      node.healthy = true;
    } else if (node.healthy) {
      node.healthy = false;
      this.#log.warn({ err: error, node: node.label }, 'Redlock node failed: counted as a refusal until it answers');
    }
  }
}
