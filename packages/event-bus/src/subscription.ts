import {
  backoffDelay,
  type Clock,
  EventEmitter,
  extractTraceContext,
  getTracer,
  type Logger,
  type TimerHandle,
} from '@ballast/core';
import { context, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { z } from 'zod';
import { decodeEnvelope, type EventEnvelope } from './envelope';
import type { BusInstruments } from './metrics';
import type { ResolvedSubscribeOptions } from './options';
import type { StreamEntry, Transport } from './transport';

export interface HandlerContext {
  /** Aborts when the subscription is closed and the drain timeout passed. */
  signal: AbortSignal;
  /** 1 on first delivery. */
  deliveries: number;
  /** The entry's stream id. */
  entryId: string;
}

export type EventHandler<T, K extends string = string> = (
  event: EventEnvelope<T, K>,
  context: HandlerContext,
) => Promise<void> | void;

export interface DeadLetterEvent {
  type: string;
  group: string;
  entryId: string;
  reason: string;
  deliveries: number;
}

const tracer = getTracer('@ballast/event-bus');

/**
 * One consumer of one group of one event type. Reads batches (XREADGROUP COUNT/BLOCK), runs handlers with
 * bounded concurrency, acknowledges after success (acks of one tick go out in one XACK), schedules failed
 * entries for redelivery with backoff, renews the lease of entries it is handling, takes over entries of
 * crashed consumers, and dead-letters after `maxDeliveries` or when the payload is undecodable or invalid.
 */
export class Subscription {
  readonly group: string;
  readonly consumer: string;
  readonly #type: string;
  readonly #schema: z.ZodType;
  readonly #handler: EventHandler<unknown>;
  readonly #o: ResolvedSubscribeOptions;
  readonly #transport: Transport;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #m: BusInstruments;
  readonly #attrs: { type: string; group: string };
  readonly #inFlight = new Map<string, Promise<void>>();
  readonly #stop = new AbortController();
  readonly #handlerAbort = new AbortController();
  #acks: string[] = [];
  #ackFlush: Promise<void> | undefined;
  #slotFreed: (() => void) | undefined;
  #renewTimer: TimerHandle | undefined;
  #claimTimer: TimerHandle | undefined;
  #maintenanceTimer: TimerHandle | undefined;
  #loop: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #unwatch: (() => void) | undefined;
  readonly #deadLettered = new EventEmitter<DeadLetterEvent>('deadLetter');
  readonly #errored = new EventEmitter<{ type: string; error: unknown }>('error');
  readonly onDeadLetter = this.#deadLettered.event;
  /** Transport errors of the background loop (it keeps going after a pause). */
  readonly onError = this.#errored.event;

  constructor(args: {
    type: string;
    group: string;
    consumer: string;
    schema: z.ZodType;
    handler: EventHandler<unknown>;
    options: ResolvedSubscribeOptions;
    transport: Transport;
    clock: Clock;
    logger: Logger;
    instruments: BusInstruments;
  }) {
    this.#type = args.type;
    this.group = args.group;
    this.consumer = args.consumer;
    this.#schema = args.schema;
    this.#handler = args.handler;
    this.#o = args.options;
    this.#transport = args.transport;
    this.#clock = args.clock;
    this.#log = args.logger.child({ eventType: args.type, group: args.group, consumer: args.consumer });
    this.#m = args.instruments;
    this.#attrs = { type: args.type, group: args.group };
  }

  /** Creates the group and starts the loops. Resolves once the group exists. */
  async start(): Promise<void> {
    await this.#transport.ensureGroup(this.#type, this.group);
    const renewMs = this.#o.renewIntervalMs ?? Math.max(1, Math.floor(this.#o.idleTimeoutMs / 3));
    this.#renewTimer = this.#clock.setInterval(() => void this.#renew(), renewMs);
    this.#renewTimer.unref();
    this.#claimTimer = this.#clock.setInterval(() => void this.#claim(), this.#o.claimIntervalMs);
    this.#claimTimer.unref();
    if (this.#o.maintenanceIntervalMs > 0) {
      this.#maintenanceTimer = this.#clock.setInterval(() => void this.maintain(), this.#o.maintenanceIntervalMs);
      this.#maintenanceTimer.unref();
    }
    this.#unwatch = this.#m.watch({ type: this.#type, group: this.group, transport: this.#transport });
    this.#loop = this.#readLoop();
  }

  /** Entries being handled now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /**
   * Graceful drain: stop reading, let in-flight handlers finish (up to `drainTimeoutMs`, then their signal
   * aborts and they are left pending for redelivery), flush acks. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#drain();
    return this.#closing;
  }

  async #drain(): Promise<void> {
    this.#stop.abort();
    this.#unwatch?.();
    if (this.#renewTimer) this.#clock.clearInterval(this.#renewTimer);
    if (this.#claimTimer) this.#clock.clearInterval(this.#claimTimer);
    if (this.#maintenanceTimer) this.#clock.clearInterval(this.#maintenanceTimer);
    this.#slotFreed?.();
    await this.#loop;
    let timer: TimerHandle | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = this.#clock.setTimeout(resolve, this.#o.drainTimeoutMs);
    });
    await Promise.race([Promise.allSettled([...this.#inFlight.values()]), timedOut]);
    if (timer) this.#clock.clearTimeout(timer);
    if (this.#inFlight.size > 0) {
      this.#log.warn({ left: this.#inFlight.size }, 'drain timed out: unfinished entries stay pending for redelivery');
      this.#handlerAbort.abort();
    }
    await this.#flushAcks();
  }

  async #readLoop(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      const free = this.#o.concurrency - this.#inFlight.size;
      if (free <= 0) {
        await new Promise<void>((resolve) => {
          this.#slotFreed = resolve;
        });
        this.#slotFreed = undefined;
        continue;
      }
      try {
        const entries = await this.#transport.read(
          this.#type,
          this.group,
          this.consumer,
          Math.min(this.#o.batchSize, free),
          this.#o.blockMs,
          signal,
        );
        for (const entry of entries) this.#dispatch(entry);
      } catch (error) {
        if (signal.aborted) return;
        this.#report(error, 'read failed; retrying in 1 s');
        await new Promise<void>((resolve) => {
          const t = this.#clock.setTimeout(resolve, 1_000);
          signal.addEventListener('abort', () => {
            this.#clock.clearTimeout(t);
            resolve();
          });
        });
      }
    }
  }

  #report(error: unknown, message: string): void {
    this.#log.error({ err: error }, message);
    this.#errored.emit({ type: this.#type, error });
  }

  /**
   * Housekeeping, run every `maintenanceIntervalMs`: trims what every group acknowledged and removes idle
   * consumers holding nothing. Returns what it did.
   */
  async maintain(): Promise<{ trimmed: number; removedConsumers: string[] }> {
    try {
      const trimmed = await this.#transport.trim(this.#type);
      const removedConsumers = await this.#transport.removeIdleConsumers(
        this.#type,
        this.group,
        this.#o.removeIdleConsumersAfterMs,
      );
      if (trimmed > 0 || removedConsumers.length > 0) this.#log.debug({ trimmed, removedConsumers }, 'maintenance');
      return { trimmed, removedConsumers };
    } catch (error) {
      this.#report(error, 'maintenance failed');
      return { trimmed: 0, removedConsumers: [] };
    }
  }

  async #renew(): Promise<void> {
    if (this.#inFlight.size === 0) return;
    try {
      await this.#transport.renew(this.#type, this.group, this.consumer, [...this.#inFlight.keys()]);
    } catch (error) {
      this.#report(error, 'lease renewal failed');
    }
  }

  async #claim(): Promise<void> {
    const free = this.#o.concurrency - this.#inFlight.size;
    if (free <= 0 || this.#stop.signal.aborted) return;
    try {
      const entries = await this.#transport.claimStale(
        this.#type,
        this.group,
        this.consumer,
        this.#o.idleTimeoutMs,
        free,
      );
      for (const entry of entries) {
        if (this.#inFlight.has(entry.id)) continue;
        this.#m.redelivered.add(1, this.#attrs);
        this.#dispatch(entry);
      }
    } catch (error) {
      this.#report(error, 'claiming stale entries failed');
    }
  }

  #dispatch(entry: StreamEntry): void {
    const done = this.#handle(entry).finally(() => {
      this.#inFlight.delete(entry.id);
      this.#slotFreed?.();
    });
    this.#inFlight.set(entry.id, done);
  }

  async #handle(entry: StreamEntry): Promise<void> {
    if (entry.deliveries > this.#o.maxDeliveries) {
      await this.#deadLetter(entry, `delivered ${entry.deliveries} times (max ${this.#o.maxDeliveries})`);
      return;
    }
    let event: EventEnvelope;
    try {
      event = decodeEnvelope(entry.fields);
    } catch (error) {
      await this.#deadLetter(entry, `undecodable: ${(error as Error).message}`);
      return;
    }
    const parsed = this.#schema.safeParse(event.data);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
      await this.#deadLetter(entry, `invalid data: ${issues}`);
      return;
    }
    event.data = parsed.data;
    this.#m.delivered.add(1, this.#attrs);
    const parent = extractTraceContext(event.metadata);
    const started = this.#clock.monotonic();
    const span = tracer.startSpan(
      `${this.#type} process`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          'messaging.system': 'redis',
          'messaging.destination.name': this.#type,
          'messaging.message.id': event.event_id,
        },
      },
      parent,
    );
    try {
      await context.with(parent, () =>
        this.#handler(event, { signal: this.#handlerAbort.signal, deliveries: entry.deliveries, entryId: entry.id }),
      );
      span.end();
      this.#m.duration.record(this.#clock.monotonic() - started, this.#attrs);
      this.#ack(entry.id);
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
      this.#m.failed.add(1, this.#attrs);
      await this.#failed(entry, error);
    }
  }

  async #failed(entry: StreamEntry, error: unknown): Promise<void> {
    const message = error instanceof Error ? error.message : String(error);
    if (entry.deliveries >= this.#o.maxDeliveries) {
      await this.#deadLetter(entry, `handler failed ${entry.deliveries} times: ${message}`);
      return;
    }
    const delayMs = backoffDelay(this.#o.retryBackoff, entry.deliveries - 1);
    this.#log.warn(
      { err: error, entryId: entry.id, deliveries: entry.deliveries, delayMs },
      'handler failed; will redeliver',
    );
    try {
      await this.#transport.retryLater(this.#type, this.group, this.consumer, entry.id, delayMs, this.#o.idleTimeoutMs);
    } catch (e) {
      // Not fatal: the entry stays pending and is taken over after idleTimeoutMs.
      this.#report(e, 'scheduling redelivery failed');
    }
  }

  async #deadLetter(entry: StreamEntry, reason: string): Promise<void> {
    try {
      await this.#transport.deadLetter(this.#type, this.group, entry, reason);
      this.#m.deadLettered.add(1, this.#attrs);
      this.#log.error({ entryId: entry.id, reason, deliveries: entry.deliveries }, 'event dead-lettered');
      this.#deadLettered.emit({
        type: this.#type,
        group: this.group,
        entryId: entry.id,
        reason,
        deliveries: entry.deliveries,
      });
    } catch (error) {
      // The entry stays pending: it will be claimed and dead-lettered again later. Nothing is lost.
      this.#report(error, 'dead-lettering failed');
    }
  }

  #ack(id: string): void {
    this.#acks.push(id);
    // Every ack of this tick leaves in one XACK.
    this.#ackFlush ??= Promise.resolve().then(() => this.#flushAcks());
  }

  async #flushAcks(): Promise<void> {
    this.#ackFlush = undefined;
    const ids = this.#acks;
    if (ids.length === 0) return;
    this.#acks = [];
    try {
      await this.#transport.ack(this.#type, this.group, ids);
      this.#m.acked.add(ids.length, this.#attrs);
    } catch (error) {
      // Unacked entries are redelivered later (at-least-once): report, do not throw.
      this.#report(error, 'ack failed');
    }
  }
}
