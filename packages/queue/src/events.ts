import {
  createKeyBuilder,
  defineScript,
  duplicateClient,
  type Event,
  EventEmitter,
  type Logger,
  type Redis,
  type RedisClient,
  runScript,
} from '@ballast/core';
import type { JobErrorEntry, JobState } from './job';
import eventsAddSource from './lua/events-add.lua';
import eventsTrimSource from './lua/events-trim.lua';

const EVENTS_ADD = defineScript('queue:events-add', `${eventsTrimSource}\n${eventsAddSource}`);

/** What each queue event carries (besides `event`, `jobId`, and the stream `id` a subscriber sees). */
export interface QueueEventMap {
  /**
   * Added, retried, promoted or replayed: in line to run. `prev: 'waiting-children'`: a flow parent whose last
   * child completed (or was dropped by its failure policy) — it left `waiting-children` for the line.
   */
  waiting: { jobId: string; prev?: 'waiting-children' };
  /**
   * A flow parent added by `addFlow`: it waits for its children. It leaves that state with a `waiting` event
   * (`prev: 'waiting-children'`), or, failed by a child (`failParentOnFailure`), with `failed` (a
   * `CHILD_FAILED` entry naming the child, `willRetry: false`) and, on a queue with a DLQ, `dead`.
   */
  'waiting-children': { jobId: string };
  /** Added with a delay, or a retry in backoff: due at `delayUntil` (the publisher's clock). */
  delayed: { jobId: string; delayUntil: number };
  /** A worker took it: `attempt` 1 for the first. */
  active: { jobId: string; attempt: number };
  /** The handler reported progress (`job.updateProgress`). */
  progress: { jobId: string; progress: number | object };
  completed: { jobId: string; result: unknown };
  /** An attempt failed; `willRetry` false: it was the last (a `dead` event follows when the DLQ is on). */
  failed: { jobId: string; error: JobErrorEntry; willRetry: boolean };
  /** Moved to the dead-letter queue (attempts spent, or stalled too often). */
  dead: { jobId: string; error?: JobErrorEntry };
  /** Its worker stopped renewing its lease: back in line (`waiting`) or to the DLQ (`dead`). */
  stalled: { jobId: string; outcome: 'waiting' | 'dead' };
  /** Removed by `remove`, `clean` (the state it was in: `prev`). */
  removed: { jobId: string; prev: JobState };
}
export type QueueEventName = keyof QueueEventMap;
/** An event as published: its name and payload. */
export type QueueEventInput = { [K in QueueEventName]: { event: K } & QueueEventMap[K] }[QueueEventName];
/**
 * An event as a subscriber receives it: `id` is its position in the stream (resume from it with `lastEventId`):
 * the stream entry's id, and `:<index>` for an event of an entry that carries several.
 */
export type QueueEvent = QueueEventInput & { id: string };

/** Where a queue's events go and come from. */
export interface EventsTransport {
  /** Appends events (JSON each); one call per tick of the publishing process. */
  publish(events: readonly string[]): Promise<void>;
  /** The id of the newest event, or `'0'` when none: subscribe after it to see only later ones. */
  lastId(): Promise<string>;
  /**
   * Entries after the one with id `after`, waiting up to `blockMs` for some; resolves `[]` on timeout or close.
   * An entry's text is one event (a JSON object) or several, in order (a JSON array).
   */
  read(after: string, blockMs: number): Promise<[id: string, json: string][]>;
  close(): void;
}

/** The queue's event stream key: the queue's hash tag, so it lives in the queue's Cluster slot. */
export function eventsKey(name: string, prefix = 'ballast'): string {
  return createKeyBuilder({ prefix, scope: 'queue', tag: name }).key('events');
}

/** Most events in one stream entry. */
const PACK_EVENTS = 100;
/** Most JSON in one entry of several events (bytes, about): one entry stays small for Redis and for a reader. */
const PACK_BYTES = 64 * 1024;
/**
 * Entries one XREAD takes: at most 10,000 events (100 per entry), so a reader far behind delivers them in slices
 * and the event loop is never held much longer than 10,000 events take.
 */
const READ_ENTRIES = 100;

