import {
  defineScript,
  guardRedis,
  isCluster,
  type LuaScript,
  parseOptions,
  type RedisClient,
  runScript,
  type ScriptArg,
  unguardedRedis,
  waitForReplicas,
} from '@ballast/core';
import { z } from 'zod';
import { SagaDurabilityError } from '../errors';
import { partitionKeys, partitionOf } from '../keys';
import advanceSource from '../lua/advance.lua';
import cancelSource from '../lua/cancel.lua';
import claimSource from '../lua/claim.lua';
import completeSource from '../lua/complete.lua';
import createSource from '../lua/create.lua';
import deadLetterSource from '../lua/dead-letter.lua';
import emitSource from '../lua/emit.lua';
import renewSource from '../lua/renew.lua';
import reopenSource from '../lua/reopen.lua';
import type {
  ClaimOptions,
  CreateResult,
  DeadLetter,
  DeadLetterPage,
  Fence,
  FencedResult,
  ListPage,
  ListQuery,
  NewSaga,
  OutboxEntry,
  OutboxQuery,
  SagaEvent,
  SagaPatch,
  SagaRecord,
  SagaStatus,
  SagaStore,
} from '../store';

/** Without a bus of its own the store only writes to its outbox: `ballast_publish` is never called. */
const NO_BUS_LUA = "local function ballast_publish() return redis.error_reply('saga: no event bus') end\n";
const withEmit = (publishLua: string, source: string) => `${publishLua}\n${emitSource}\n${source}`;
const CREATE = defineScript('saga:create', withEmit(NO_BUS_LUA, createSource));
const ADVANCE = defineScript('saga:advance', withEmit(NO_BUS_LUA, advanceSource));
const COMPLETE = defineScript('saga:complete', withEmit(NO_BUS_LUA, completeSource));
const RENEW = defineScript('saga:renew', renewSource);
const CLAIM = defineScript('saga:claim', claimSource);
const DEAD_LETTER = defineScript('saga:dead-letter', deadLetterSource);
const REOPEN = defineScript('saga:reopen', reopenSource);
const CANCEL = defineScript('saga:cancel', cancelSource);

/** The scripts, for `loadScripts` ahead of a pipeline or a round-trip count. */
export const SAGA_SCRIPTS = [CREATE, ADVANCE, COMPLETE, RENEW, CLAIM, DEAD_LETTER, REOPEN, CANCEL] as const;

/** A dead letter's id: the stream entry id and the partition whose stream holds it. */
const letterId = (streamId: string, partition: number) => `${streamId}@${partition}`;
function parseLetterId(id: string): { streamId: string; partition: number } | undefined {
  const at = id.lastIndexOf('@');
  const partition = Number(id.slice(at + 1));
  if (at < 1 || !Number.isInteger(partition)) return undefined;
  return { streamId: id.slice(0, at), partition };
}
/** Stream ids compare as (ms, seq). */
function compareStreamIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number) as [number, number];
  const [bm, bs] = b.split('-').map(Number) as [number, number];
  return am - bm || as - bs;
}

/** The commands the store sends: single-node and Cluster ioredis clients both fit (so does a counting proxy). */
export type SagaRedisClient = Pick<
  RedisClient,
  'evalsha' | 'eval' | 'hgetall' | 'xadd' | 'xrange' | 'xdel' | 'script' | 'zrange' | 'time'
>;

/** What the store needs of `@ballast/event-bus`'s `EventBus` to write events into its streams (`bus.prepare`). */
export interface SagaPreparingBus {
  // biome-ignore lint/suspicious/noExplicitAny: a typed bus narrows the payload per event type
  prepare(type: any, payload: any, options?: { sameSlotAs?: readonly string[] }): { keys: string[]; args: string[] };
}

