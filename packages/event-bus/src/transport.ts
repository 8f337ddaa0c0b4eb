/**
 * The seam between the bus and where streams live. `RedisTransport` (Redis Streams) and `MemoryTransport`
 * (in-process, the embedded default) implement it, and one contract suite proves they behave the same.
 *
 * Semantics are Redis Streams' own: an entry appended to a stream is delivered once to each consumer group;
 * a delivered entry stays *pending* for the consumer that read it until acknowledged; its delivery count
 * grows each time it is claimed; its idle time is the time since it was last delivered or claimed.
 */

/** Stream ids: `<ms>-<seq>`, compared numerically part by part. */
export type StreamId = string;

import type { EventKeys } from './keys';

export interface StreamEntry {
  id: StreamId;
  /** Flat field map as stored (the encoded envelope). */
  fields: Record<string, string>;
  /** Times delivered to the group, this delivery included (1 on first read). */
  deliveries: number;
}

export interface DeadLetter {
  /** Id of the entry in the DLQ stream. */
  id: StreamId;
  /** Id the entry had in its event stream. */
  originalId: StreamId;
  group: string;
  reason: string;
  deliveries: number;
  /** ms since epoch when it was dead-lettered. */
  deadAt: number;
  fields: Record<string, string>;
}

/**
 * What `trim` may remove beyond what every group acknowledged. Every limit is `0` = off.
 */
export interface RetentionPolicy {
  /** Entries older than this (by their id's time) are removed, unless a live group still needs them. */
  maxAgeMs: number;
  /** Beyond this many entries the oldest are removed, unless a live group still needs them. */
  maxLen: number;
  /** A group none of whose consumers was active for this long (or with no consumer) is dead: it stops bounding the trim. */
  deadGroupAfterMs: number;
  /** DLQ cap by count (the oldest dead letters go first). */
  dlqMaxLen: number;
  /** DLQ cap by age. */
  dlqMaxAgeMs: number;
}

/** Only what every group acknowledged. */
export const NO_RETENTION: RetentionPolicy = {
  maxAgeMs: 0,
  maxLen: 0,
  deadGroupAfterMs: 0,
  dlqMaxLen: 0,
  dlqMaxAgeMs: 0,
};

export interface TrimResult {
  /** Entries removed from `events:{type}`. */
  trimmed: number;
  /** Dead letters removed from `events:dlq:{type}` by its caps. */
  dlqTrimmed: number;
  /** Dead groups that lost entries they had not consumed (acknowledged) to this trim. */
  deadGroups: string[];
}

export interface GroupInfo {
  name: string;
  /** Entries delivered but not acknowledged. */
  pending: number;
  /** Entries not yet delivered to the group (XINFO GROUPS lag). */
  lag: number;
  consumers: { name: string; pending: number; idleMs: number }[];
}

/** One `claimStale` call's result: what it claimed, and where the next call should resume its scan. */
export interface ClaimResult {
  entries: StreamEntry[];
  /**
   * The id the next scan starts from (XAUTOCLAIM's next start id); `'0-0'` when this scan reached the end of
   * the pending entries list, so the next one starts over.
   */
  cursor: StreamId;
}

/**
 * Stream fields the transport writes for its own bookkeeping, never part of an envelope: the DLQ's
 * `dlq_*` fields, and `replay_for_group` on an entry replayed from the DLQ (only that group handles it).
 */
export const BOOKKEEPING_FIELDS = [
  'dlq_reason',
  'dlq_deliveries',
  'dlq_group',
  'dlq_original_id',
  'dlq_at',
  'replay_for_group',
] as const;

/** A stored field map without the bookkeeping fields. */
export function envelopeFields(all: Record<string, string>): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const k in all) if (!(BOOKKEEPING_FIELDS as readonly string[]).includes(k)) fields[k] = all[k]!;
  return fields;
}

