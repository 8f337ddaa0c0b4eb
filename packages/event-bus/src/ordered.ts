import {
  backoffDelay,
  type Clock,
  EventEmitter,
  InvalidOptionsError,
  isBackendUnavailableError,
  type Logger,
  type TimerHandle,
} from '@ballast/core';
import type { z } from 'zod';
import { isGroupNotFoundError } from './errors';
import { type DeadLetterEvent, type EventHandler, HandlerRegistration } from './handler';
import type { BusInstruments } from './metrics';
import type { ResolvedSubscribeOptions } from './options';
import { type EntryProcessor, entryAttributes, processEntry } from './process';
import { applyRetention } from './retention';
import { NO_RETENTION, type RetentionPolicy, type StreamEntry, type Transport } from './transport';

/** The stream type (the transport's `type`) of partition `p` of `type`: `order.placed:p3`. */
export function partitionType(type: string, p: number): string {
  return `${type}:p${p}`;
}

/** The partition of a key: FNV-1a (32 bit) of its UTF-16 code units, modulo `partitions`. */
export function partitionOf(key: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % partitions;
}

/** The metadata field that carries an event's partition key. */
export const PARTITION_KEY_FIELD = 'partition_key';

function keyOf(entry: StreamEntry): string {
  try {
    const metadata = JSON.parse(entry.fields.metadata ?? '{}') as Record<string, unknown>;
    return String(metadata[PARTITION_KEY_FIELD] ?? '');
  } catch {
    return '';
  }
}

export interface OrderedConsumerArgs {
  type: string;
  group: string;
  name: string;
  schema: z.ZodType;
  options: ResolvedSubscribeOptions;
  transport: Transport;
  clock: Clock;
  logger: Logger;
  instruments: BusInstruments;
  partitions: number;
  retention?: RetentionPolicy;
  onClose?: () => void;
}

interface Owned {
  p: number;
  stop: AbortController;
  loop?: Promise<void>;
  /**
   * `clock.monotonic()` before which the lease is surely still ours: the send time of the last successful
   * acquisition or renewal plus the lease time (Redis starts the lease's clock later than that).
   */
  validUntil: number;
}

/**
 * A consumer of an ordered (partitioned) event type: events published with a `partitionKey` go to partition
 * stream `hash(key) % partitions`; each partition of a group is owned by one consumer at a time (a lease
 * renewed every `orderedLeaseMs / 3`), which handles the events of one key one at a time in stream order —
 * a failed event is retried in place (backoff) and blocks its key until it succeeds or is dead-lettered —
 * while different keys run concurrently (up to `concurrency`). A consumer that stops renewing (crash, kill,
 * partition from Redis) loses its partitions after `orderedLeaseMs`; their next owner first takes over every
 * entry still pending in the partition, oldest first, then reads new ones. A consumer takes every free
 * partition at each lease tick: the others of the group are hot standbys (no rebalancing of held partitions).
 */