export interface RedisSagaStoreOptions {
  redis: SagaRedisClient;
  /** First key segment. Default `ballast`. */
  prefix?: string;
  /**
   * Partitions of the recovery index: a saga's hash and its index entry share the `{partition}` hash tag.
   * Every orchestrator and sweeper of one deployment must agree on it. Default 16.
   */
  partitions?: number;
  /** How long a finished saga's hash is kept (ms). Default 7 days; 0 keeps it forever. */
  retentionMs?: number;
  /** Each command's bound (core's `guardRedis`): past it, `BackendUnavailableError`. Default 5 s. */
  commandTimeoutMs?: number;
  /**
   * DLQ retention: entries kept per partition's `saga.compensation.failed` stream (exact `MAXLEN`; dead letters are rare),
   * oldest trimmed first. Every entry was alerted (fatal log + `onCompensationFailed`) when it was written, so
   * trimming never drops an unalerted one. Default 100 000; 0: unbounded.
   */
  deadLetterMaxLen?: number;
  /**
   * An event bus whose streams live on this same standalone Redis (`@ballast/event-bus` with the Redis transport
   * on this client), and its `publishEventLua`: each saga event is then XADDed to the bus's streams inside the
   * state transition's own script — a happy N-step saga costs N + 1 round trips including its events, and an
   * event exists exactly when its transition committed. Without it (and always on a Cluster, where the bus's
   * streams are in other slots) events go to the partition's outbox stream in the same script, and the
   * orchestrator relays them to its `bus`.
   */
  events?: { bus: SagaPreparingBus; publishLua: string };
  /**
   * Off by default. With it, each state-changing write (create, advance, complete, cancel request, dead letter,
   * reopen) is followed by `WAIT replicas timeoutMs` on the master holding the saga's key (on a Cluster, the
   * master of the key's slot); fewer acknowledgements reject with `SagaDurabilityError`. The write itself has
   * then already happened on the master and stays there (see `SagaDurability`). Lease renewals and recovery
   * claims are not waited on: a claim lost in a failover is re-made by the next sweep, fenced by version.
   * Costs one more round trip per write, at least one replica's replication lag.
   */
  durability?: SagaDurability;
}

/**
 * WAIT-based durability: after each saga state write, `WAIT replicas timeoutMs` on the master that holds the key.
 * Redis WAIT does not make the write strongly consistent (no rollback, the write is visible on the master before
 * the WAIT returns, and a replica that acked can still lose it if it fails too); it bounds what a failover to an
 * acknowledging replica can lose.
 */
export interface SagaDurability {
  /** Replicas that must acknowledge each state write (>= 1). */
  replicas: number;
  /** How long WAIT may wait for them (ms, >= 1: Redis's `0` — wait forever — is refused). */
  timeoutMs: number;
}

const durabilitySchema = z
  .object({
    replicas: z.number().int().min(1),
    timeoutMs: z.number().int().min(1),
  })
  .strict()
  .optional();

function pairs(patch: SagaPatch): ScriptArg[] {
  const out: ScriptArg[] = [];
  if (patch.status !== undefined) out.push('status', patch.status);
  if (patch.currentStep !== undefined) out.push('current_step', patch.currentStep);
  if (patch.executedSteps !== undefined) out.push('executed_steps', patch.executedSteps.join(','));
  if (patch.compensatedSteps !== undefined) out.push('compensated_steps', patch.compensatedSteps.join(','));
  if (patch.inDoubtSteps !== undefined) out.push('in_doubt_steps', patch.inDoubtSteps.join(','));
  if (patch.context !== undefined) out.push('context', patch.context);
  if (patch.failedStep !== undefined) out.push('failed_step', patch.failedStep);
  if (patch.error !== undefined) out.push('error', patch.error);
  if (patch.compensations !== undefined) out.push('compensations', patch.compensations);
  return out;
}

const list = (s: string | undefined) => (s ? s.split(',') : []);

function fromHash(id: string, h: Record<string, string>): SagaRecord {
  const r: SagaRecord = {
    id,
    saga: h.saga ?? '',
    definitionVersion: Number(h.def_version ?? 1),
    status: (h.status ?? 'running') as SagaStatus,
    currentStep: Number(h.current_step ?? 0),
    executedSteps: list(h.executed_steps),
    compensatedSteps: list(h.compensated_steps),
    inDoubtSteps: list(h.in_doubt_steps),
    context: h.context ?? '{}',
    version: Number(h.version ?? 0),
    owner: h.owner ?? '',
    leaseUntil: Number(h.lease_until ?? 0),
    createdAt: Number(h.created_at ?? 0),
    updatedAt: Number(h.updated_at ?? 0),
  };
  if (h.idempotency_key) r.idempotencyKey = h.idempotency_key;
  if (h.input_fp) r.inputFingerprint = h.input_fp;
  if (h.cancel_reason) r.cancelReason = h.cancel_reason;
  if (h.failed_step) r.failedStep = h.failed_step;
  if (h.error) r.error = h.error;
  if (h.compensations) r.compensations = h.compensations;
  return r;
}

