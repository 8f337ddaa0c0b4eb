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

export interface GroupInfo {
  name: string;
  /** Entries delivered but not acknowledged. */
  pending: number;
  /** Entries not yet delivered to the group (XINFO GROUPS lag). */
  lag: number;
  consumers: { name: string; pending: number; idleMs: number }[];
}

export interface Transport {
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
  /** Creates the group if missing (reading from the stream's start, as seed 000 does: id 0). Idempotent. */
  ensureGroup(type: string, group: string): Promise<void>;
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
  /** Lease renewal: resets the idle time of `consumer`'s pending entries (XCLAIM … 0 … JUSTID), no delivery counted. */
  renew(type: string, group: string, consumer: string, ids: readonly StreamId[]): Promise<void>;
  /**
   * A failed entry is left pending but made claimable after `delayMs`: its idle time is set to
   * `idleTimeoutMs - delayMs` (XCLAIM … IDLE … JUSTID), so the stale-claim below picks it up then.
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
   * Takes over entries idle for at least `idleTimeoutMs` (crashed consumers, failed entries whose backoff
   * elapsed) for `consumer` (XAUTOCLAIM), with their delivery counts (incremented by the claim).
   */
  claimStale(
    type: string,
    group: string,
    consumer: string,
    idleTimeoutMs: number,
    count: number,
  ): Promise<StreamEntry[]>;
  /** Atomically appends the entry to `events:dlq:{type}` with reason and deliveries, and acknowledges it. */
  deadLetter(type: string, group: string, entry: StreamEntry, reason: string): Promise<StreamId>;
  listDeadLetters(type: string, options?: { count?: number; after?: StreamId }): Promise<DeadLetter[]>;
  /** Re-publishes a dead letter's fields to its event stream (new id) and removes it from the DLQ. */
  replayDeadLetter(type: string, dlqId: StreamId): Promise<StreamId | undefined>;
  deleteDeadLetter(type: string, dlqId: StreamId): Promise<boolean>;
  /**
   * Group-aware trimming: removes entries of `events:{type}` that every group has acknowledged (below the
   * lowest pending or undelivered id across groups). Returns how many were removed.
   */
  trim(type: string): Promise<number>;
  groups(type: string): Promise<GroupInfo[]>;
  /** Removes consumers idle longer than `idleMs` that hold no pending entries; returns their names. */
  removeIdleConsumers(type: string, group: string, idleMs: number): Promise<string[]>;
  close(): Promise<void>;
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