/** A capped Redis stream per queue: every process sees every event (XREAD on a connection of its own). */
export class RedisStreamTransport implements EventsTransport {
  #reader: Redis | undefined;
  #closed = false;
  constructor(
    private readonly redis: RedisClient,
    private readonly key: string,
    private readonly maxLen: number,
    private readonly maxAgeMs = 0,
  ) {
    this.#pack = Math.max(1, Math.min(PACK_EVENTS, Math.floor(maxLen / 10)));
  }

  /** Most events in one entry: a tenth of `maxLen`, at most PACK_EVENTS. */
  readonly #pack: number;

  /**
   * One script call per tick; the tick's events go in as few entries as allowed (at most `#pack` events and
   * PACK_BYTES of JSON each; an event larger than that alone) — one XADD and, for a reader, one entry to parse for
   * many events (a reader spent ~4.5 µs of CPU per event on an entry each). The script keeps the stream to about
   * `maxLen` events whoever published them in whatever entry sizes: each entry carries the stream's running count
   * of events (events-trim.lua).
   */
  async publish(events: readonly string[]): Promise<void> {
    const args: (string | number)[] = [this.maxLen, this.maxAgeMs];
    for (let i = 0; i < events.length; ) {
      let j = i + 1;
      let bytes = events[i]!.length;
      while (j < events.length && j - i < this.#pack && bytes + events[j]!.length <= PACK_BYTES) {
        bytes += events[j]!.length;
        j++;
      }
      if (j - i === 1) args.push('e', events[i]!, 1);
      else args.push('b', `[${events.slice(i, j).join(',')}]`, j - i);
      i = j;
    }
    await runScript(this.redis, EVENTS_ADD, [this.key], args);
  }

  async lastId(): Promise<string> {
    const last = (await (this.redis as Redis).xrevrange(this.key, '+', '-', 'COUNT', 1)) as [string, string[]][];
    return last[0]?.[0] ?? '0';
  }