export class OrderedConsumer {
  readonly type: string;
  readonly group: string;
  readonly name: string;
  readonly options: ResolvedSubscribeOptions;
  readonly #a: OrderedConsumerArgs;
  readonly #log: Logger;
  readonly #lease: NonNullable<Transport['lease']>;
  readonly #owned = new Map<number, Owned>();
  readonly #tails = new Map<string, Promise<void>>();
  readonly #stop = new AbortController();
  readonly #handlerAbort = new AbortController();
  readonly #deadLettered = new EventEmitter<DeadLetterEvent>('deadLetter');
  readonly #errored = new EventEmitter<{ type: string; error: unknown }>('error');
  readonly onDeadLetter = this.#deadLettered.event;
  readonly onError = this.#errored.event;
  #handlers: HandlerRegistration[] = [];
  #inFlight = 0;
  /** The last failure was BackendUnavailableError (warned once until a read works). */
  #backendDown = false;
  #slotFreed: (() => void)[] = [];
  #timer: TimerHandle | undefined;
  #maintenanceTimer: TimerHandle | undefined;
  #ticking: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(args: OrderedConsumerArgs) {
    const lease = args.transport.lease;
    if (!lease) {
      throw new InvalidOptionsError('subscribe', [
        {
          path: 'ordered',
          expected: 'a transport with lease()',
          received: 'a transport without it',
          message: 'ordered subscriptions need a transport that implements lease() (RedisTransport, MemoryTransport)',
        },
      ]);
    }
    this.#lease = lease.bind(args.transport);
    this.#a = args;
    this.type = args.type;
    this.group = args.group;
    this.name = args.name;
    this.options = args.options;
    this.#log = args.logger.child({ eventType: args.type, group: args.group, consumer: args.name, ordered: true });
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Partitions this consumer owns now. */
  get partitions(): number[] {
    return [...this.#owned.keys()].sort((a, b) => a - b);
  }

  async start(): Promise<void> {
    const from = this.options.startFrom;
    const start = from === 'earliest' ? '0' : from === 'latest' ? '$' : from;
    for (let p = 0; p < this.#a.partitions; p++) {
      await this.#a.transport.ensureGroup(partitionType(this.type, p), this.group, start);
    }
    const every = Math.max(1, Math.floor(this.options.orderedLeaseMs / 3));
    this.#timer = this.#a.clock.setInterval(() => void this.#tick(), every);
    this.#timer.unref();
    if (this.options.maintenanceIntervalMs > 0) {
      // Retention of the partition streams (the bus's own timer trims only the plain type streams).
      this.#maintenanceTimer = this.#a.clock.setInterval(
        () => void this.maintain(),
        this.options.maintenanceIntervalMs,
      );
      this.#maintenanceTimer.unref();
    }
    await this.#tick();
  }

  add(handler: EventHandler<unknown>): HandlerRegistration {
    const registration = new HandlerRegistration(handler);
    this.#handlers = [...this.#handlers, registration];
    return registration;
  }

