import {
  boundBackendCall,
  type Clock,
  coalesceWrites,
  defineScript,
  guardRedis,
  InvalidOptionsError,
  isBackendUnavailableError,
  isCluster,
  type Logger,
  type RedisClient,
  runScript,
  systemClock,
} from '@ballast/core';
import { GroupNotFoundError, TransportClosedError } from '../errors';
import { type EventKeys, eventKeys, type KeyLayout } from '../keys';
import claimSource from '../lua/claim.lua';
import deadLetterSource from '../lua/dead-letter.lua';
import leaseSource from '../lua/lease.lua';
import publishBatchSource from '../lua/publish-batch.lua';
import reclaimOwnSource from '../lua/reclaim-own.lua';
import removeIdleSource from '../lua/remove-idle-consumers.lua';
import replaySource from '../lua/replay.lua';
import trimSource from '../lua/trim.lua';
import {
  type ClaimResult,
  type DeadLetter,
  deadLetterFrom,
  type GroupInfo,
  NO_RETENTION,
  type RetentionPolicy,
  type StreamEntry,
  type StreamId,
  type Transport,
  type TrimResult,
} from '../transport';
import { BlockingConnections } from './redis-blocking';

const PUBLISH_BATCH = defineScript('event-bus:publish-batch', publishBatchSource);
const CLAIM = defineScript('event-bus:claim', claimSource);
const DEAD_LETTER = defineScript('event-bus:dead-letter', deadLetterSource);
const TRIM = defineScript('event-bus:trim', trimSource);
const RECLAIM_OWN = defineScript('event-bus:reclaim-own', reclaimOwnSource);
const REMOVE_IDLE = defineScript('event-bus:remove-idle-consumers', removeIdleSource);
const REPLAY = defineScript('event-bus:replay', replaySource);
const LEASE = defineScript('event-bus:lease', leaseSource);

/** Events per script call of a coalesced publish: bounds how long one call holds the server. */
const PUBLISH_CHUNK = 500;

/** One event waiting for the end of the tick to be sent with the others of its type. */
interface QueuedPublish {
  flat: string[];
  resolve: (id: StreamId) => void;
  reject: (error: unknown) => void;
}

/** XAUTOCLAIM calls one claim may make (each looks at about 10 × the entries still wanted). */
const CLAIM_SCAN_CALLS = 10;

export interface RedisTransportOptions {
  /** Commands. Blocking reads use connections duplicated from it (one per consumer), closed by `close()`. */
  redis: RedisClient;
  /** Key prefix: `myapp` (or `myapp:`) gives `myapp:events:{type}`. Default none: `events:{type}`, `events:all`. */
  prefix?: string;
  /**
   * Key names: `'cluster'` (default, `events:{type}`) or `'seed'` (seed 000's `events:<type>`, standalone Redis
   * only: a Cluster client is refused with `InvalidOptionsError`).
   */
  keyLayout?: KeyLayout;
  /** Stamps `dlq_at` on dead letters (`now()`). Default `systemClock`. */
  clock?: Clock;
  /** Each command's bound (core's `guardRedis`): past it, `BackendUnavailableError`. Default 5 s. */
  commandTimeoutMs?: number;
  /** Where the blocking connections report losing and regaining Redis. */
  logger?: Logger;
}

type RawEntry = [string, string[] | null];

function toFields(flat: string[] | null): Record<string, string> {
  const fields: Record<string, string> = {};
  if (!flat) return fields;
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
  return fields;
}

function flatten(fields: Record<string, string>): string[] {
  const out: string[] = [];
  for (const k in fields) out.push(k, fields[k]!);
  return out;
}

/** Redis Streams transport: one Lua script per hot path (publish, claim, dead-letter, trim). */
export class RedisTransport implements Transport {
  readonly #redis: RedisClient;
  readonly #keys: EventKeys;
  readonly #clock: Clock;
  /** Blocking connections, one per consumer, with their CLIENT ID for CLIENT UNBLOCK on abort. */
  readonly #blocking: BlockingConnections;
  /** Publishes of this tick not sent yet, by `maxLenAll` and type (see `publish`). */
  #queued = new Map<number, Map<string, QueuedPublish[]>>();
  readonly #cluster: boolean;
  #flushScheduled = false;
  #closed = false;

