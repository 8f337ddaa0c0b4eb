import {
  createScriptBatcher,
  defineScript,
  duplicateClient,
  guardRedis,
  type Logger,
  type Redis,
  type RedisClient,
  type ScriptArg,
  type ScriptBatcher,
  waitForReplicas,
  watchConnection,
} from '@ballast/core';
import type { Counts, FailOutcome, FetchedJob, FetchLanes, QueueBackend, StalledJob, Waiter } from '../backend';
import { QueueDurabilityError } from '../errors';
import { eventsKey } from '../events';
import { type FlowEvents, type FlowRecord, type FlowStore, type OutboxEntry, parseOutbox } from '../flows';
import { addSplit, toGroupLine } from '../groups';
import type { JobInfo, JobState, NewJob } from '../job';
import { priorityLabel } from '../job';
import { groupKeys, type QueueKeys, queueKeys } from '../keys';
import addSource from '../lua/add.lua';
import completeManySource from '../lua/complete-many.lua';
import countsSource from '../lua/counts.lua';
import eventsTrimSource from '../lua/events-trim.lua';
import failSource from '../lua/fail.lua';
import fetchSource from '../lua/fetch.lua';
import flowAckSource from '../lua/flow-ack.lua';
import flowAddSource from '../lua/flow-add.lua';
import flowReadSource from '../lua/flow-read.lua';
import flowResolveSource from '../lua/flow-resolve.lua';
import releaseSource from '../lua/release.lua';
import renewSource from '../lua/renew.lua';
import replaySource from '../lua/replay.lua';
import stalledSource from '../lua/stalled.lua';
import { MAX_PRIORITY } from '../options';
import { toJobInfo } from './codec';
import { RedisGroupStore } from './redis-groups';
import { RedisLimiterStore } from './redis-limiter';
import { RedisOperations } from './redis-ops';
import { RedisSchedulerStore } from './redis-scheduler';

const ADD = defineScript('queue:add', addSource);
const FETCH = defineScript('queue:fetch', fetchSource);
const COMPLETE_MANY = defineScript('queue:complete-many', completeManySource);
const FAIL = defineScript('queue:fail', failSource);
const RENEW = defineScript('queue:renew', renewSource);
const STALLED = defineScript('queue:stalled', stalledSource);
const REPLAY = defineScript('queue:replay', replaySource);
const COUNTS = defineScript('queue:counts', countsSource);
const RELEASE = defineScript('queue:release', releaseSource);
const FLOW_ADD = defineScript('queue:flow-add', flowAddSource);
const FLOW_RESOLVE = defineScript('queue:flow-resolve', `${eventsTrimSource}\n${flowResolveSource}`);
const FLOW_ACK = defineScript('queue:flow-ack', flowAckSource);
const FLOW_READ = defineScript('queue:flow-read', flowReadSource);

const pairs = (flat: string[]): Record<string, string> => {
  const out: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
};

interface PendingAck {
  args: [string, string, string, number, number];
  resolve(ok: boolean): void;
  reject(error: unknown): void;
}

/** Jobs per `add` script call: bounds one script's run time (Redis is single-threaded). */
const ADD_CHUNK = 1_000;

export interface RedisBackendOptions {
  redis: RedisClient;
  name: string;
  /** First key segment; default `ballast`. */
  prefix?: string;
  /** Each command's bound (core's `guardRedis`): past it, `BackendUnavailableError`. Default 5 s. */
  commandTimeoutMs?: number;
  /** Where the waiters' blocking connections report losing and regaining Redis. */
  logger?: Logger;
  /** Shared with the queue's other connections: one warning per outage, not one per connection. */
  connectionState?: { down: boolean };
  /** WAIT after each `add` (see the queue's `durability` option). */
  durability?: { replicas: number; timeoutMs: number };
}

const STATE_KEY: Record<JobState, keyof QueueKeys> = {
  waiting: 'wait',
  delayed: 'delayed',
  active: 'active',
  completed: 'completed',
  failed: 'failed',
  dead: 'dead',
  'waiting-children': 'waitingChildren',
};

/**
 * Redis backend: every state move is one Lua script on the queue's keys (one hash tag: one Cluster slot).
 * Calls made in the same tick go out in one socket write (acks of many jobs finishing together cost one write).
 * Idle workers block on the wake-up list (BLPOP) on a connection of their own.
 */