export interface Transport {
  /** The key names this transport uses (with its prefix): `events:{type}`, its DLQ, dedupe markers. */
  readonly keys: EventKeys;
  /**
   * Appends one entry to `events:{type}` and to `events:all` in one round trip. Returns its id in the
   * type's stream. `maxLenAll` caps `events:all` (approximate trimming); the type stream is trimmed only by
   * `trim()`, which respects consumer groups.
   */
  publish(type: string, fields: Record<string, string>, options?: { maxLenAll?: number }): Promise<StreamId>;
  /**
   * `publish` for a burst: every entry appended as `publish` would (each one atomic across both streams),
   * in one round trip. Ids come back in order.
   */
  publishMany(
    type: string,
    entries: readonly Record<string, string>[],
    options?: { maxLenAll?: number },
  ): Promise<StreamId[]>;
  /**
   * Creates the group if missing, idempotent. A new group starts after `start`: `'0'` (the stream's start, as
   * seed 000 does; the default), `'$'` (after the newest entry: only what is published from now on) or an
   * entry id. An existing group keeps its position.
   */
  ensureGroup(type: string, group: string, start?: string): Promise<void>;
  /** New entries for `consumer` (XREADGROUP `>`), waiting up to `blockMs` when none; [] on timeout/abort. */
  read(
    type: string,
    group: string,
    consumer: string,
    count: number,
    blockMs: number,
    signal?: AbortSignal,
  ): Promise<StreamEntry[]>;
  ack(type: string, group: string, ids: readonly StreamId[]): Promise<number>;
  /**
   * Lease renewal: resets the idle time of `consumer`'s pending entries (XCLAIM … 0 … JUSTID), no delivery
   * counted. Entries another consumer owns now (this one's lease lapsed and it was taken over) are left alone.
   */
  renew(type: string, group: string, consumer: string, ids: readonly StreamId[]): Promise<void>;
  /**
   * A failed entry is left pending but made claimable after `delayMs`: its idle time is set to
   * `idleTimeoutMs - delayMs` (XCLAIM … IDLE … JUSTID), so the stale-claim below picks it up then. A delay
   * above `idleTimeoutMs` counts as `idleTimeoutMs` (an idle time cannot be negative): longer delays are the
   * caller's to hold. Only touches the entry while `consumer` owns it (never steals it back).
   */
  retryLater(
    type: string,
    group: string,
    consumer: string,
    id: StreamId,
    delayMs: number,
    idleTimeoutMs: number,
  ): Promise<void>;
  /**
   * Takes over up to `count` entries idle for at least `idleTimeoutMs` (crashed consumers, failed entries
   * whose backoff elapsed) for `consumer` (XAUTOCLAIM), with their delivery counts (incremented by the claim).
   * The scan of the pending entries list starts at `cursor` (default `'0-0'`, the start) and returns where
   * the next one should resume: passing it back lets a consumer with few free slots reach stale entries
   * behind many live ones (XAUTOCLAIM looks at only about 10 × count entries a call).
   */
  claimStale(
    type: string,
    group: string,
    consumer: string,
    idleTimeoutMs: number,
    count: number,
    cursor?: StreamId,
  ): Promise<ClaimResult>;
  /**
   * Atomically appends the entry to `events:dlq:{type}` with reason and deliveries, and acknowledges it —
   * only while `consumer` still owns it (an entry another consumer took over, or that was acknowledged
   * meanwhile, is left alone: `undefined`). Returns the dead letter's id.
   */
  deadLetter(
    type: string,
    group: string,
    consumer: string,
    entry: StreamEntry,
    reason: string,
  ): Promise<StreamId | undefined>;
  listDeadLetters(type: string, options?: { count?: number; after?: StreamId }): Promise<DeadLetter[]>;
  /** One dead letter by its DLQ id, or `undefined`. */
  getDeadLetter(type: string, dlqId: StreamId): Promise<DeadLetter | undefined>;
  /**
   * Delivers a dead letter again to the group that dead-lettered it, and only to it, atomically removing it
   * from the DLQ: its fields are appended to `events:{type}` (new id) with `replay_for_group: <group>`, which
   * consumers of every other group acknowledge without handling. `events:all` is not touched (the event is
   * already there). Returns the new id, or `undefined` when there is no such dead letter.
   */
  replayDeadLetter(type: string, dlqId: StreamId): Promise<StreamId | undefined>;
  deleteDeadLetter(type: string, dlqId: StreamId): Promise<boolean>;
  /**
   * Group-aware retention of `events:{type}` and its DLQ (see `RetentionPolicy`): removes what every group
   * acknowledged, and — within `policy`'s age/length limits — older entries, but never one a live group has
   * not acknowledged (delivered and pending, or not yet delivered). No policy: only what every group
   * acknowledged (a stream with no group: nothing).
   */
  trim(type: string, policy?: RetentionPolicy): Promise<TrimResult>;
  groups(type: string): Promise<GroupInfo[]>;
  /** Removes consumers idle longer than `idleMs` that hold no pending entries; returns their names. */
  removeIdleConsumers(type: string, group: string, idleMs: number): Promise<string[]>;
  /**
   * Acquires (when free) or extends (when `owner` holds it) the lease `name` for `ttlMs`; `false` while another
   * owner holds it. `ttlMs` 0 releases it (only `owner`'s). Ordered consumers own partitions with it; a
   * transport without it cannot serve `ordered` subscriptions.
   */
  lease?(name: string, owner: string, ttlMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** A DLQ entry as stored (its fields plus `dlq_*`) → `DeadLetter`. */
export function deadLetterFrom(id: StreamId, all: Record<string, string>): DeadLetter {
  return {
    id,
    originalId: all.dlq_original_id ?? '',
    group: all.dlq_group ?? '',
    reason: all.dlq_reason ?? '',
    deliveries: Number(all.dlq_deliveries ?? 0),
    deadAt: Number(all.dlq_at ?? 0),
    fields: envelopeFields(all),
  };
}

/** Compares two stream ids numerically: negative, zero or positive. */
export function compareIds(a: StreamId, b: StreamId): number {
  const [am, as = '0'] = a.split('-');
  const [bm, bs = '0'] = b.split('-');
  const ms = BigInt(am!) - BigInt(bm!);
  if (ms !== 0n) return ms < 0n ? -1 : 1;
  const seq = BigInt(as) - BigInt(bs);
  return seq === 0n ? 0 : seq < 0n ? -1 : 1;
}