  async remove(registration: HandlerRegistration): Promise<void> {
    if (!this.#handlers.includes(registration)) return;
    if (this.#handlers.length === 1) {
      await this.close();
      this.#handlers = [];
      return;
    }
    this.#handlers = this.#handlers.filter((r) => r !== registration);
    await registration.idle();
  }

  async maintain(): Promise<{ trimmed: number; removedConsumers: string[] }> {
    let trimmed = 0;
    try {
      for (let p = 0; p < this.#a.partitions; p++) {
        const r = await applyRetention(
          this.#a.transport,
          partitionType(this.type, p),
          this.#a.retention ?? NO_RETENTION,
          this.#log,
          this.#a.instruments,
        );
        trimmed += r.trimmed;
      }
    } catch (error) {
      this.#report(error, 'maintenance failed');
    }
    return { trimmed, removedConsumers: [] };
  }

  /** Renews owned leases (a lost one stops its partition), then takes every free partition. */
  #tick(): Promise<void> {
    this.#ticking ??= (async () => {
      const ttl = this.options.orderedLeaseMs;
      try {
        for (const [p, owned] of [...this.#owned]) {
          const sentAt = this.#a.clock.monotonic();
          if (await this.#lease(this.#leaseName(p), this.name, ttl)) {
            owned.validUntil = sentAt + ttl;
            continue;
          }
          this.#log.warn({ partition: p }, 'partition lease lost to another consumer: stopped handling it');
          this.#drop(owned);
        }
        if (this.#stop.signal.aborted) return;
        for (let p = 0; p < this.#a.partitions; p++) {
          if (this.#owned.has(p)) continue;
          const sentAt = this.#a.clock.monotonic();
          if (!(await this.#lease(this.#leaseName(p), this.name, ttl))) continue;
          if (this.#stop.signal.aborted) {
            await this.#lease(this.#leaseName(p), this.name, 0);
            return;
          }
          const owned: Owned = { p, stop: new AbortController(), validUntil: sentAt + ttl };
          this.#owned.set(p, owned);
          owned.loop = this.#runPartition(owned);
          this.#log.debug({ partition: p }, 'partition acquired');
        }
      } catch (error) {
        this.#report(error, 'partition lease tick failed');
      } finally {
        this.#ticking = undefined;
      }
    })();
    return this.#ticking;
  }

  /** Stops handling a partition (lease lost or lapsed): what is pending stays for the next owner, in order. */
  #drop(owned: Owned): void {
    if (this.#owned.get(owned.p) === owned) this.#owned.delete(owned.p);
    owned.stop.abort();
  }

  /**
   * Still surely ours? Past `validUntil` (renewals late or failing) it may be another consumer's already: the
   * partition is dropped — and taken again, with what is pending, at a later tick if nobody else took it.
   */
  #holds(owned: Owned): boolean {
    if (owned.stop.signal.aborted) return false;
    if (this.#a.clock.monotonic() < owned.validUntil) return true;
    this.#log.warn({ partition: owned.p }, 'partition lease not renewed in time: stopped handling it');
    this.#drop(owned);
    return false;
  }

  #leaseName(p: number): string {
    return this.#a.transport.keys.lease(partitionType(this.type, p), this.group);
  }

  async #runPartition(owned: Owned): Promise<void> {
    const signal = owned.stop.signal;
    const stream = partitionType(this.type, owned.p);
    const t = this.#a.transport;
    const o = this.options;
    // Take over what earlier owners left pending, oldest first: those come before anything not yet read.
    let cursor = '0-0';
    let recovering = true;
    while (!signal.aborted) {
      try {
        await this.#slot(signal);
        if (!this.#holds(owned)) break;
        const free = Math.max(1, o.concurrency - this.#inFlight);
        let entries: StreamEntry[];
        if (recovering) {
          const r = await t.claimStale(stream, this.group, this.name, 0, Math.min(o.batchSize, free), cursor);
          entries = r.entries;
          cursor = r.cursor;
          if (cursor === '0-0') recovering = false;
        } else {
          entries = await t.read(stream, this.group, this.name, Math.min(o.batchSize, free), 0);
        }
        if (this.#backendDown) {
          this.#backendDown = false;
          this.#log.info('reading partitions again: the backend is back');
        }
        if (!this.#holds(owned)) break; // no longer ours: the next owner takes them over from the pending list
        for (const entry of entries) this.#enqueue(stream, entry, owned);
        if (entries.length === 0 && !recovering) await this.#pause(o.orderedPollMs, signal);
      } catch (error) {
        if (signal.aborted) break;
        if (isGroupNotFoundError(error)) {
          await t.ensureGroup(stream, this.group).catch(() => {});
          recovering = true;
          cursor = '0-0';
          continue;
        }
        this.#report(error, 'reading a partition failed; retrying');
        await this.#pause(Math.min(1_000, o.orderedLeaseMs / 3), signal);
      }
    }
  }

  async #slot(signal: AbortSignal): Promise<void> {
    while (this.#inFlight >= this.options.concurrency && !signal.aborted) {
      await new Promise<void>((resolve) => {
        this.#slotFreed.push(resolve);
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
    }
  }

  #enqueue(stream: string, entry: StreamEntry, owned: Owned): void {
    const tailKey = `${stream}\u0000${keyOf(entry)}`;
    this.#inFlight += 1;
    const previous = this.#tails.get(tailKey) ?? Promise.resolve();
    const next = previous
      .then(() => this.#handle(stream, entry, owned))
      .catch((error: unknown) => this.#report(error, 'ordered handling failed'))
      .finally(() => {
        this.#inFlight -= 1;
        if (this.#tails.get(tailKey) === next) this.#tails.delete(tailKey);
        for (const wake of this.#slotFreed.splice(0)) wake();
      });
    this.#tails.set(tailKey, next);
  }

  #processor(): EntryProcessor {
    const a = this.#a;
    return {
      type: this.type,
      group: this.group,
      schema: a.schema,
      maxDeliveries: Number.POSITIVE_INFINITY, // counted here, across in-place retries
      handlerTimeoutMs: this.options.handlerTimeoutMs,
      keys: a.transport.keys,
      clock: a.clock,
      instruments: a.instruments,
      signal: this.#handlerAbort.signal,
      handlers: () => this.#handlers,
      attributes: entryAttributes(this.type, this.group),
    };
  }

  /**
   * One entry, in its key's turn: handled and acknowledged (the key's next entry starts only after the ack),
   * or retried in place after its backoff, or dead-lettered. Ownership lost (signal): stop, leave it pending.
   */
  async #handle(stream: string, entry: StreamEntry, owned: Owned): Promise<void> {
    const signal = owned.stop.signal;
    if (!this.#holds(owned)) return; // no longer surely ours: pending, for the next owner, in order
    const o = this.options;
    const t = this.#a.transport;
    let deliveries = entry.deliveries;
    for (;;) {
      const outcome = await processEntry(this.#processor(), { ...entry, deliveries });
      if (outcome.kind === 'handled' || outcome.kind === 'skipped') {
        for (;;) {
          try {
            await t.ack(stream, this.group, [entry.id]);
            if (outcome.kind === 'handled') this.#a.instruments.acked.add(1, { type: this.type, group: this.group });
            return;
          } catch (error) {
            // The key's next entry must not start before this ack: retry it while the partition is ours.
            if (signal.aborted) return;
            this.#report(error, 'ack failed; retrying before the next entry of the key');
            await this.#pause(200, signal);
          }
        }
      }
      if (outcome.kind === 'dead') return this.#deadLetter(stream, { ...entry, deliveries }, outcome.reason);
      const message = outcome.error instanceof Error ? outcome.error.message : String(outcome.error);
      if (deliveries >= o.maxDeliveries) {
        return this.#deadLetter(stream, { ...entry, deliveries }, `handler failed ${deliveries} times: ${message}`);
      }
      const delayMs = backoffDelay(o.retryBackoff, deliveries - 1);
      this.#a.instruments.redelivered.add(1, { type: this.type, group: this.group });
      this.#log.warn(
        { err: outcome.error, entryId: entry.id, deliveries, delayMs },
        'handler failed; key blocked until retry',
      );
      await this.#pause(delayMs, signal);
      if (!this.#holds(owned)) return;
      deliveries += 1;
    }
  }

  async #deadLetter(stream: string, entry: StreamEntry, reason: string): Promise<void> {
    const id = await this.#a.transport.deadLetter(stream, this.group, this.name, entry, reason);
    if (id === undefined) return;
    this.#a.instruments.deadLettered.add(1, { type: this.type, group: this.group });
    this.#log.error({ entryId: entry.id, reason, stream }, 'event dead-lettered (its key moves on)');
    this.#deadLettered.emit({
      type: this.type,
      group: this.group,
      entryId: entry.id,
      reason,
      deliveries: entry.deliveries,
    });
  }

  #pause(ms: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        this.#a.clock.clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = this.#a.clock.setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** Emits on `onError`; the backend being down is one warning until a read works again, not one per call. */
  #report(error: unknown, message: string): void {
    this.#errored.emit({ type: this.type, error });
    if (!isBackendUnavailableError(error)) {
      this.#log.warn({ err: error }, message);
      return;
    }
    if (this.#backendDown) this.#log.debug({ reason: error.message }, message);
    else
      this.#log.warn({ reason: error.message }, `${message} (backend unavailable; retrying quietly until it is back)`);
    this.#backendDown = true;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#a.onClose?.();
      this.#stop.abort();
      if (this.#timer) this.#a.clock.clearInterval(this.#timer);
      if (this.#maintenanceTimer) this.#a.clock.clearInterval(this.#maintenanceTimer);
      await this.#ticking;
      const owned = [...this.#owned];
      this.#owned.clear();
      for (const [, o] of owned) o.stop.abort();
      await Promise.allSettled(owned.map(([, o]) => o.loop));
      let timer: TimerHandle | undefined;
      const timedOut = new Promise<void>((resolve) => {
        timer = this.#a.clock.setTimeout(resolve, this.options.drainTimeoutMs);
      });
      await Promise.race([Promise.allSettled([...this.#tails.values()]), timedOut]);
      if (timer) this.#a.clock.clearTimeout(timer);
      this.#handlerAbort.abort();
      for (const [p] of owned) {
        await this.#lease(this.#leaseName(p), this.name, 0).catch(() => {});
      }
    })();
    return this.#closing;
  }
}
