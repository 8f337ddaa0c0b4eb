import {
  childLogger,
  coalesceWrites,
  defineScript,
  duplicateClient,
  guardRedis,
  hashSlot,
  isCluster,
  type Logger,
  type RedisClient,
  runScript,
  type ScriptArg,
  watchConnection,
} from '@ballast/core';
import type {
  AcquireOptions,
  AcquireResult,
  FairAcquireOptions,
  FairGrant,
  LockBackend,
  LockHolders,
  LockInspection,
  LockMode,
} from '../backend';
import { batchSource } from '../batch-script';
import { lockKeys } from '../keys';
import acquireSource from '../lua/acquire.lua';
import acquireExclusiveSource from '../lua/acquire-exclusive.lua';
import acquireFreeSource from '../lua/acquire-exclusive-free.lua';
import addWaiterSource from '../lua/add-waiter.lua';
import extendSource from '../lua/extend.lua';
import fairPrelude from '../lua/fair-prelude.lua';
import inspectSource from '../lua/inspect.lua';
import leaveQueueSource from '../lua/leave-queue.lua';
import releaseSource from '../lua/release.lua';
import releaseExclusiveSource from '../lua/release-exclusive.lua';
import releaseHeadSource from '../lua/release-exclusive-head.lua';

const ACQUIRE = defineScript('lock:acquire', acquireSource);
// The exclusive scripts share the prelude's fencing and hand-off functions (one key layout, see the prelude). The
// uncontended acquire and release return from a first part placed before the prelude: fewer commands, and none
// of the prelude's closures made (Redis runs a script's whole chunk on every call).
const ACQUIRE_EXCLUSIVE = defineScript(
  'lock:acquire-exclusive',
  `${acquireFreeSource}\n${fairPrelude}\n${acquireExclusiveSource}`,
);
const EXTEND = defineScript('lock:extend', extendSource);
const RELEASE = defineScript('lock:release', releaseSource);
const RELEASE_EXCLUSIVE = defineScript(
  'lock:release-exclusive',
  `${releaseHeadSource}\n${fairPrelude}\n${releaseExclusiveSource}`,
);
/**
 * The exclusive acquires and releases of one tick (one hash slot on a Cluster) in one script: each entry runs
 * the very source of ACQUIRE_EXCLUSIVE or RELEASE_EXCLUSIVE (see batch-script.ts), in call order. Member index
 * = position in BATCHED (1-based); both take the six exclusive keys.
 */
const BATCHED = [
  { script: ACQUIRE_EXCLUSIVE, keys: 6, args: 6 },
  { script: RELEASE_EXCLUSIVE, keys: 6, args: 2 },
] as const;
const OP_ACQUIRE = 1;
const OP_RELEASE = 2;
const EXCLUSIVE_BATCH = defineScript(
  'lock:exclusive-batch',
  batchSource(BATCHED.map((m) => ({ source: m.script.source, keys: m.keys, args: m.args }))),
);
/** Entries per batched script at most: bounds the time one script holds Redis (~10 µs an entry). */
const MAX_BATCH = 200;
/**
 * A tick's calls go out as up to SPLIT script calls (none under MIN_SPLIT entries, none over MAX_BATCH), each
 * in a write of its own (not corked): Redis runs the first while node still writes the others, and answers one
 * call at a time, so node resumes the first callers while Redis runs the rest. One call for the whole tick made
 * node and Redis take turns, each idle while the other worked: on a quiet 2-core host, ten workers on distinct
 * keys went from 18–19k to 25–26k acquire+release cycles/s split in three, with the fair contended case
 * unchanged (6.3–6.6k hand-offs/s either way).
 */
const SPLIT = 3;
const MIN_SPLIT = 4;
const LEAVE_QUEUE = defineScript('lock:leave-queue', `${fairPrelude}\n${leaveQueueSource}`);
const ADD_WAITER = defineScript('lock:add-waiter', addWaiterSource);
const INSPECT = defineScript('lock:inspect', inspectSource);