export class RedisBackend implements QueueBackend {
  readonly kind = 'redis' as const;
  readonly keys: QueueKeys;
  readonly ops: RedisOperations;
  readonly #redis: RedisClient;
  readonly #batch: ScriptBatcher;
  readonly #waiters = new Set<RedisWaiter>();
  #acks: PendingAck[] = [];
  readonly #log: Logger | undefined;
  readonly #connectionState: { down: boolean } | undefined;
  #now = 0;
  readonly #name: string;
  readonly #prefix: string;
  readonly #durability: { replicas: number; timeoutMs: number } | undefined;
  readonly #raw: RedisClient;
  readonly #commandTimeoutMs: number | undefined;
  #schedulers: RedisSchedulerStore | undefined;
  #limiter: RedisLimiterStore | undefined;
  #groups: RedisGroupStore | undefined;
  #flows: RedisFlowStore | undefined;
  /** The fixed keys and the flow keys (KEYS[10] waiting-children, KEYS[11] flow outbox), one slot. */
  readonly #scriptKeys: string[];

  constructor(options: RedisBackendOptions) {
    this.#name = options.name;
    this.#prefix = options.prefix ?? 'ballast';
    this.#redis = guardRedis(options.redis, { commandTimeoutMs: options.commandTimeoutMs });
    this.keys = queueKeys(options.name, options.prefix);
    this.#scriptKeys = [...this.keys.all, this.keys.waitingChildren, this.keys.outbox];
    this.ops = new RedisOperations(
      this.#redis,
      this.keys,
      eventsKey(options.name, options.prefix),
      groupKeys(options.name, options.prefix),
    );
    this.#batch = createScriptBatcher(this.#redis);
    this.#log = options.logger;
    this.#connectionState = options.connectionState;
    this.#durability = options.durability;
    this.#raw = options.redis;
    this.#commandTimeoutMs = options.commandTimeoutMs;
  }

