import { createKeyBuilder, defineScript, type RedisClient, type ScriptArg, type ScriptBatcher } from '@ballast/core';
import type { QueueKeys } from '../keys';
import claimSource from '../lua/scheduler-claim.lua';
import dueSource from '../lua/scheduler-due.lua';
import removeSource from '../lua/scheduler-remove.lua';
import upsertSource from '../lua/scheduler-upsert.lua';
import type { MissedTickPolicy, SchedulerRecord, SchedulerStore, TickClaim } from '../scheduler';

const UPSERT = defineScript('queue:scheduler-upsert', upsertSource);
const DUE = defineScript('queue:scheduler-due', dueSource);
const CLAIM = defineScript('queue:scheduler-claim', claimSource);
const REMOVE = defineScript('queue:scheduler-remove', removeSource);

const NUMERIC = ['every', 'anchor', 'startDate', 'endDate', 'limit'] as const;

function toRecord(id: string, flat: string[]): SchedulerRecord {
  const h: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) h[flat[i]!] = flat[i + 1]!;
  const r: SchedulerRecord = {
    id,
    missed: (h.missed ?? 'once') as MissedTickPolicy,
    name: h.name!,
    data: h.data!,
    opts: h.opts!,
    priority: Number(h.priority),
    count: Number(h.count ?? 0),
    next: Number(h.next),
  };
  for (const k of NUMERIC) if (h[k] !== undefined) r[k] = Number(h[k]);
  if (h.pattern !== undefined) r.pattern = h.pattern;
  if (h.tz !== undefined) r.tz = h.tz;
  return r;
}

/**
 * A queue's schedulers in Redis, beside its jobs (same hash tag: one Cluster slot): an index ZSET (id → next
 * tick) and one hash per scheduler. The claim is one script that also adds the tick's job.
 */
export class RedisSchedulerStore implements SchedulerStore {
  readonly #index: string;
  readonly #hash: string;

  constructor(
    private readonly batch: ScriptBatcher,
    private readonly keys: QueueKeys,
    name: string,
    prefix: string,
    /** Guarded client for the reads that are one command. */
    private readonly redis: RedisClient,
  ) {
    const b = createKeyBuilder({ prefix, scope: 'queue', tag: name });
    this.#index = b.key('schedulers');
    this.#hash = b.key('scheduler', '');
  }

  async upsert(r: SchedulerRecord, specKey: string): Promise<void> {
    const args: ScriptArg[] = [this.#hash, r.id, specKey, r.next];
    const fields: [string, string | number | undefined][] = [
      ['name', r.name],
      ['data', r.data],
      ['opts', r.opts],
      ['priority', r.priority],
      ['missed', r.missed],
      ['every', r.every],
      ['anchor', r.anchor],
      ['pattern', r.pattern],
      ['tz', r.tz],
      ['startDate', r.startDate],
      ['endDate', r.endDate],
      ['limit', r.limit],
    ];
    for (const [k, v] of fields) if (v !== undefined) args.push(k, v);
    await this.batch.run(UPSERT, [this.#index], args);
  }

  async remove(id: string): Promise<boolean> {
    return (await this.batch.run<number>(REMOVE, [this.#index], [this.#hash, id])) === 1;
  }

  async get(id: string): Promise<SchedulerRecord | undefined> {
    const h = await this.redis.hgetall(this.#hash + id);
    if (!h || Object.keys(h).length === 0) return undefined;
    return toRecord(id, Object.entries(h).flat());
  }

  async list(): Promise<SchedulerRecord[]> {
    return (await this.due(Number.POSITIVE_INFINITY, 100_000)).due;
  }

  async due(now: number, limit: number): Promise<{ due: SchedulerRecord[]; nextAt: number | null }> {
    const bound = Number.isFinite(now) ? now : '+inf';
    const [rows, after] = await this.batch.run<[[string, string[]][], number]>(
      DUE,
      [this.#index],
      [this.#hash, bound, limit],
    );
    return { due: rows.map(([id, flat]) => toRecord(id, flat)), nextAt: after < 0 ? null : after };
  }

  async claim(c: TickClaim, now: number): Promise<boolean> {
    const args: ScriptArg[] = [
      this.keys.job,
      this.#hash,
      c.id,
      c.expected,
      c.newNext === null ? '' : c.newNext,
      c.job ? 1 : 0,
      c.jobId,
      now,
    ];
    return (await this.batch.run<number>(CLAIM, [...this.keys.all, this.#index], args)) === 1;
  }
}