export interface RedisLockBackendOptions {
  redis: RedisClient;
  /** A connection for SUBSCRIBE (release wake-ups); default `redis.duplicate()`, created on first wait. */
  subscriber?: RedisClient;
  prefix?: string;
  logger?: Logger;
  /** How long a release channel stays subscribed after its last waiter left (saves SUBSCRIBE round trips). */
  lingerMs?: number;
  /**
   * Scripts of one tick leave in one socket write (core's `coalesceWrites`): `true` always, `'auto'` only while
   * other commands are in flight on the connection; see the manager option. Default false.
   */
  coalesceWrites?: boolean | 'auto';
  /** Each command's bound (core's `guardRedis`): past it, a call fails with `BackendUnavailableError`. Default 5 s. */
  commandTimeoutMs?: number;
  /**
   * The exclusive acquires and releases called in one tick run in a few script calls (per hash slot on a
   * Cluster; up to three, see SPLIT), flushed once the tick's code and promise callbacks have run: many
   * concurrent callers cost three `EVALSHA`s instead of one each. Each caller still gets its own reply or
   * error. Default true.
   */
  coalesceScripts?: boolean;
}

/** An exclusive acquire or release waiting for the end of its tick (`coalesceScripts`). */
interface Queued {
  op: typeof OP_ACQUIRE | typeof OP_RELEASE;
  keys: readonly string[];
  args: readonly ScriptArg[];
  /** The (guarded) client of the backend that queued it: the one its call goes out on. */
  redis: RedisClient;
  resolve(reply: unknown): void;
  reject(error: unknown): void;
}

/**
 * Each client's exclusive calls queued in this tick, by hash slot (one group, 0, off a Cluster), keyed by the
 * caller's own client object: shared by every lock backend on that client, so a plain command any of them (or a
 * read/write lock, multi-lock or inspector on the same client, see `sendQueuedLockScripts`) sends after them in
 * the same tick cannot overtake them on the wire.
 */
const ticks = new WeakMap<object, Map<number, Queued[]>>();

/**
 * Sends the exclusive lock calls queued on `redis` in this tick now (see `coalesceScripts`): call it before a
 * lock script that is not batched, so the wire keeps call order. No-op when nothing is queued.
 * @internal
 */
export function sendQueuedLockScripts(redis: object): void {
  const queued = ticks.get(redis);
  if (!queued) return;
  ticks.delete(redis);
  for (const group of queued.values()) {
    const size = Math.min(MAX_BATCH, Math.max(MIN_SPLIT, Math.ceil(group.length / SPLIT)));
    if (group.length <= size) {
      sendGroup(group);
      continue;
    }
    // An entry joins the chunk of its resource's earlier entries (up to MAX_BATCH): the chunks leave at once,
    // and one refused whole (NOPERM, resent entry by entry after its reply) or falling back to EVAL on NOSCRIPT
    // runs after the later ones, so a release and the next acquire of one key must share a chunk.
    const chunks: Queued[][] = [];
    const chunkOf = new Map<string, Queued[]>();
    let current: Queued[] | undefined;
    for (const e of group) {
      const resource = e.keys[0]!;
      let chunk = chunkOf.get(resource);
      if (!chunk || chunk.length >= MAX_BATCH) {
        if (!current || current.length >= size) {
          current = [];
          chunks.push(current);
        }
        chunk = current;
        chunkOf.set(resource, chunk);
      }
      chunk.push(e);
    }
    for (const chunk of chunks) sendGroup(chunk);
  }
}