  constructor(options: RedisTransportOptions) {
    this.#redis = guardRedis(options.redis, { commandTimeoutMs: options.commandTimeoutMs });
    if (options.keyLayout === 'seed' && isCluster(options.redis)) {
      throw new InvalidOptionsError('RedisTransport', [
        {
          path: 'keyLayout',
          expected: "'cluster' with a Redis Cluster client",
          received: 'string "seed"',
          message:
            "keyLayout 'seed' (events:<type>, no hash tag) is for standalone Redis: a type's stream and DLQ could land in two Cluster slots",
        },
      ]);
    }
    this.#keys = eventKeys(options.prefix, options.keyLayout);
    this.#clock = options.clock ?? systemClock;
    this.#blocking = new BlockingConnections(this.#redis, options.logger);
    this.#cluster = isCluster(options.redis);
  }

  get keys(): EventKeys {
    return this.#keys;
  }

  /** True on a Redis Cluster client (`events:all` is then in another slot than a type's stream). */
  get cluster(): boolean {
    return this.#cluster;
  }

  #check(): void {
    if (this.#closed) throw new TransportClosedError('RedisTransport');
  }

  /**
   * Standalone Redis: the publishes of one tick (any number of concurrent `publish()` calls, and `publishMany`)
   * leave together, one script call per type per `PUBLISH_CHUNK` events, all in one socket write. Each event is
   * still written to both streams with no command in between, and each call settles with its own id or error
   * (a server error of one event does not fail the others).
   */
  publish(type: string, fields: Record<string, string>, options: { maxLenAll?: number } = {}): Promise<StreamId> {
    if (this.#closed) return Promise.reject(new TransportClosedError('RedisTransport'));
    const flat = flatten(fields);
    const maxLen = options.maxLenAll ?? 0;
    if (this.#cluster) return this.#publishCluster(type, flat, maxLen);
    return this.#enqueue(type, flat, maxLen);
  }

  /**
   * events:{type} and events:all hash to different slots: no script or MULTI may span them. Two round trips, in
   * order: the type stream (what consumer groups read) first, then events:all (an audit/fan-in stream). If the
   * second write fails, the event was still published to its consumers.
   */
  async #publishCluster(type: string, flat: string[], maxLen: number): Promise<StreamId> {
    const id = (await this.#redis.xadd(this.#keys.stream(type), '*', ...flat)) as string;
    const all = this.#keys.all();
    await (maxLen === 0
      ? this.#redis.xadd(all, '*', ...flat)
      : this.#redis.xadd(all, 'MAXLEN', '~', maxLen, '*', ...flat));
    return id;
  }

  async publishMany(
    type: string,
    entries: readonly Record<string, string>[],
    options: { maxLenAll?: number } = {},
  ): Promise<StreamId[]> {
    this.#check();
    if (entries.length === 0) return [];
    // Cluster: the two streams are in different slots; publish one by one (ioredis still sends them without
    // waiting for each other). Standalone: queued with the tick's other publishes.
    if (this.#cluster) return Promise.all(entries.map((e) => this.publish(type, e, options)));
    const maxLen = options.maxLenAll ?? 0;
    return Promise.all(entries.map((e) => this.#enqueue(type, flatten(e), maxLen)));
  }

  #enqueue(type: string, flat: string[], maxLen: number): Promise<StreamId> {
    return new Promise<StreamId>((resolve, reject) => {
      let byType = this.#queued.get(maxLen);
      if (!byType) {
        byType = new Map();
        this.#queued.set(maxLen, byType);
      }
      let items = byType.get(type);
      if (!items) {
        items = [];
        byType.set(type, items);
      }
      items.push({ flat, resolve, reject });
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        // After the current tick's code and promise callbacks: every publish they make joins this batch.
        process.nextTick(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#flushScheduled = false;
    const queued = this.#queued;
    this.#queued = new Map();
    coalesceWrites(this.#redis);
    for (const [maxLen, byType] of queued) {
      for (const [type, items] of byType) {
        for (let i = 0; i < items.length; i += PUBLISH_CHUNK) {
          void this.#sendBatch(
            type,
            String(maxLen),
            items.length <= PUBLISH_CHUNK ? items : items.slice(i, i + PUBLISH_CHUNK),
          );
        }
      }
    }
  }

  async #sendBatch(type: string, maxLen: string, items: readonly QueuedPublish[]): Promise<void> {
    const args: string[] = [maxLen];
    for (const { flat } of items) {
      args.push(String(flat.length));
      for (const s of flat) args.push(s);
    }
    let replies: (StreamId | Error)[];
    try {
      replies = await runScript(this.#redis, PUBLISH_BATCH, [this.#keys.stream(type), this.#keys.all()], args);
    } catch (error) {
      for (const item of items) item.reject(error);
      return;
    }
    items.forEach((item, i) => {
      const reply = replies[i];
      if (reply instanceof Error) item.reject(reply);
      else item.resolve(reply as StreamId);
    });
  }

  async ensureGroup(type: string, group: string, start = '0'): Promise<void> {
    this.#check();
    try {
      await this.#redis.xgroup('CREATE', this.#keys.stream(type), group, start, 'MKSTREAM');
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith('BUSYGROUP'))) throw error;
    }
  }

  async read(
    type: string,
    group: string,
    consumer: string,
    count: number,
    blockMs: number,
    signal?: AbortSignal,
  ): Promise<StreamEntry[]> {
    this.#check();
    if (signal?.aborted) return [];
    const key = this.#keys.stream(type);
    let reply: [string, RawEntry[]][] | null;
    if (blockMs <= 0) {
      reply = (await this.#grouped(
        type,
        group,
        this.#redis.xreadgroup('GROUP', group, consumer, 'COUNT', count, 'STREAMS', key, '>'),
      )) as typeof reply;
    } else {
      const b = this.#blocking.for(consumer);
      const onAbort = () => void this.#blocking.abort(consumer, b);
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        // Raced with the signal: an abort ends the read at once, also while Redis does not answer.
        reply = (await boundBackendCall(
          b.conn.xreadgroup('GROUP', group, consumer, 'COUNT', count, 'BLOCK', blockMs, 'STREAMS', key, '>'),
          { backend: 'redis', operation: 'xreadgroup', timeoutMs: Number.POSITIVE_INFINITY, signal },
        )) as typeof reply;
      } catch (error) {
        if (isBackendUnavailableError(error)) this.#blocking.discard(consumer, b);
        if (this.#closed || signal?.aborted) return [];
        if (error instanceof Error && error.message.startsWith('NOGROUP')) {
          throw new GroupNotFoundError(type, group, { cause: error });
        }
        throw error;
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
    }
    const entries = reply?.[0]?.[1] ?? [];
    return entries.map(([id, flat]) => ({ id, fields: toFields(flat), deliveries: 1 }));
  }

  async ack(type: string, group: string, ids: readonly StreamId[]): Promise<number> {
    this.#check();
    if (ids.length === 0) return 0;
    return this.#redis.xack(this.#keys.stream(type), group, ...ids);
  }

  async renew(type: string, group: string, consumer: string, ids: readonly StreamId[]): Promise<void> {
    this.#check();
    if (ids.length === 0) return;
    await this.#grouped(
      type,
      group,
      runScript(this.#redis, RECLAIM_OWN, [this.#keys.stream(type)], [group, consumer, -1, ...ids]),
    );
  }

  async retryLater(
    type: string,
    group: string,
    consumer: string,
    id: StreamId,
    delayMs: number,
    idleTimeoutMs: number,
  ): Promise<void> {
    this.#check();
    const idle = Math.max(0, Math.round(idleTimeoutMs - delayMs));
    await this.#grouped(
      type,
      group,
      runScript(this.#redis, RECLAIM_OWN, [this.#keys.stream(type)], [group, consumer, idle, id]),
    );
  }

  /** Maps Redis' NOGROUP to `GroupNotFoundError`. */
  async #grouped<T>(type: string, group: string, pending: Promise<T>): Promise<T> {
    try {
      return await pending;
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('NOGROUP')) {
        throw new GroupNotFoundError(type, group, { cause: error });
      }
      throw error;
    }
  }

  async claimStale(
    type: string,
    group: string,
    consumer: string,
    idleTimeoutMs: number,
    count: number,
    cursor: StreamId = '0-0',
  ): Promise<ClaimResult> {
    this.#check();
    if (count <= 0) return { entries: [], cursor };
    const [next, rows] = await this.#grouped(
      type,
      group,
      runScript<[string, [string, string[], number][]]>(
        this.#redis,
        CLAIM,
        [this.#keys.stream(type)],
        [group, consumer, Math.max(0, Math.round(idleTimeoutMs)), count, cursor, CLAIM_SCAN_CALLS],
      ),
    );
    return {
      entries: rows.map(([id, flat, deliveries]) => ({ id, fields: toFields(flat), deliveries: Number(deliveries) })),
      cursor: next,
    };
  }

  async deadLetter(
    type: string,
    group: string,
    consumer: string,
    entry: StreamEntry,
    reason: string,
  ): Promise<StreamId | undefined> {
    this.#check();
    const fields = {
      ...entry.fields,
      dlq_reason: reason,
      dlq_deliveries: String(entry.deliveries),
      dlq_group: group,
      dlq_original_id: entry.id,
      dlq_at: String(Math.floor(this.#clock.now())),
    };
    const id = await this.#grouped(
      type,
      group,
      runScript<string | null>(
        this.#redis,
        DEAD_LETTER,
        [this.#keys.stream(type), this.#keys.dlq(type)],
        [group, entry.id, consumer, ...flatten(fields)],
      ),
    );
    return id ?? undefined;
  }

  async listDeadLetters(type: string, options: { count?: number; after?: StreamId } = {}): Promise<DeadLetter[]> {
    this.#check();
    const start = options.after ? `(${options.after}` : '-';
    const rows = (await this.#redis.xrange(
      this.#keys.dlq(type),
      start,
      '+',
      'COUNT',
      options.count ?? 100,
    )) as RawEntry[];
    return rows.map(([id, flat]) => deadLetterFrom(id, toFields(flat)));
  }

  async getDeadLetter(type: string, dlqId: StreamId): Promise<DeadLetter | undefined> {
    this.#check();
    const [row] = (await this.#redis.xrange(this.#keys.dlq(type), dlqId, dlqId)) as RawEntry[];
    return row ? deadLetterFrom(row[0], toFields(row[1])) : undefined;
  }

  async replayDeadLetter(type: string, dlqId: StreamId): Promise<StreamId | undefined> {
    this.#check();
    const id = await runScript<string | null>(
      this.#redis,
      REPLAY,
      [this.#keys.stream(type), this.#keys.dlq(type)],
      [dlqId],
    );
    return id ?? undefined;
  }

  async deleteDeadLetter(type: string, dlqId: StreamId): Promise<boolean> {
    this.#check();
    return (await this.#redis.xdel(this.#keys.dlq(type), dlqId)) > 0;
  }

  async trim(type: string, policy: RetentionPolicy = NO_RETENTION): Promise<TrimResult> {
    this.#check();
    const [trimmed, dlqTrimmed, deadGroups] = await runScript<[number, number, string[]]>(
      this.#redis,
      TRIM,
      [this.#keys.stream(type), this.#keys.dlq(type)],
      [policy.maxAgeMs, policy.maxLen, policy.deadGroupAfterMs, policy.dlqMaxLen, policy.dlqMaxAgeMs].map((n) =>
        String(Math.max(0, Math.round(n))),
      ),
    );
    return { trimmed: Number(trimmed), dlqTrimmed: Number(dlqTrimmed), deadGroups: deadGroups ?? [] };
  }

  async groups(type: string): Promise<GroupInfo[]> {
    this.#check();
    const key = this.#keys.stream(type);
    let raw: unknown[][];
    try {
      raw = (await this.#redis.xinfo('GROUPS', key)) as unknown[][];
    } catch (error) {
      if (error instanceof Error && /no such key/i.test(error.message)) return [];
      throw error;
    }
    return Promise.all(
      raw.map(async (g) => {
        const info = pairs(g);
        const name = String(info.name);
        const consumers = pairs2((await this.#redis.xinfo('CONSUMERS', key, name)) as unknown[][]).map((c) => ({
          name: String(c.name),
          pending: Number(c.pending),
          idleMs: Number(c.idle),
        }));
        return { name, pending: Number(info.pending), lag: Number(info.lag ?? 0), consumers };
      }),
    );
  }

  async removeIdleConsumers(type: string, group: string, idleMs: number): Promise<string[]> {
    this.#check();
    return runScript<string[]>(this.#redis, REMOVE_IDLE, [this.#keys.stream(type)], [group, Math.round(idleMs)]);
  }

  async lease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    this.#check();
    const held = await runScript<number>(this.#redis, LEASE, [name], [owner, String(Math.max(0, Math.round(ttlMs)))]);
    return held === 1;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#blocking.close();
  }
}

function pairs(flat: unknown[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) o[String(flat[i])] = flat[i + 1];
  return o;
}

function pairs2(rows: unknown[][]): Record<string, unknown>[] {
  return rows.map(pairs);
}