function flatToHash(flat: readonly string[]): Record<string, string> {
  const h: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) h[flat[i]!] = flat[i + 1]!;
  return h;
}

/** The events section of a state script's ARGV (emit.lua) and the keys it uses. */
function eventArgs(
  events: readonly SagaEvent[] | undefined,
  outboxKey: string,
  direct: SagaPreparingBus | undefined,
): { keys: string[]; args: ScriptArg[] } {
  const keys: string[] = [];
  const body: ScriptArg[] = [];
  for (const e of events ?? []) {
    let prepared: { keys: string[]; args: string[] } | undefined;
    if (direct) {
      try {
        prepared = direct.prepare(e.type, e.payload);
      } catch {
        // Not an event this bus knows (or not valid for it): kept in the outbox, where the relay's publish
        // reports it, rather than failing the saga's state write.
        prepared = undefined;
      }
    }
    if (prepared && prepared.keys.length === 2) {
      keys.push(...prepared.keys);
      body.push('d', ...prepared.args);
    } else {
      keys.push(outboxKey);
      body.push('o', e.type, JSON.stringify(e.payload));
    }
  }
  return { keys, args: [body.length, ...body] };
}

function fenced(r: [number, number | string]): FencedResult {
  return r[0] === 1 ? { ok: true, version: Number(r[1]) } : { ok: false, reason: r[1] as 'missing' | 'fenced' };
}

/**
 * Sagas on Redis. Every state change is one Lua script (one round trip, atomic, fenced by version and lease
 * owner); a happy saga of N steps costs N + 1 round trips: create, then one write per step, the last of which
 * completes it. Lease times are the server's (`TIME`), so orchestrators on different hosts agree.
 */
export class RedisSagaStore implements SagaStore {
  readonly #redis: SagaRedisClient;
  readonly #prefix: string;
  readonly #partitions: number;
  readonly #retentionMs: number;
  readonly #dlqMaxLen: number;
  readonly #direct: SagaPreparingBus | undefined;
  readonly #scripts: { create: LuaScript; advance: LuaScript; complete: LuaScript };
  readonly #durability: SagaDurability | undefined;
  readonly #commandTimeoutMs: number;
  readonly #raw: RedisClient;
  #sweeps = 0;
  /** True when events go straight into the bus's streams (see `events`): nothing waits in the outbox. */
  readonly publishesEvents: boolean;

