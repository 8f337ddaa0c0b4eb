import { type Clock, systemClock, type TimerHandle } from '@ballast/core';
import { GroupNotFoundError, TransportClosedError } from '../errors';
import { type EventKeys, eventKeys } from '../keys';
import {
  type ClaimResult,
  type DeadLetter,
  deadLetterFrom,
  envelopeFields,
  type GroupInfo,
  NO_RETENTION,
  type RetentionPolicy,
  type StreamEntry,
  type StreamId,
  type Transport,
  type TrimResult,
} from '../transport';
import { cmp, type Group, type Id, type Pending, parseId, type Stored, Stream, ZERO } from './memory-stream';

export interface MemoryTransportOptions {
  /** Source of entry ids (`now()`), idle times (`monotonic()`) and the `blockMs` timer. Default `systemClock`. */
  clock?: Clock;
}

/** `listDeadLetters`' page size when no `count` is given (as `RedisTransport`). */
const DEFAULT_DLQ_PAGE = 100;

/**
 * The in-process `Transport` (the embedded default), modelling Redis Streams exactly: per-type streams plus
 * `all`, consumer groups reading from id 0, pending entries lists with owners, delivery counts and idle
 * times, XCLAIM/XAUTOCLAIM semantics (entries deleted from the stream are dropped from the PEL), and blocking
 * reads woken by publishes. Every timer and timestamp comes from the `clock`, so tests drive it with
 * `FakeClock`.
 *
 * Choices where Redis leaves room: `trim()` on a type with no group removes only what its retention policy
 * allows (no policy: nothing; nobody has read it); its length limit removes every excess entry in one call;
 * `maxLenAll` trims `all` exactly (Redis' `~` keeps at least that many; 0 means no cap); `renew`,
 * `retryLater` and `deadLetter` only touch entries `consumer` owns; `claimStale` scans from its cursor to
 * the end of the pending list in one call (XAUTOCLAIM may need several) and returns up to `count` live
 * entries (dropped ones do not count); `listDeadLetters` pages 100 at a time by default;
 * `removeIdleConsumers` on a missing group removes nothing. Reading, claiming or renewing through a missing
 * group rejects with `GroupNotFoundError`.
 */
export class MemoryTransport implements Transport {
  /** Seed 000's key names (no prefix): streams live in this object, `idempotent` uses `dedupe` keys. */
  readonly keys: EventKeys = eventKeys();
  readonly #clock: Clock;
  readonly #streams = new Map<string, Stream>();
  readonly #dlq = new Map<string, Stream>();
  readonly #all = new Stream();
  /** Blocked reads per type, re-tried on every publish to it (and released on close). */
  readonly #waiters = new Map<string, Set<() => void>>();
  /** Leases: name → holder and when (clock.monotonic()) it lapses. */
  readonly #leases = new Map<string, { owner: string; until: number }>();
  #closed = false;

  constructor(options: MemoryTransportOptions = {}) {
    this.#clock = options.clock ?? systemClock;
  }

  async publish(type: string, fields: Record<string, string>, options: { maxLenAll?: number } = {}): Promise<StreamId> {
    this.#open('publish');
    return this.#append(type, fields, options.maxLenAll);
  }

