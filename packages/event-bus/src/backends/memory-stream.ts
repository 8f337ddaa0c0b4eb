import { InvalidStreamIdError } from '../errors';
import type { StreamId } from '../transport';

/*
 * The data structures of `MemoryTransport`: Redis Streams' stream, consumer group and pending entries list,
 * with Redis' id rules.
 */

/** A parsed stream id. `ms` and `seq` stay below 2^53 for any id a clock can produce. */
export interface Id {
  ms: number;
  seq: number;
}

export interface Stored extends Id {
  id: StreamId;
  fields: Record<string, string>;
}

/** One entry of a group's pending entries list (PEL). */
export interface Pending extends Id {
  id: StreamId;
  consumer: string;
  deliveries: number;
  /** `clock.monotonic()` at the last delivery, claim or renewal: idle = monotonic() - deliveredAt. */
  deliveredAt: number;
}

export interface Group {
  last: Id;
  /**
   * Keyed by canonical id. Insertion order is id order: only `read` adds, always ids above every id the group
   * was given before (claims and renewals update in place), so iterating it is XPENDING/XAUTOCLAIM order.
   */
  pel: Map<StreamId, Pending>;
  /** Consumer name → `clock.monotonic()` when last seen (read, claim, renewal). */
  consumers: Map<string, number>;
}

export const ZERO: Id = { ms: 0, seq: 0 };
export const cmp = (a: Id, b: Id): number => a.ms - b.ms || a.seq - b.seq;

export function parseId(id: StreamId): Id {
  const m = /^(\d+)(?:-(\d+))?$/.exec(id);
  const ms = m ? Number(m[1]) : Number.NaN;
  const seq = m?.[2] === undefined ? 0 : Number(m[2]);
  if (!Number.isSafeInteger(ms) || !Number.isSafeInteger(seq)) throw new InvalidStreamIdError(id);
  return { ms, seq };
}

/** An append-only log with Redis' id rule: `<ms>-0`, or `<last ms>-<last seq + 1>` when the clock did not move on. */
export class Stream {
  readonly entries: Stored[] = [];
  readonly groups = new Map<string, Group>();
  #last: Id = ZERO;

  /** The id of the newest entry ever appended (`0-0` before any): what Redis' `$` means for a new group. */
  get lastId(): Id {
    return this.#last;
  }

  append(nowMs: number, fields: Record<string, string>): Stored {
    const ms = Math.floor(nowMs);
    this.#last = ms > this.#last.ms ? { ms, seq: 0 } : { ms: this.#last.ms, seq: this.#last.seq + 1 };
    const entry = { ...this.#last, id: `${this.#last.ms}-${this.#last.seq}`, fields: { ...fields } };
    this.entries.push(entry);
    return entry;
  }

  /** Index of the first entry with an id above `id` (`inclusive`: at or above). */
  indexAfter(id: Id, inclusive = false): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = cmp(this.entries[mid]!, id);
      if (c < 0 || (c === 0 && !inclusive)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  find(id: Id): number {
    const i = this.indexAfter(id, true);
    const e = this.entries[i];
    return e && cmp(e, id) === 0 ? i : -1;
  }
}