/** One group's calls: a lone one as its own script, several as one EXCLUSIVE_BATCH; each settles on its own. */
function sendGroup(entries: readonly Queued[]): void {
  if (entries.length === 1) {
    const e = entries[0]!;
    runScript(e.redis, BATCHED[e.op - 1]!.script, e.keys, e.args).then(e.resolve, e.reject);
    return;
  }
  const keys: string[] = [];
  const args: ScriptArg[] = [];
  for (const e of entries) {
    for (const key of e.keys) keys.push(key);
    args.push(e.op);
    for (const arg of e.args) args.push(arg);
  }
  runScript<unknown[]>(entries[0]!.redis, EXCLUSIVE_BATCH, keys, args).then(
    (replies) => {
      entries.forEach((e, i) => {
        const reply = replies[i];
        if (reply instanceof Error) e.reject(reply);
        else e.resolve(reply);
      });
    },
    (error: unknown) => {
      // An error reply to the call itself came before any entry ran (each entry runs under pcall, so the
      // script cannot fail part-way): a refusal of the batch as a whole, such as an ACL's NOPERM for ONE
      // entry's keys, which must not fail its batch-mates. Each entry then runs alone and gets its own verdict.
      // Anything else (timeout, connection lost) may have run: every entry gets that error.
      if (error instanceof Error && error.name === 'ReplyError') for (const e of entries) sendGroup([e]);
      else for (const e of entries) e.reject(error);
    },
  );
}

function acquireResult(r: number[]): AcquireResult {
  if (r[0] === 1) return { acquired: true, fencingToken: Number(r[1]), count: Number(r[2]), ttlMs: Number(r[3]) };
  return r[2]
    ? { acquired: false, retryAfterMs: Number(r[1]), serverTime: Number(r[2]) }
    : { acquired: false, retryAfterMs: Number(r[1]) };
}

/** A release message: '' (woken), or '<fence>:<server ms>:<ttl>:<token>' (handed to token). */
export function parseGrant(message: string): FairGrant | undefined {
  if (message === '') return undefined;
  const a = message.indexOf(':');
  const b = message.indexOf(':', a + 1);
  const c = message.indexOf(':', b + 1);
  if (a < 0 || b < 0 || c < 0) return undefined;
  return {
    fencingToken: Number(message.slice(0, a)),
    serverTime: Number(message.slice(a + 1, b)),
    ttlMs: Number(message.slice(b + 1, c)),
    token: message.slice(c + 1),
  };
}

/** A resource's key names, and the exclusive scripts' KEYS array (never mutated: runScript spreads it). */
type CachedKeys = ReturnType<typeof lockKeys> & { readonly exclusive: readonly string[]; readonly slot: number };

interface Channel {
  listeners: Set<(grant?: FairGrant) => void>;
  subscribed: Promise<unknown>;
  /** The SUBSCRIBE was confirmed: a message published from now on reaches the listeners. */
  ready: boolean;
  linger: NodeJS.Timeout | undefined;
}

/**
 * Locks on Redis: acquire, extend and release are one Lua script each (one round trip, compare-token). With
 * `coalesceWrites`, the scripts sent in one tick leave in one socket write.
 */
export class RedisLockBackend implements LockBackend {
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #log: Logger;
  readonly #lingerMs: number;
  readonly #coalesce: boolean | 'auto';
  readonly #perSlot: boolean;
  readonly #batch: boolean;
  /** The caller's client object: the key of this tick's queued exclusive calls (`ticks`). */
  readonly #client: object;
  #sub: RedisClient | undefined;
  readonly #ownsSub: boolean;
  readonly #channels = new Map<string, Channel>();

  constructor(options: RedisLockBackendOptions) {
    this.#redis = guardRedis(options.redis, { commandTimeoutMs: options.commandTimeoutMs });
    this.#client = options.redis;
    this.#prefix = options.prefix ?? 'ballast';
    this.#log = childLogger(options.logger, { component: 'lock-backend' });
    this.#lingerMs = options.lingerMs ?? 30_000;
    this.#coalesce = options.coalesceWrites ?? false;
    this.#perSlot = isCluster(options.redis);
    this.#batch = options.coalesceScripts ?? true;
    this.#sub = options.subscriber && guardRedis(options.subscriber, { commandTimeoutMs: options.commandTimeoutMs });
    this.#ownsSub = options.subscriber === undefined;
  }