  async publishMany(
    type: string,
    entries: readonly Record<string, string>[],
    options: { maxLenAll?: number } = {},
  ): Promise<StreamId[]> {
    this.#open('publishMany');
    return entries.map((fields) => this.#append(type, fields, options.maxLenAll));
  }

  async ensureGroup(type: string, group: string, start = '0'): Promise<void> {
    this.#open('ensureGroup');
    const stream = getOrCreate(this.#streams, type, () => new Stream());
    if (stream.groups.has(group)) return;
    const last = start === '0' ? ZERO : start === '$' ? stream.lastId : parseId(start);
    stream.groups.set(group, { last, pel: new Map(), consumers: new Map() });
  }

  async read(
    type: string,
    group: string,
    consumer: string,
    count: number,
    blockMs: number,
    signal?: AbortSignal,
  ): Promise<StreamEntry[]> {
    this.#open('read');
    if (signal?.aborted) return [];
    const first = this.#deliver(type, group, consumer, count);
    if (first.length > 0 || !(blockMs > 0)) return first;

    return new Promise<StreamEntry[]>((resolve) => {
      const waiters = getOrCreate(this.#waiters, type, () => new Set<() => void>());
      let done = false;
      const finish = (entries: StreamEntry[]) => {
        if (done) return;
        done = true;
        waiters.delete(retry);
        if (waiters.size === 0 && this.#waiters.get(type) === waiters) this.#waiters.delete(type);
        this.#clock.clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve(entries);
      };
      const retry = () => {
        if (this.#closed) return finish([]);
        const entries = this.#deliver(type, group, consumer, count);
        if (entries.length > 0) finish(entries);
      };
      const onAbort = () => finish([]);
      const timer: TimerHandle = this.#clock.setTimeout(() => finish([]), blockMs);
      waiters.add(retry);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  async ack(type: string, group: string, ids: readonly StreamId[]): Promise<number> {
    this.#open('ack');
    const keys = ids.map((id) => this.#key(parseId(id)));
    return this.#ack(this.#streams.get(type)?.groups.get(group), keys);
  }

  async renew(type: string, group: string, consumer: string, ids: readonly StreamId[]): Promise<void> {
    this.#open('renew');
    const parsed = ids.map(parseId);
    const [stream, g] = this.#group(type, group);
    const now = this.#touch(g, consumer);
    for (const id of parsed) {
      const p = this.#live(stream, g, id);
      if (p && p.consumer === consumer) p.deliveredAt = now;
    }
  }

  async retryLater(
    type: string,
    group: string,
    consumer: string,
    id: StreamId,
    delayMs: number,
    idleTimeoutMs: number,
  ): Promise<void> {
    this.#open('retryLater');
    const parsed = parseId(id);
    const [stream, g] = this.#group(type, group);
    const now = this.#touch(g, consumer);
    const p = this.#live(stream, g, parsed);
    // Not pending (XCLAIM without FORCE ignores it), or another consumer's now: never stolen back.
    if (!p || p.consumer !== consumer) return;
    const idle = idleTimeoutMs - delayMs;
    p.deliveredAt = idle > 0 ? now - idle : now; // XCLAIM clamps a negative IDLE to "now"
  }

  async claimStale(
    type: string,
    group: string,
    consumer: string,
    idleTimeoutMs: number,
    count: number,
    cursor: StreamId = '0-0',
  ): Promise<ClaimResult> {
    this.#open('claimStale');
    const from = parseId(cursor);
    const [stream, g] = this.#group(type, group);
    const now = this.#touch(g, consumer);
    const entries: StreamEntry[] = [];
    if (count <= 0) return { entries, cursor };
    for (const p of [...g.pel.values()]) {
      if (cmp(p, from) < 0) continue;
      // Full: the scan resumes here next time (XAUTOCLAIM's next start id).
      if (entries.length >= count) return { entries, cursor: p.id };
      if (now - p.deliveredAt < idleTimeoutMs) continue;
      const i = stream.find(p);
      if (i < 0) {
        g.pel.delete(p.id); // deleted from the stream: Redis 7 drops it from the PEL and does not return it
        continue;
      }
      p.consumer = consumer;
      p.deliveries += 1;
      p.deliveredAt = now;
      entries.push({ id: p.id, fields: { ...stream.entries[i]!.fields }, deliveries: p.deliveries });
    }
    return { entries, cursor: '0-0' };
  }

  async deadLetter(
    type: string,
    group: string,
    consumer: string,
    entry: StreamEntry,
    reason: string,
  ): Promise<StreamId | undefined> {
    this.#open('deadLetter');
    const key = this.#key(parseId(entry.id));
    const g = this.#streams.get(type)?.groups.get(group);
    if (!g) throw new GroupNotFoundError(type, group);
    if (g.pel.get(key)?.consumer !== consumer) return undefined; // taken over or acknowledged meanwhile
    const dlq = getOrCreate(this.#dlq, type, () => new Stream());
    const now = this.#clock.now();
    const stored = dlq.append(now, {
      ...entry.fields,
      dlq_reason: reason,
      dlq_deliveries: String(entry.deliveries),
      dlq_group: group,
      dlq_original_id: key,
      dlq_at: String(Math.floor(now)),
    });
    this.#ack(g, [key]);
    return stored.id;
  }

  async listDeadLetters(type: string, options: { count?: number; after?: StreamId } = {}): Promise<DeadLetter[]> {
    this.#open('listDeadLetters');
    const after = options.after === undefined ? undefined : parseId(options.after);
    const dlq = this.#dlq.get(type);
    if (!dlq) return [];
    const start = after ? dlq.indexAfter(after) : 0;
    const count = options.count ?? DEFAULT_DLQ_PAGE;
    return count > 0 ? dlq.entries.slice(start, start + count).map(toDeadLetter) : [];
  }

  async getDeadLetter(type: string, dlqId: StreamId): Promise<DeadLetter | undefined> {
    this.#open('getDeadLetter');
    const parsed = parseId(dlqId);
    const dlq = this.#dlq.get(type);
    const i = dlq ? dlq.find(parsed) : -1;
    return dlq && i >= 0 ? toDeadLetter(dlq.entries[i]!) : undefined;
  }

  async replayDeadLetter(type: string, dlqId: StreamId): Promise<StreamId | undefined> {
    this.#open('replayDeadLetter');
    const parsed = parseId(dlqId);
    const dlq = this.#dlq.get(type);
    const i = dlq ? dlq.find(parsed) : -1;
    if (!dlq || i < 0) return undefined;
    const stored = dlq.entries[i]!;
    const group = stored.fields.dlq_group;
    if (!group) throw new Error(`dead letter ${stored.id} records no dlq_group`);
    dlq.entries.splice(i, 1);
    // The type's stream only (events:all has the event already), marked for the group that dead-lettered it.
    return this.#append(type, { ...envelopeFields(stored.fields), replay_for_group: group }, undefined, false);
  }

  async deleteDeadLetter(type: string, dlqId: StreamId): Promise<boolean> {
    this.#open('deleteDeadLetter');
    const parsed = parseId(dlqId);
    const dlq = this.#dlq.get(type);
    const i = dlq ? dlq.find(parsed) : -1;
    if (!dlq || i < 0) return false;
    dlq.entries.splice(i, 1);
    return true;
  }

  async trim(type: string, policy: RetentionPolicy = NO_RETENTION): Promise<TrimResult> {
    this.#open('trim');
    const now = this.#clock.now();
    const monotonic = this.#clock.monotonic();
    const result: TrimResult = { trimmed: 0, dlqTrimmed: 0, deadGroups: [] };
    const stream = this.#streams.get(type);
    if (stream) {
      // Same rule as trim.lua: cut = max(all groups' floor, min(retention cut, live groups' floor)), as indexes.
      let all: number | undefined;
      let live: number | undefined;
      const deadFloors: [string, number][] = [];
      for (const [name, g] of stream.groups) {
        // The group's floor: its lowest pending id, else its first undelivered entry.
        const lowestPending = g.pel.values().next().value;
        const undelivered = stream.indexAfter(g.last);
        const floor = lowestPending ? Math.min(stream.indexAfter(lowestPending, true), undelivered) : undelivered;
        const isLive =
          policy.deadGroupAfterMs <= 0 ||
          [...g.consumers.values()].some((seenAt) => monotonic - seenAt < policy.deadGroupAfterMs);
        all = Math.min(all ?? floor, floor);
        if (isLive) live = Math.min(live ?? floor, floor);
        else deadFloors.push([name, floor]);
      }
      let retention: number | undefined;
      if (policy.maxAgeMs > 0) retention = stream.indexAfter({ ms: Math.floor(now - policy.maxAgeMs), seq: 0 }, true);
      if (policy.maxLen > 0) retention = Math.max(retention ?? 0, stream.entries.length - policy.maxLen);
      let cut = retention === undefined ? undefined : Math.min(retention, live ?? retention);
      if (all !== undefined) cut = Math.max(cut ?? all, all);
      if (cut !== undefined && cut > 0) {
        stream.entries.splice(0, cut);
        result.trimmed = cut;
        result.deadGroups = deadFloors.filter(([, floor]) => floor < cut).map(([name]) => name);
      }
    }
    const dlq = this.#dlq.get(type);
    if (dlq) {
      let drop = 0;
      if (policy.dlqMaxAgeMs > 0) drop = dlq.indexAfter({ ms: Math.floor(now - policy.dlqMaxAgeMs), seq: 0 }, true);
      if (policy.dlqMaxLen > 0) drop = Math.max(drop, dlq.entries.length - policy.dlqMaxLen);
      if (drop > 0) {
        dlq.entries.splice(0, drop);
        result.dlqTrimmed = drop;
      }
    }
    return result;
  }

  async lease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    this.#open('lease');
    const now = this.#clock.monotonic();
    const held = this.#leases.get(name);
    const holder = held && held.until > now ? held.owner : undefined;
    if (ttlMs <= 0) {
      if (holder === owner) this.#leases.delete(name);
      return true;
    }
    if (holder !== undefined && holder !== owner) return false;
    this.#leases.set(name, { owner, until: now + ttlMs });
    return true;
  }

  async groups(type: string): Promise<GroupInfo[]> {
    this.#open('groups');
    const stream = this.#streams.get(type);
    if (!stream) return [];
    const now = this.#clock.monotonic();
    return [...stream.groups.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, g]) => {
        const owned = pendingByConsumer(g);
        return {
          name,
          pending: g.pel.size,
          lag: stream.entries.length - stream.indexAfter(g.last),
          consumers: [...g.consumers.entries()]
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
            .map(([consumer, seenAt]) => ({
              name: consumer,
              pending: owned.get(consumer) ?? 0,
              idleMs: Math.max(0, Math.floor(now - seenAt)),
            })),
        };
      });
  }

  async removeIdleConsumers(type: string, group: string, idleMs: number): Promise<string[]> {
    this.#open('removeIdleConsumers');
    const g = this.#streams.get(type)?.groups.get(group);
    if (!g) return []; // no such group: nobody to remove
    const now = this.#clock.monotonic();
    const owned = pendingByConsumer(g);
    const removed: string[] = [];
    for (const [name, seenAt] of g.consumers) {
      if ((owned.get(name) ?? 0) === 0 && now - seenAt >= idleMs) removed.push(name);
    }
    for (const name of removed) g.consumers.delete(name);
    return removed.sort();
  }

  /** Resolves every blocked read with []; later calls reject with `TransportClosedError`. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const waiters of this.#waiters.values()) for (const retry of [...waiters]) retry();
    this.#waiters.clear();
  }

  /**
   * Test and debug view of a stream, oldest first: the type's stream, or `events:all` when `type` is omitted.
   * Not part of `Transport`.
   */
  entries(type?: string): { id: StreamId; fields: Record<string, string> }[] {
    const stream = type === undefined ? this.#all : this.#streams.get(type);
    return (stream?.entries ?? []).map((e) => ({ id: e.id, fields: { ...e.fields } }));
  }

  #open(operation: string): void {
    if (this.#closed) throw new TransportClosedError('MemoryTransport', operation);
  }

  /** The stream and group, or `GroupNotFoundError` (Redis' NOGROUP) when either is missing. */
  #group(type: string, group: string): [Stream, Group] {
    const stream = this.#streams.get(type);
    const g = stream?.groups.get(group);
    if (!stream || !g) throw new GroupNotFoundError(type, group);
    return [stream, g];
  }

  /** Creates the consumer if new and marks it seen; returns the monotonic "now" used for it. */
  #touch(g: Group, consumer: string): number {
    const now = this.#clock.monotonic();
    g.consumers.set(consumer, now);
    return now;
  }

  /** The pending entry for `id` if its stream entry still exists; a dangling one is dropped (XCLAIM in Redis 7). */
  #live(stream: Stream, g: Group, id: Id): Pending | undefined {
    const p = g.pel.get(this.#key(id));
    if (p && stream.find(p) < 0) {
      g.pel.delete(p.id);
      return undefined;
    }
    return p;
  }

  #key(id: Id): StreamId {
    return `${id.ms}-${id.seq}`;
  }

  #ack(g: Group | undefined, keys: readonly StreamId[]): number {
    if (!g) return 0; // XACK on a missing key or group acknowledges nothing
    let acked = 0;
    for (const key of keys) if (g.pel.delete(key)) acked += 1;
    return acked;
  }

  #append(type: string, fields: Record<string, string>, maxLenAll: number | undefined, toAll = true): StreamId {
    const now = this.#clock.now();
    const stored = getOrCreate(this.#streams, type, () => new Stream()).append(now, fields);
    if (toAll) this.#all.append(now, fields);
    if (maxLenAll !== undefined && maxLenAll > 0) {
      const excess = this.#all.entries.length - maxLenAll;
      if (excess > 0) this.#all.entries.splice(0, excess);
    }
    const waiters = this.#waiters.get(type);
    if (waiters) for (const retry of [...waiters]) retry();
    return stored.id;
  }

  /** XREADGROUP `>`: entries after the group's last delivered id, now pending for `consumer` (deliveries 1). */
  #deliver(type: string, group: string, consumer: string, count: number): StreamEntry[] {
    const [stream, g] = this.#group(type, group);
    const now = this.#touch(g, consumer);
    const start = stream.indexAfter(g.last);
    const end = count > 0 ? Math.min(stream.entries.length, start + count) : stream.entries.length;
    const out: StreamEntry[] = [];
    for (let i = start; i < end; i++) {
      const e = stream.entries[i]!;
      g.pel.set(e.id, { ms: e.ms, seq: e.seq, id: e.id, consumer, deliveries: 1, deliveredAt: now });
      out.push({ id: e.id, fields: { ...e.fields }, deliveries: 1 });
      g.last = e;
    }
    return out;
  }
}

function getOrCreate<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}

function pendingByConsumer(g: Group): Map<string, number> {
  const owned = new Map<string, number>();
  for (const p of g.pel.values()) owned.set(p.consumer, (owned.get(p.consumer) ?? 0) + 1);
  return owned;
}

function toDeadLetter(e: Stored): DeadLetter {
  return deadLetterFrom(e.id, e.fields);
}