  constructor(options: RedisSagaStoreOptions) {
    this.#redis = guardRedis(options.redis, { commandTimeoutMs: options.commandTimeoutMs });
    this.#prefix = options.prefix ?? 'ballast';
    this.#partitions = options.partitions ?? 16;
    this.#retentionMs = options.retentionMs ?? 7 * 24 * 3_600_000;
    if (!Number.isInteger(this.#partitions) || this.#partitions < 1) {
      throw new RangeError(`partitions must be an integer >= 1 (got ${options.partitions})`);
    }
    this.#dlqMaxLen = options.deadLetterMaxLen ?? 100_000;
    this.#durability = parseOptions(durabilitySchema, options.durability, 'RedisSagaStore durability');
    this.#commandTimeoutMs = options.commandTimeoutMs ?? 5_000;
    this.#raw = unguardedRedis(options.redis as RedisClient);
    const ev = options.events;
    this.#direct = ev && !isCluster(options.redis as RedisClient) ? ev.bus : undefined;
    this.publishesEvents = this.#direct !== undefined;
    this.#scripts =
      this.#direct && ev
        ? {
            create: defineScript('saga:create+bus', withEmit(ev.publishLua, createSource)),
            advance: defineScript('saga:advance+bus', withEmit(ev.publishLua, advanceSource)),
            complete: defineScript('saga:complete+bus', withEmit(ev.publishLua, completeSource)),
          }
        : { create: CREATE, advance: ADVANCE, complete: COMPLETE };
  }

  /** The scripts this store runs (for `loadScripts`; with `events`, the state scripts carry the bus's Lua). */
  get scripts(): LuaScript[] {
    const s = this.#scripts;
    return [s.create, s.advance, s.complete, RENEW, CLAIM, DEAD_LETTER, REOPEN, CANCEL];
  }

  /** Keys of a saga id: its hash, its partition's recovery-index prefix and the index of a saga name. */
  keysOf(id: string) {
    const k = partitionKeys(this.#prefix, partitionOf(id, this.#partitions));
    return { saga: k.saga(id), leases: k.leases, leasesOf: k.leasesOf, outbox: k.outbox };
  }

  /** `WAIT` after a state write on `key`, when `durability` is set; rejects with `SagaDurabilityError`. */
  async #durable<T>(key: string, operation: string, written: T): Promise<T> {
    const d = this.#durability;
    if (!d) return written;
    const { acked, node } = await waitForReplicas(this.#raw, key, { ...d, commandTimeoutMs: this.#commandTimeoutMs });
    if (acked < d.replicas) {
      throw new SagaDurabilityError('redis', node, key, operation, acked, d.replicas, d.timeoutMs);
    }
    return written;
  }

  async create(saga: NewSaga, leaseMs: number, events?: readonly SagaEvent[]): Promise<CreateResult> {
    const k = this.keysOf(saga.id);
    const fields: ScriptArg[] = [
      'saga',
      saga.saga,
      'def_version',
      saga.definitionVersion ?? 1,
      'status',
      'running',
      'current_step',
      0,
      'executed_steps',
      '',
      'context',
      saga.context,
    ];
    if (saga.idempotencyKey !== undefined) fields.push('idempotency_key', saga.idempotencyKey);
    if (saga.inputFingerprint !== undefined) fields.push('input_fp', saga.inputFingerprint);
    const ev = eventArgs(events, k.outbox, this.#direct);
    const r = await runScript<[number, number | string[]]>(
      this.#redis,
      this.#scripts.create,
      [k.saga, k.leasesOf(saga.saga), ...ev.keys],
      [saga.id, saga.owner, Math.ceil(leaseMs), ...ev.args, ...fields],
    );
    if (r[0] === 1) return this.#durable(k.saga, 'create', { created: true, version: Number(r[1]) });
    return { created: false, record: fromHash(saga.id, flatToHash(r[1] as string[])) };
  }

  async advance(
    id: string,
    fence: Fence,
    patch: SagaPatch,
    leaseMs: number,
    events?: readonly SagaEvent[],
  ): Promise<FencedResult> {
    const k = this.keysOf(id);
    const ev = eventArgs(events, k.outbox, this.#direct);
    const r = fenced(
      await runScript(
        this.#redis,
        this.#scripts.advance,
        [k.saga, k.leases, ...ev.keys],
        [id, fence.owner, fence.version, Math.ceil(leaseMs), ...ev.args, ...pairs(patch)],
      ),
    );
    return r.ok ? this.#durable(k.saga, 'advance', r) : r;
  }

  async complete(
    id: string,
    fence: Fence,
    patch: SagaPatch & { status: SagaStatus },
    events?: readonly SagaEvent[],
  ): Promise<FencedResult> {
    const k = this.keysOf(id);
    const ev = eventArgs(events, k.outbox, this.#direct);
    const r = fenced(
      await runScript(
        this.#redis,
        this.#scripts.complete,
        [k.saga, k.leases, ...ev.keys],
        [id, fence.owner, fence.version, this.#retentionMs, ...ev.args, ...pairs(patch)],
      ),
    );
    return r.ok ? this.#durable(k.saga, 'complete', r) : r;
  }

  /**
   * The outbox streams (one per partition, or the partition of `of`), oldest first per partition, filtered by
   * writer (`by`) and age (`minAgeMs`, judged on the server's clock: a stream id is its server time).
   */
  async readOutbox(query: OutboxQuery): Promise<OutboxEntry[]> {
    const parts =
      query.of !== undefined
        ? [partitionOf(query.of, this.#partitions)]
        : Array.from({ length: this.#partitions }, (_, p) => p);
    let end = '+';
    if (query.minAgeMs !== undefined && query.minAgeMs > 0) {
      const [secs, micros] = await this.#redis.time();
      end = String(Number(secs) * 1000 + Math.floor(Number(micros) / 1000) - Math.ceil(query.minAgeMs));
    }
    const out: OutboxEntry[] = [];
    for (const p of parts) {
      const key = partitionKeys(this.#prefix, p).outbox;
      let start = '-';
      while (out.length < query.limit) {
        const count = Math.max(query.limit - out.length, 100);
        const entries = await this.#redis.xrange(key, start, end, 'COUNT', count);
        for (const [id, flat] of entries) {
          const h = flatToHash(flat);
          if (query.by !== undefined && h.by !== query.by) continue;
          if (out.length >= query.limit) break;
          out.push({ id: letterId(id, p), type: h.type ?? '', payload: h.payload ?? '{}', by: h.by ?? '' });
        }
        if (entries.length < count) break;
        start = `(${entries[entries.length - 1]![0]}`;
      }
      if (out.length >= query.limit) break;
    }
    return out;
  }

  async ackOutbox(ids: readonly string[]): Promise<void> {
    const byPartition = new Map<number, string[]>();
    for (const id of ids) {
      const parsed = parseLetterId(id);
      if (!parsed || parsed.partition >= this.#partitions) continue;
      byPartition.set(parsed.partition, [...(byPartition.get(parsed.partition) ?? []), parsed.streamId]);
    }
    await Promise.all(
      [...byPartition].map(([p, streamIds]) => this.#redis.xdel(partitionKeys(this.#prefix, p).outbox, ...streamIds)),
    );
  }

  async requestCancel(id: string, reason: string): Promise<boolean> {
    const key = this.keysOf(id).saga;
    const ok = Number(await runScript<number>(this.#redis, CANCEL, [key], [reason])) === 1;
    return ok ? this.#durable(key, 'cancel', ok) : ok;
  }

  async renew(id: string, fence: Fence, leaseMs: number): Promise<boolean | { cancel: string }> {
    const k = this.keysOf(id);
    const r = await runScript<number | [number, string]>(
      this.#redis,
      RENEW,
      [k.saga, k.leases],
      [id, fence.owner, fence.version, Math.ceil(leaseMs)],
    );
    if (Array.isArray(r)) return { cancel: String(r[1]) };
    return Number(r) === 1;
  }

  async get(id: string): Promise<SagaRecord | undefined> {
    const h = await this.#redis.hgetall(this.keysOf(id).saga);
    return h && Object.keys(h).length > 0 ? fromHash(id, h) : undefined;
  }

  async claimExpired(options: ClaimOptions): Promise<SagaRecord[]> {
    if (options.sagas.length === 0) return [];
    // Each sweep starts at another name, so one name's backlog never starves the others of this sweeper.
    const start = this.#sweeps++ % options.sagas.length;
    const rotated = [...options.sagas.slice(start), ...options.sagas.slice(0, start)];
    const perPartition = await Promise.all(
      Array.from({ length: this.#partitions }, async (_, p) => {
        const k = partitionKeys(this.#prefix, p);
        const r = await runScript<[string, string[]][]>(
          this.#redis,
          CLAIM,
          [k.leases, k.sagaPrefix],
          ['expired', options.owner, Math.ceil(options.leaseMs), options.limit, '', ...rotated],
        );
        return r.map(([id, flat]) => fromHash(id, flatToHash(flat)));
      }),
    );
    return perPartition.flat().slice(0, options.limit);
  }

  async claimOne(id: string, owner: string, leaseMs: number): Promise<SagaRecord | undefined> {
    const k = partitionKeys(this.#prefix, partitionOf(id, this.#partitions));
    const r = await runScript<[string, string[]][]>(
      this.#redis,
      CLAIM,
      [k.leases, k.sagaPrefix],
      ['one', owner, Math.ceil(leaseMs), 1, id],
    );
    return r[0] ? fromHash(id, flatToHash(r[0][1])) : undefined;
  }

  /**
   * Walks the recovery indexes (partition by partition, name by name, `limit` ids at a time) and reads each
   * saga's hash; the cursor is `partition:nameIndex:offset`. Age is judged against the server's clock.
   */
  async list(query: ListQuery): Promise<ListPage> {
    const limit = query.limit ?? 100;
    const [p0, n0, o0] = (query.cursor ?? '0:0:0').split(':').map(Number) as [number, number, number];
    const [secs] = await this.#redis.time();
    const cutoff = Number(secs) * 1000 - (query.olderThanMs ?? 0);
    const sagas: SagaRecord[] = [];
    for (let p = p0; p < this.#partitions; p++) {
      const k = partitionKeys(this.#prefix, p);
      for (let n = p === p0 ? n0 : 0; n < query.names.length; n++) {
        let offset = p === p0 && n === n0 ? o0 : 0;
        for (;;) {
          const ids = await this.#redis.zrange(k.leasesOf(query.names[n]!), offset, offset + limit - 1);
          for (const id of ids) {
            offset++;
            const h = await this.#redis.hgetall(k.saga(id));
            if (!h?.status) continue;
            const r = fromHash(id, h);
            if (r.status !== 'running' && r.status !== 'compensating') continue;
            if (query.status !== undefined && r.status !== query.status) continue;
            if (query.olderThanMs !== undefined && r.updatedAt > cutoff) continue;
            sagas.push(r);
            if (sagas.length >= limit) return { sagas, cursor: `${p}:${n}:${offset}` };
          }
          if (ids.length < limit) break;
        }
      }
    }
    return { sagas };
  }

  async addDeadLetter(entry: Omit<DeadLetter, 'id'>): Promise<string> {
    const p = partitionOf(entry.sagaId, this.#partitions);
    const k = partitionKeys(this.#prefix, p);
    const id = await runScript<string>(
      this.#redis,
      DEAD_LETTER,
      [k.dlq, k.saga(entry.sagaId)],
      [
        this.#dlqMaxLen,
        'saga_id',
        entry.sagaId,
        'saga',
        entry.saga,
        'step',
        entry.step,
        'error',
        entry.error,
        'context',
        entry.context,
        'at',
        String(entry.at),
        'reason',
        entry.reason ?? 'compensation_failed',
      ],
    );
    return this.#durable(k.dlq, 'dead-letter', letterId(String(id), p));
  }

  /** Merges the partitions' streams oldest first (ties by partition), `count` at a time after `after`. */
  async listDeadLetters(options: number | DeadLetterPage = {}): Promise<DeadLetter[]> {
    const o = typeof options === 'number' ? { count: options } : options;
    const count = o.count ?? 100;
    const after = o.after !== undefined ? parseLetterId(o.after) : undefined;
    const perPartition = await Promise.all(
      Array.from({ length: this.#partitions }, async (_, p) => {
        const start = !after ? '-' : p > after.partition ? after.streamId : `(${after.streamId}`;
        const entries = await this.#redis.xrange(partitionKeys(this.#prefix, p).dlq, start, '+', 'COUNT', count);
        return entries.map(([id, flat]) => ({ streamId: id, p, h: flatToHash(flat) }));
      }),
    );
    return perPartition
      .flat()
      .sort((a, b) => compareStreamIds(a.streamId, b.streamId) || a.p - b.p)
      .slice(0, count)
      .map(({ streamId, p, h }) => ({
        id: letterId(streamId, p),
        sagaId: h.saga_id ?? '',
        saga: h.saga ?? '',
        step: h.step ?? '',
        error: h.error ?? '',
        context: h.context ?? '{}',
        at: Number(h.at ?? 0),
        reason: (h.reason ?? 'compensation_failed') as DeadLetter['reason'] & string,
      }));
  }

  async reopenDeadLetter(
    id: string,
    owner: string,
    leaseMs: number,
  ): Promise<{ ok: true; record: SagaRecord } | { ok: false; reason: 'missing' | 'busy' | 'gone' }> {
    const parsed = parseLetterId(id);
    if (!parsed || parsed.partition >= this.#partitions) return { ok: false, reason: 'missing' };
    const k = partitionKeys(this.#prefix, parsed.partition);
    const r = await runScript<[number, string, string[]]>(
      this.#redis,
      REOPEN,
      [k.dlq, k.leases, k.sagaPrefix],
      [parsed.streamId, owner, Math.ceil(leaseMs)],
    );
    if (r[0] !== 1) return { ok: false, reason: r[1] as 'missing' | 'busy' | 'gone' };
    return this.#durable(k.dlq, 'reopen', { ok: true as const, record: fromHash(r[1], flatToHash(r[2])) });
  }

  async removeDeadLetter(id: string): Promise<boolean> {
    const parsed = parseLetterId(id);
    if (!parsed || parsed.partition >= this.#partitions) return false;
    return (await this.#redis.xdel(partitionKeys(this.#prefix, parsed.partition).dlq, parsed.streamId)) > 0;
  }
}