  #run<T>(script: Parameters<ScriptBatcher['run']>[0], args: ScriptArg[]): Promise<T> {
    return this.#batch.run<T>(script, this.#scriptKeys, [this.keys.job, ...args]);
  }

  async add(jobs: readonly NewJob[], now: number): Promise<{ id: string; added: boolean }[]> {
    if (jobs.some(toGroupLine)) return addSplit(jobs, now, (rest) => this.add(rest, now), this.groups());
    const out: { id: string; added: boolean }[] = [];
    for (let start = 0; start < jobs.length; start += ADD_CHUNK) {
      const chunk = jobs.slice(start, start + ADD_CHUNK);
      const args: ScriptArg[] = [now, chunk.length];
      for (const j of chunk) args.push(j.id, j.name, j.data, j.opts, j.priority, j.delayMs);
      const flat = await this.#run<(string | number)[]>(ADD, args);
      for (let i = 0; i < flat.length; i += 2) out.push({ id: String(flat[i]), added: flat[i + 1] === 1 });
    }
    const d = this.#durability;
    if (d && out.length > 0) {
      const { acked, node } = await waitForReplicas(this.#raw, this.keys.job, {
        ...d,
        ...(this.#commandTimeoutMs !== undefined ? { commandTimeoutMs: this.#commandTimeoutMs } : {}),
      });
      if (acked < d.replicas) {
        const ids = out.map((j) => j.id);
        throw new QueueDurabilityError('redis', node, this.#name, ids, acked, d.replicas, d.timeoutMs);
      }
    }
    return out;
  }

  async fetch(now: number, count: number, token: string, lockMs: number) {
    const [rows, nextDue] = await this.#batch.run<[string[][], string | number]>(FETCH, this.#scriptKeys, [
      this.keys.job,
      now,
      count,
      token,
      lockMs,
    ]);
    return this.#fetched(rows, nextDue, now, token);
  }

  createFetchLanes(workerId: string): FetchLanes {
    // Lane 1's connection, made now so that it is up by the worker's second fetch. A Cluster duplicate is a
    // Cluster client. Ours: its 'error' events go to the logger, never unhandled.
    const conn = duplicateClient(this.#raw) as Redis;
    if (this.#log) {
      watchConnection(conn, {
        logger: this.#log,
        backend: 'redis',
        connection: 'queue worker fetch lane',
        ...(this.#connectionState ? { state: this.#connectionState } : {}),
      });
    } else conn.on('error', () => {});
    // (A lazyConnect client's duplicate is lazy too: connect it now. A failure is its 'error' event, and lane 1
    // stays off while it is not ready.)
    if (conn.status === 'wait') conn.connect().catch(() => {});
    const own = createScriptBatcher(guardRedis(conn, { commandTimeoutMs: this.#commandTimeoutMs }));
    // The worker's fetch counter: its key shares the queue's hash tag (one Cluster slot); deleted on close, else it
    // expires a day after the worker's last fetch (an idle worker still fetches every blockMs).
    const orderKey = `${this.keys.meta}:fetch-order:${workerId}`;
    let closed = false;
    return {
      get ready() {
        return !closed && conn.status === 'ready';
      },
      fetch: async (lane, now, count, token, lockMs) => {
        const batch = lane === 1 && !closed ? own : this.#batch;
        const [rows, nextDue, order] = await batch.run<[string[][], string | number, number]>(FETCH, this.#scriptKeys, [
          this.keys.job,
          now,
          count,
          token,
          lockMs,
          orderKey,
        ]);
        return { ...this.#fetched(rows, nextDue, now, token), order: Number(order) };
      },
      close: () => {
        closed = true;
        conn.disconnect();
        // The counter is this worker's alone: gone with it (else it expires a day after the last fetch).
        this.#redis.del(orderKey).catch(() => {});
      },
    };
  }

  #fetched(rows: string[][], nextDue: string | number, now: number, token: string) {
    const jobs: FetchedJob[] = rows.map((r) => ({
      id: r[0]!,
      name: r[1]!,
      data: r[2]!,
      opts: r[3]!,
      priority: Number(r[4]),
      attemptsMade: Number(r[5]),
      createdAt: Number(r[6]),
      token,
    }));
    // Ms until due on the server's clock, turned into a time on the caller's clock (which may be off).
    const dueIn = Number(nextDue);
    return { jobs, nextDueAt: dueIn < 0 ? null : now + dueIn };
  }

  /**
   * Acks made in the same tick go out as one script call (jobs of a batch tend to finish together); that call
   * shares its socket write with the fetch the freed slots trigger.
   */
  complete(id: string, token: string, now: number, result: string, keep: [number, number]): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      if (this.#acks.length === 0) process.nextTick(() => this.#flushAcks());
      this.#now = Math.max(this.#now, now);
      this.#acks.push({ args: [id, token, result, keep[0], keep[1]], resolve, reject });
    });
  }

  #flushAcks(): void {
    const batch = this.#acks;
    this.#acks = [];
    const args: ScriptArg[] = [this.#now, batch.length];
    for (const a of batch) args.push(...a.args);
    this.#run<number[]>(COMPLETE_MANY, args).then(
      (oks) => {
        for (let i = 0; i < batch.length; i++) batch[i]!.resolve(oks[i] === 1);
      },
      (error: unknown) => {
        for (const a of batch) a.reject(error);
      },
    );
  }

  async fail(id: string, token: string, now: number, errorEntry: string, outcome: FailOutcome): Promise<boolean> {
    const delay = outcome.kind === 'retry' ? outcome.delayMs : 0;
    const keep: [number, number] = outcome.kind === 'retry' ? [-1, -1] : (outcome.keep ?? [-1, -1]);
    return (await this.#run<number>(FAIL, [id, token, now, errorEntry, outcome.kind, delay, keep[0], keep[1]])) === 1;
  }

  async renew(jobs: readonly (readonly [string, string])[], lockMs: number): Promise<string[]> {
    if (jobs.length === 0) return [];
    const args: ScriptArg[] = [lockMs];
    for (const [id, token] of jobs) args.push(id, token);
    return this.#run<string[]>(RENEW, args);
  }

  async recoverStalled(
    now: number,
    maxStalledCount: number,
    keepDead: [number, number] = [-1, -1],
  ): Promise<StalledJob[]> {
    const flat = await this.#run<string[]>(STALLED, [now, maxStalledCount, 1_000, keepDead[0], keepDead[1]]);
    const out: StalledJob[] = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ id: flat[i]!, outcome: flat[i + 1] as 'waiting' | 'dead' });
    return out;
  }

  async getJob(id: string): Promise<JobInfo | undefined> {
    return toJobInfo(id, await this.#redis.hgetall(this.keys.job + id));
  }

  async counts(): Promise<Counts> {
    const r = await this.#run<number[]>(COUNTS, []);
    const byPriority: Record<string, number> = {};
    for (let p = 0; p <= MAX_PRIORITY; p++) {
      const n = r[6 + p]!;
      if (n > 0) byPriority[priorityLabel(p)] = n;
    }
    return {
      waiting: r[0]!,
      delayed: r[1]!,
      active: r[2]!,
      completed: r[3]!,
      failed: r[4]!,
      dead: r[5]!,
      waitingChildren: r[6 + MAX_PRIORITY + 1]!,
      byPriority,
    };
  }

  async list(state: JobState, offset: number, limit: number): Promise<string[]> {
    return this.#redis.zrange(this.keys[STATE_KEY[state]] as string, offset, offset + limit - 1);
  }

  /**
   * Cursor paging of the DLQ by score (finish time, unique by construction: see fail.lua's `after_last`). The
   * cursor is `<score>:<id>`: entries with the cursor's score and an id up to its id (Redis orders ties by
   * member) were on earlier pages, so a page neither skips nor repeats jobs while others die or are replayed.
   */
  async listDeadAfter(cursor: string | null, limit: number): Promise<{ ids: string[]; cursor: string | null }> {
    let min = '-inf';
    let afterScore = Number.NEGATIVE_INFINITY;
    let afterId = '';
    if (cursor !== null) {
      const at = cursor.indexOf(':');
      afterScore = Number(cursor.slice(0, at));
      afterId = cursor.slice(at + 1);
      min = String(afterScore);
    }
    const ids: string[] = [];
    let last: string | null = cursor;
    for (let offset = 0; ids.length < limit; ) {
      const want = limit - ids.length + 16;
      const flat = await this.#redis.zrangebyscore(this.keys.dead, min, '+inf', 'WITHSCORES', 'LIMIT', offset, want);
      for (let i = 0; i < flat.length && ids.length < limit; i += 2) {
        const id = flat[i]!;
        const score = Number(flat[i + 1]);
        if (score === afterScore && id <= afterId) continue;
        ids.push(id);
        last = `${flat[i + 1]}:${id}`;
      }
      if (flat.length < want * 2) break;
      offset += want;
    }
    return { ids, cursor: last };
  }

  async replayDead(now: number, ids?: readonly string[]): Promise<number> {
    return this.#run<number>(REPLAY, [now, ...(ids ?? [])]);
  }

  async setPaused(paused: boolean): Promise<void> {
    if (paused) {
      await this.#redis.hset(this.keys.meta, 'paused', '1');
    } else {
      await this.#redis.hdel(this.keys.meta, 'paused');
      await this.#redis.lpush(this.keys.wake, '1');
      await this.#redis.ltrim(this.keys.wake, 0, 0);
    }
  }

  async isPaused(): Promise<boolean> {
    return (await this.#redis.hget(this.keys.meta, 'paused')) === '1';
  }

  createWaiter(): Waiter {
    const w = new RedisWaiter(
      this.#redis,
      this.keys.wake,
      () => this.#waiters.delete(w),
      this.#log,
      this.#connectionState,
    );
    this.#waiters.add(w);
    return w;
  }

  schedulers(): RedisSchedulerStore {
    this.#schedulers ??= new RedisSchedulerStore(this.#batch, this.keys, this.#name, this.#prefix, this.#redis);
    return this.#schedulers;
  }

  limiter(): RedisLimiterStore {
    this.#limiter ??= new RedisLimiterStore(this.#batch, this.#name, this.#prefix);
    return this.#limiter;
  }

  groups(): RedisGroupStore {
    this.#groups ??= new RedisGroupStore(this.#batch, this.keys, this.#name, this.#prefix);
    return this.#groups;
  }

  flows(): RedisFlowStore {
    this.#flows ??= new RedisFlowStore(
      this.#batch,
      this.#redis,
      this.keys,
      this.#prefix,
      eventsKey(this.#name, this.#prefix),
      { peers: new Map() },
    );
    return this.#flows;
  }

  async release(id: string, token: string, _now: number, delayMs: number): Promise<boolean> {
    return (await this.#run<number>(RELEASE, [id, token, delayMs])) === 1;
  }

  /** Closes the waiters' connections; the shared client is the caller's. */
  async close(): Promise<void> {
    for (const w of [...this.#waiters]) w.close();
  }
}

/**
 * One queue's side of flows on Redis. Every call is one script on this queue's slot; a child reaches its
 * parent's queue (another slot on a Cluster) through `peer`, a store on the same client and prefix.
 */
class RedisFlowStore implements FlowStore {
  readonly #keys: string[];
  /** `#keys` and the queue's events stream (flow-resolve.lua appends a parent's move to it). */
  readonly #resolveKeys: string[];
  constructor(
    private readonly batch: ScriptBatcher,
    private readonly redis: RedisClient,
    private readonly queue: QueueKeys,
    private readonly prefix: string,
    events: string,
    /** Shared by a store and its peers: the peers by queue name, and the events of the process's queue. */
    private readonly shared: { peers: Map<string, RedisFlowStore>; events?: FlowEvents },
  ) {
    this.#keys = [...queue.all, queue.waitingChildren, queue.outbox];
    this.#resolveKeys = [...this.#keys, events];
  }

  get events(): FlowEvents | undefined {
    return this.shared.events;
  }

  set events(events: FlowEvents | undefined) {
    this.shared.events = events;
  }

  async addNode(r: FlowRecord, now: number): Promise<boolean> {
    const j = r.job;
    const p = r.parent;
    const args: ScriptArg[] = [this.queue.job, now, j.id, j.name, j.data, j.opts, j.priority, j.delayMs, r.key];
    args.push(p?.queue ?? '', p?.id ?? '', p?.policy ?? 'wait', r.failTo, r.deps.length, ...r.deps);
    return (await this.batch.run<number>(FLOW_ADD, this.#keys, args)) === 1;
  }

  resolve(parentId: string, childKey: string, kind: OutboxEntry['kind'], value: string, now: number) {
    const e = this.shared.events;
    const args = [this.queue.job, now, parentId, childKey, kind, value, e?.maxLen ?? 0, e?.maxAgeMs ?? 0];
    return this.batch.run<number>(FLOW_RESOLVE, this.#resolveKeys, args);
  }

  async outbox(childId?: string, limit = 200): Promise<OutboxEntry[]> {
    if (childId !== undefined) {
      const raw = await this.redis.hget(this.queue.outbox, childId);
      return raw === null ? [] : [parseOutbox(childId, raw)];
    }
    const flat = await this.batch.run<string[]>(FLOW_READ, [this.queue.outbox], ['outbox', limit]);
    const out: OutboxEntry[] = [];
    for (let i = 0; i < flat.length; i += 2) out.push(parseOutbox(flat[i]!, flat[i + 1]!));
    return out;
  }

  async ack(entry: OutboxEntry): Promise<void> {
    await this.batch.run<number>(FLOW_ACK, [this.queue.outbox], [entry.childId, entry.raw]);
  }

  async dependencies(id: string) {
    const [processed, pending, failed] = await this.batch.run<[string[], string[], string[]]>(
      FLOW_READ,
      [this.queue.job + id],
      ['deps'],
    );
    return { processed: pairs(processed), pending, failed: pairs(failed) };
  }

  peer(name: string): RedisFlowStore {
    let s = this.shared.peers.get(name);
    if (!s) {
      const keys = queueKeys(name, this.prefix);
      s = new RedisFlowStore(this.batch, this.redis, keys, this.prefix, eventsKey(name, this.prefix), this.shared);
      this.shared.peers.set(name, s);
    }
    return s;
  }
}

/** A blocking connection of its own (BLPOP would hold up every other command on a shared one). */
class RedisWaiter implements Waiter {
  #conn: Redis | undefined;
  #closed = false;
  #pending: (() => void) | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly key: string,
    private readonly onClose: () => void,
    private readonly log: Logger | undefined,
    private readonly state: { down: boolean } | undefined,
  ) {}

  async wait(timeoutMs: number): Promise<void> {
    if (this.#closed) return;
    if (!this.#conn) {
      // A Cluster duplicate is a Cluster client: BLPOP is routed to the wake key's slot.
      this.#conn = duplicateClient(this.redis) as Redis;
      // Ours: its 'error' events (Redis down) go to the logger once per state change, never unhandled.
      if (this.log) {
        watchConnection(this.#conn, {
          logger: this.log,
          backend: 'redis',
          connection: 'queue waiter',
          ...(this.state ? { state: this.state } : {}),
        });
      } else this.#conn.on('error', () => {});
    }
    const conn = this.#conn;
    await new Promise<void>((resolve, reject) => {
      this.#pending = resolve;
      conn
        .blpop(this.key, Math.max(timeoutMs, 1) / 1000)
        .then(
          () => resolve(),
          // After close() the promise is settled already; before, the caller must know (NOPERM, WRONGTYPE…).
          (error: unknown) => (this.#closed ? resolve() : reject(error)),
        )
        .finally(() => {
          this.#pending = undefined;
        });
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending?.();
    this.#conn?.disconnect();
    this.onClose();
  }
}