  readonly #keyCache = new Map<string, CachedKeys>();

  /**
   * Before a command that is not batched: this tick's queued exclusive calls leave first, so the wire keeps call
   * order (a shared acquire or an extend called after an exclusive release in the same tick must see it done).
   */
  #ordered(): void {
    sendQueuedLockScripts(this.#client);
    this.#cork();
  }

  /** Corks the socket until the end of the tick when `coalesceWrites` says so (see the option). */
  #cork(): void {
    const c = this.#coalesce;
    if (c === false) return;
    if (c === 'auto') {
      // ioredis's commands written and not answered yet: none, and this one leaves at once.
      const inFlight = (this.#redis as { commandQueue?: { length: number } }).commandQueue;
      if (!inFlight || inFlight.length === 0) return;
    }
    coalesceWrites(this.#redis);
  }

  /** Key names of a resource, cached (bounded) so hot keys do not rebuild five strings per call. */
  #keys(resource: string) {
    let k = this.#keyCache.get(resource);
    if (!k) {
      if (this.#keyCache.size >= 10_000) this.#keyCache.clear();
      const keys = lockKeys(this.#prefix, resource, { perSlot: this.#perSlot });
      // The exclusive scripts' KEYS, built once per resource (see the prelude for the layout).
      const exclusive = [keys.owners, keys.counter, keys.queue, keys.queueInfo, keys.waiters, keys.fence];
      k = { ...keys, exclusive, slot: this.#perSlot ? hashSlot(keys.owners) : 0 };
      this.#keyCache.set(resource, k);
    }
    return k;
  }

  /**
   * Runs ACQUIRE_EXCLUSIVE or RELEASE_EXCLUSIVE: with `coalesceScripts`, queued until the end of the tick and
   * sent with the tick's other exclusive calls of the same slot on the same client (`sendQueuedLockScripts`); otherwise at once.
   */
  #exclusive<T>(op: Queued['op'], k: CachedKeys, args: readonly ScriptArg[]): Promise<T> {
    if (!this.#batch) {
      this.#ordered(); // another backend on this client may have calls queued in this tick
      return runScript<T>(this.#redis, BATCHED[op - 1]!.script, k.exclusive, args);
    }
    // Not corked (whatever coalesceWrites says): corked, Redis reads the tick's calls at once and answers them
    // all in one reply, and node and Redis take turns again (see SPLIT).
    return new Promise<T>((resolve, reject) => {
      const client = this.#client;
      let queued = ticks.get(client);
      if (!queued) {
        const tick = new Map<number, Queued[]>();
        queued = tick;
        ticks.set(client, tick);
        // After the current tick's code and promise callbacks (process.nextTick queued from a promise callback
        // runs once they are all done): every exclusive call they make joins this batch. No timer: no caller
        // waits past the end of its tick. (A plain command may have sent it already: then nothing is left.)
        process.nextTick(() => {
          if (ticks.get(client) === tick) sendQueuedLockScripts(client);
        });
      }
      const entry: Queued = {
        op,
        keys: k.exclusive,
        args,
        redis: this.#redis,
        resolve: resolve as (r: unknown) => void,
        reject,
      };
      const group = queued.get(k.slot);
      if (group) group.push(entry);
      else queued.set(k.slot, [entry]);
    });
  }

  async tryAcquire(
    resource: string,
    token: string,
    mode: LockMode,
    ttlMs: number,
    options: AcquireOptions = {},
  ): Promise<AcquireResult> {
    const k = this.#keys(resource);
    const ttl = Math.ceil(ttlMs);
    // An exclusive request that has no waiter registration to drop takes the fast path; only when shared
    // holders are there does it need the full script (a second round trip, on a lock that is busy).
    if (mode === 'exclusive' && !options.writerPreference) {
      const r = await this.#exclusive<number[]>(OP_ACQUIRE, k, [token, ttl, 0, '0', '0', k.released]);
      if (r[0] !== -1) return acquireResult(r);
    }
    this.#ordered();
    return acquireResult(
      await runScript<number[]>(
        this.#redis,
        ACQUIRE,
        [k.owners, k.expiry, k.counter, k.waiters, k.fence],
        [token, mode, ttl, options.writerPreference ? '1' : '0'],
      ),
    );
  }

  async tryAcquireFair(
    resource: string,
    token: string,
    ttlMs: number,
    options: FairAcquireOptions,
  ): Promise<AcquireResult> {
    const k = this.#keys(resource);
    return acquireResult(
      await this.#exclusive<number[]>(OP_ACQUIRE, k, [
        token,
        Math.ceil(ttlMs),
        Math.ceil(options.queueMs),
        '1',
        options.waiting ? '1' : '0',
        k.released,
      ]),
    );
  }

  async leaveQueue(resource: string, token: string): Promise<boolean> {
    const k = this.#keys(resource);
    this.#ordered();
    return (await runScript<number>(this.#redis, LEAVE_QUEUE, k.exclusive, [token, k.released])) === 1;
  }

  async extend(resource: string, token: string, mode: LockMode, ttlMs: number): Promise<boolean> {
    const k = this.#keys(resource);
    this.#ordered();
    return (await runScript<number>(this.#redis, EXTEND, [k.owners, k.expiry], [token, mode, Math.ceil(ttlMs)])) === 1;
  }

  async release(resource: string, token: string, mode: LockMode): Promise<number> {
    const k = this.#keys(resource);
    if (mode === 'exclusive') return Number(await this.#exclusive<number>(OP_RELEASE, k, [token, k.released]));
    this.#ordered();
    return Number(await runScript<number>(this.#redis, RELEASE, [k.owners, k.expiry], [token, mode, k.released]));
  }

  async addWaiter(resource: string, token: string, ttlMs: number): Promise<void> {
    this.#ordered();
    await runScript(this.#redis, ADD_WAITER, [this.#keys(resource).waiters], [token, Math.ceil(ttlMs)]);
  }

  /** Redis server time in ms: lock expiries are all on the server's clock. */
  async #serverNow(): Promise<number> {
    const [seconds, micros] = (await this.#redis.time()) as unknown as [string | number, string | number];
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  }

  async removeWaiter(resource: string, token: string): Promise<void> {
    this.#ordered();
    await this.#redis.zrem(this.#keys(resource).waiters, token);
  }

  /**
   * Release wake-ups over pub/sub. The SUBSCRIBE is sent on first use and kept for `lingerMs` after the last
   * listener left; callers must retry once after `subscribed` resolves, since a release may have happened
   * between their failed attempt and the subscription.
   */
  onRelease(resource: string, listener: (grant?: FairGrant) => void): () => void {
    const channel = this.#keys(resource).released;
    let c = this.#channels.get(channel);
    if (!c) {
      const sub = this.#subscriber();
      const created: Channel = {
        listeners: new Set(),
        subscribed: sub.subscribe(channel).then(
          () => {
            created.ready = true;
          },
          (error: unknown) => this.#log.warn({ err: error }, 'subscribe failed'),
        ),
        ready: false,
        linger: undefined,
      };
      c = created;
      this.#channels.set(channel, c);
    }
    const entry = c;
    if (entry.linger) clearTimeout(entry.linger);
    entry.linger = undefined;
    entry.listeners.add(listener);
    return () => {
      entry.listeners.delete(listener);
      if (entry.listeners.size > 0 || entry.linger) return;
      entry.linger = setTimeout(() => {
        if (entry.listeners.size > 0) return;
        this.#channels.delete(channel);
        this.#sub?.unsubscribe(channel).catch(() => {});
      }, this.#lingerMs);
      entry.linger.unref();
    };
  }

  /**
   * True when the release channel of `resource` is subscribed already (a listener registered now hears every
   * later message): a fair waiter may then queue with its first attempt.
   */
  listening(resource: string): boolean {
    return this.#channels.get(this.#keys(resource).released)?.ready === true;
  }

  /** Resolves once the release channel of `resource` is subscribed. */
  async subscribed(resource: string): Promise<void> {
    await this.#channels.get(this.#keys(resource).released)?.subscribed;
  }

  #subscriber(): RedisClient {
    if (!this.#sub) {
      this.#sub = duplicateClient(this.#redis, 'subscriber');
      // ioredis reconnects on its own; without a listener an 'error' event would be printed as unhandled.
      watchConnection(this.#sub, { logger: this.#log, backend: 'redis', connection: 'lock subscriber' });
      this.#sub.on('message', (channel: string, message: string) => {
        const listeners = this.#channels.get(channel)?.listeners;
        if (!listeners || listeners.size === 0) return;
        const grant = parseGrant(message);
        for (const listener of listeners) {
          try {
            listener(grant);
          } catch (error) {
            this.#log.warn({ err: error, channel }, 'a release listener threw');
          }
        }
      });
    }
    return this.#sub;
  }

  async holders(resource: string): Promise<LockHolders> {
    const k = this.#keys(resource);
    this.#ordered();
    const owners = await this.#redis.hgetall(k.owners);
    const holders: Record<string, number> = {};
    if (owners.mode === 'exclusive') {
      // An exclusive hold is the hash alone: it exists exactly as long as the lease.
      for (const [field, count] of Object.entries(owners)) {
        if (field.startsWith('t:')) holders[field.slice(2)] = Number(count);
      }
      return { mode: 'exclusive', holders };
    }
    const now = await this.#serverNow();
    const live = await this.#redis.zrangebyscore(k.expiry, `(${now}`, '+inf');
    for (const token of live) if (owners[`t:${token}`]) holders[token] = Number(owners[`t:${token}`]);
    const empty = Object.keys(holders).length === 0;
    return { mode: empty ? undefined : (owners.mode as LockMode), holders };
  }

  /** One script: holders, fair-queue and registered waiters read atomically, times on the Redis clock. */
  async inspect(resource: string): Promise<LockInspection> {
    const k = this.#keys(resource);
    this.#ordered();
    const r = await runScript<(string | number)[]>(
      this.#redis,
      INSPECT,
      [k.owners, k.expiry, k.queue, k.queueInfo, k.waiters],
      [],
    );
    const holders: LockInspection['holders'] = [];
    let i = 2;
    for (; r[i] !== '|'; i += 4) {
      holders.push({
        token: String(r[i]),
        count: Number(r[i + 1]),
        fencingToken: Number(r[i + 2]),
        ttlMs: Number(r[i + 3]),
      });
    }
    holders.sort((a, b) => a.fencingToken - b.fencingToken);
    const waiters: LockInspection['waiters'] = [];
    for (i++; r[i] !== '|'; i += 2) waiters.push({ token: String(r[i]), ttlMs: Number(r[i + 1]), queued: true });
    const inQueue = new Set(waiters.map((w) => w.token));
    for (i++; i < r.length; i += 2) {
      const token = String(r[i]);
      if (!inQueue.has(token)) waiters.push({ token, ttlMs: Number(r[i + 1]), queued: false });
    }
    return { mode: holders.length ? (String(r[0]) as LockMode) : undefined, holders, waiters };
  }

  async close(): Promise<void> {
    for (const c of this.#channels.values()) if (c.linger) clearTimeout(c.linger);
    this.#channels.clear();
    if (this.#sub && this.#ownsSub) this.#sub.disconnect();
  }
}