  async read(after: string, blockMs: number): Promise<[string, string][]> {
    if (this.#closed) return [];
    // Blocking reads hold their connection: a duplicate of our own (a Cluster duplicate routes by the key).
    if (!this.#reader) {
      this.#reader = duplicateClient(this.redis) as Redis;
      this.#reader.on('error', () => {}); // reported through the failed read, once per outage by the caller
    }
    let r: [string, [string, string[]][]][] | null;
    try {
      r = (await this.#reader.xread('COUNT', READ_ENTRIES, 'BLOCK', blockMs, 'STREAMS', this.key, after)) as typeof r;
    } catch (error) {
      if (this.#closed) return [];
      throw error;
    }
    if (!r) return [];
    // Field `e`: one event; `b`: several (a JSON array, then `n`) — the text tells them apart.
    return r[0]![1].map(([id, fields]) => [id, fields[1]!] as [string, string]);
  }

  close(): void {
    this.#closed = true;
    this.#reader?.disconnect();
  }
}

/** In one process (memory backend; RabbitMQ without Redis): a bounded in-memory log with the same reads. */
export class MemoryTransport implements EventsTransport {
  readonly #log: [string, string][] = [];
  /** When each entry of `#log` was published (the queue's clock), for `maxAgeMs`. */
  readonly #at: number[] = [];
  #seq = 0;
  readonly #readers = new Set<() => void>();
  constructor(
    private readonly maxLen: number,
    private readonly maxAgeMs = 0,
    private readonly now: () => number = Date.now,
  ) {}

  async publish(events: readonly string[]): Promise<void> {
    const now = this.now();
    for (const e of events) {
      this.#log.push([`${++this.#seq}-0`, e]);
      this.#at.push(now);
    }
    let drop = Math.max(0, this.#log.length - this.maxLen);
    if (this.maxAgeMs > 0) while (drop < this.#at.length && this.#at[drop]! < now - this.maxAgeMs) drop++;
    if (drop > 0) {
      this.#log.splice(0, drop);
      this.#at.splice(0, drop);
    }
    for (const r of [...this.#readers]) r();
  }

  async lastId(): Promise<string> {
    return `${this.#seq}-0`;
  }

  async read(after: string, blockMs: number): Promise<[string, string][]> {
    const from = Number(after.split('-')[0]);
    const pick = () => this.#log.filter(([id]) => Number(id.split('-')[0]) > from);
    const now = pick();
    if (now.length > 0 || blockMs <= 0) return now;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#readers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, blockMs);
      timer.unref?.();
      this.#readers.add(done);
    });
    return pick();
  }

  close(): void {
    for (const r of [...this.#readers]) r();
  }
}

/**
 * Publishes a queue's events: the events of one tick go out as one call (one script on Redis), after the moves
 * they report. Best effort: a failed publish is logged (once per outage), never thrown at the job's code.
 */
export class EventPublisher {
  #pending: string[] = [];
  #failing = false;
  readonly #inflight = new Set<Promise<void>>();
  constructor(
    readonly transport: EventsTransport,
    private readonly logger: Logger,
  ) {}

  publish(event: QueueEventInput): void {
    if (this.#pending.length === 0) process.nextTick(() => this.#flush());
    this.#pending.push(JSON.stringify(event));
  }

  #flush(): void {
    const batch = this.#pending;
    if (batch.length === 0) return;
    this.#pending = [];
    const sent = this.transport.publish(batch).then(
      () => {
        if (this.#failing) this.logger.info({}, 'queue events publishing again');
        this.#failing = false;
      },
      (error: unknown) => {
        if (!this.#failing) this.logger.warn({ err: error, lost: batch.length }, 'queue events not published');
        this.#failing = true;
      },
    );
    this.#inflight.add(sent);
    void sent.finally(() => this.#inflight.delete(sent));
  }

  /** Sends what is pending now and waits for every publish on its way (the queue's close, before its client). */
  async flush(): Promise<void> {
    this.#flush();
    await Promise.all([...this.#inflight]);
  }
}

/** The stream id just before entry `<ms>-<seq>` (XREAD reads after an id: this one reads that entry again). */
function entryBefore(ms: string, seq: string): string {
  const s = BigInt(seq);
  if (s > 0n) return `${ms}-${s - 1n}`;
  const m = BigInt(ms);
  return m > 0n ? `${m - 1n}-18446744073709551615` : '0-0';
}

export interface QueueEventsOptions {
  /** Start after this event id (resume); default: events published from now on. */
  lastEventId?: string;
  /** How long one blocking read waits (ms); default 5,000. */
  blockMs?: number;
}

type Emitters = { [K in QueueEventName]: EventEmitter<QueueEvent & { event: K }> };

/**
 * A queue's events as every process sees them (`createQueueEvents(queue)`): `onCompleted`, `onFailed`, … fire
 * for jobs of any worker anywhere, not only this process's. Publishers are the queues created with
 * `events: true`: enable it on every process that adds or works on the queue.
 */
export class QueueEvents {
  readonly #transport: EventsTransport;
  readonly #emit: Emitters;
  readonly #all = new EventEmitter<QueueEvent>('event');
  readonly #errors = new EventEmitter<unknown>('error');
  readonly #logger: Logger;
  #closed = false;
  /** The id of the last event delivered (an entry's, or `<entry>:<index>`). */
  #last = '0';
  /** The stream id reads go on after (the last entry read). */
  #cursor = '0';
  /** Resuming inside an entry of several events: skip its events up to `index`. */
  #resume: { entry: string; index: number } | undefined;
  readonly #blockMs: number;
  /** Resolves once subscribed: every event published after it is delivered. */
  readonly ready: Promise<void>;
  readonly onEvent: Event<QueueEvent> = this.#all.event;
  readonly onError: Event<unknown> = this.#errors.event;
  readonly onWaiting: Event<QueueEvent & { event: 'waiting' }>;
  readonly onWaitingChildren: Event<QueueEvent & { event: 'waiting-children' }>;
  readonly onDelayed: Event<QueueEvent & { event: 'delayed' }>;
  readonly onActive: Event<QueueEvent & { event: 'active' }>;
  readonly onProgress: Event<QueueEvent & { event: 'progress' }>;
  readonly onCompleted: Event<QueueEvent & { event: 'completed' }>;
  readonly onFailed: Event<QueueEvent & { event: 'failed' }>;
  readonly onDead: Event<QueueEvent & { event: 'dead' }>;
  readonly onStalled: Event<QueueEvent & { event: 'stalled' }>;
  readonly onRemoved: Event<QueueEvent & { event: 'removed' }>;

  constructor(transport: EventsTransport, logger: Logger, options: QueueEventsOptions = {}) {
    this.#transport = transport;
    this.#logger = logger;
    this.#blockMs = options.blockMs ?? 5_000;
    const names: QueueEventName[] = [
      'waiting',
      'waiting-children',
      'delayed',
      'active',
      'progress',
      'completed',
      'failed',
      'dead',
      'stalled',
      'removed',
    ];
    this.#emit = Object.fromEntries(names.map((n) => [n, new EventEmitter(n)])) as unknown as Emitters;
    this.onWaiting = this.#emit.waiting.event;
    this.onWaitingChildren = this.#emit['waiting-children'].event;
    this.onDelayed = this.#emit.delayed.event;
    this.onActive = this.#emit.active.event;
    this.onProgress = this.#emit.progress.event;
    this.onCompleted = this.#emit.completed.event;
    this.onFailed = this.#emit.failed.event;
    this.onDead = this.#emit.dead.event;
    this.onStalled = this.#emit.stalled.event;
    this.onRemoved = this.#emit.removed.event;
    const start = options.lastEventId !== undefined ? Promise.resolve(options.lastEventId) : this.#lastId();
    this.ready = start.then((id) => {
      this.#last = id;
      // `<entry>:<index>`: read that entry again (from the id before it) and skip its events up to index.
      const inside = /^(\d+)-(\d+):(\d+)$/.exec(id);
      if (inside) {
        this.#resume = { entry: `${inside[1]}-${inside[2]}`, index: Number(inside[3]) };
        this.#cursor = entryBefore(inside[1]!, inside[2]!);
      } else this.#cursor = id;
    });
    void this.ready.then(() => this.#loop());
  }

  async #lastId(): Promise<string> {
    for (let delay = 200; ; delay = Math.min(delay * 2, 5_000)) {
      try {
        return await this.#transport.lastId();
      } catch (error) {
        this.#report(error);
        if (this.#closed) return '0';
        await new Promise((r) => setTimeout(r, delay).unref?.());
      }
    }
  }

  #report(error: unknown): void {
    if (this.#errors.size > 0) this.#errors.emit(error);
    else this.#logger.warn({ err: error }, 'queue events read failed');
  }

  async #loop(): Promise<void> {
    let delay = 200;
    while (!this.#closed) {
      let batch: [string, string][];
      try {
        batch = await this.#transport.read(this.#cursor, this.#blockMs);
        delay = 200;
      } catch (error) {
        if (this.#closed) break;
        this.#report(error);
        await new Promise((r) => setTimeout(r, delay).unref?.());
        delay = Math.min(delay * 2, 5_000);
        continue;
      }
      for (const [id, json] of batch) {
        this.#cursor = id;
        let parsed: unknown;
        try {
          parsed = JSON.parse(json);
        } catch {
          this.#last = id;
          continue; // not ours: skipped
        }
        if (!Array.isArray(parsed)) {
          this.#last = id;
          this.#deliver(parsed, id);
          continue;
        }
        // An entry of several events: `<entry id>:<index>` each; a resume inside this entry skips those delivered.
        const from = this.#resume?.entry === id ? this.#resume.index + 1 : 0;
        for (let i = from; i < parsed.length; i++) {
          const eventId = `${id}:${i}`;
          this.#last = eventId;
          this.#deliver(parsed[i], eventId);
        }
      }
      this.#resume = undefined;
    }
  }

  #deliver(parsed: unknown, id: string): void {
    // The parsed object itself, not a copy (a reader sees thousands a second). Not an object: skipped.
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return;
    const event = parsed as QueueEvent;
    event.id = id;
    // (Own names only: an event named `constructor` must not reach Object.prototype's.)
    const emitter = Object.hasOwn(this.#emit, event.event)
      ? (this.#emit[event.event] as EventEmitter<QueueEvent>)
      : undefined;
    emitter?.emit(event);
    this.#all.emit(event);
  }

  /** The id of the last event delivered (pass as `lastEventId` to resume after it). */
  get lastEventId(): string {
    return this.#last;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#transport.close();
  }
}
