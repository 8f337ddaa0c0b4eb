import {
  backoffDelay,
  boundBackendCall,
  type Clock,
  EventEmitter,
  isBackendUnavailableError,
  isThenable,
  type Logger,
  type TimerHandle,
} from '@ballast/core';
import type { z } from 'zod';
import { AckBatcher } from './acks';
import { isGroupNotFoundError } from './errors';
import { type DeadLetterEvent, type EventHandler, HandlerRegistration } from './handler';
import { Leases } from './leases';
import type { BusInstruments } from './metrics';
import type { ResolvedSubscribeOptions } from './options';
import { type EntryProcessor, entryAttributes, type Outcome, processEntry } from './process';
import { applyRetention } from './retention';
import { NO_RETENTION, type RetentionPolicy, type StreamEntry, type StreamId, type Transport } from './transport';

export interface ConsumerArgs {
  type: string;
  group: string;
  name: string;
  schema: z.ZodType;
  options: ResolvedSubscribeOptions;
  transport: Transport;
  clock: Clock;
  logger: Logger;
  instruments: BusInstruments;
  /** What the maintenance trim may remove (the bus's `retention`). */
  retention?: RetentionPolicy;
  /** Called once when the consumer starts closing (the bus forgets it). */
  onClose?: () => void;
}

/**
 * One consumer of one group of one event type, shared by every handler a bus registers for that (type,
 * group): each entry runs all of them. One loop fetches work — stale or due-for-retry entries (XAUTOCLAIM,
 * every `claimIntervalMs`, resuming its scan where the last one stopped) and new entries (XREADGROUP
 * COUNT/BLOCK) — and only for free slots, so no more than `concurrency` entries are ever held or handled at
 * once. Entries are acknowledged after success (the acks of one tick in one XACK); failed ones are scheduled
 * for redelivery with backoff; the leases of entries being handled (or held for a long backoff) are renewed;
 * dead letters go to the DLQ.
 */
export class Consumer {
  readonly type: string;
  readonly group: string;
  readonly name: string;
  readonly options: ResolvedSubscribeOptions;
  readonly #transport: Transport;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #m: BusInstruments;
  readonly #attrs: { type: string; group: string };
  readonly #processor: EntryProcessor;
  readonly #onClose: (() => void) | undefined;
  readonly #retention: RetentionPolicy;
  #handlers: HandlerRegistration[] = [];
  /** Entries holding a slot: being handled, or being acknowledged, retried or dead-lettered after it. */
  readonly #inFlight = new Map<StreamId, Promise<void>>();
  readonly #leases: Leases;
  readonly #acks: AckBatcher;
  readonly #stop = new AbortController();
  readonly #handlerAbort = new AbortController();
  #slotFreed: (() => void) | undefined;
  #claimCursor: StreamId = '0-0';
  #nextClaimAt = Number.NEGATIVE_INFINITY;
  #maintenanceTimer: TimerHandle | undefined;
  #loop: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #unwatch: (() => void) | undefined;
  readonly #deadLettered = new EventEmitter<DeadLetterEvent>('deadLetter');
  readonly #errored = new EventEmitter<{ type: string; error: unknown }>('error');
  readonly onDeadLetter = this.#deadLettered.event;
  /** Transport errors of the background loop (it keeps going after a pause). */
  readonly onError = this.#errored.event;
  /** The last background call failed with BackendUnavailableError (logged once until a read works). */
  #backendDown = false;
  /** The group is being created again after Redis lost it (one recreation at a time). */
  #recreating: Promise<void> | undefined;

  constructor(args: ConsumerArgs) {
    this.type = args.type;
    this.group = args.group;
    this.name = args.name;
    this.options = args.options;
    this.#transport = args.transport;
    this.#clock = args.clock;
    this.#log = args.logger.child({ eventType: args.type, group: args.group, consumer: args.name });
    this.#m = args.instruments;
    this.#onClose = args.onClose;
    this.#retention = args.retention ?? NO_RETENTION;
    this.#processor = {
      type: args.type,
      group: args.group,
      schema: args.schema,
      maxDeliveries: args.options.maxDeliveries,
      handlerTimeoutMs: args.options.handlerTimeoutMs,
      keys: args.transport.keys,
      clock: args.clock,
      instruments: args.instruments,
      signal: this.#handlerAbort.signal,
      handlers: () => this.#handlers,
      attributes: entryAttributes(args.type, args.group),
    };
    this.#attrs = this.#processor.attributes.base;
    const report = (error: unknown, message: string) => this.#report(error, message);
    this.#leases = new Leases({
      transport: args.transport,
      type: args.type,
      group: args.group,
      consumer: args.name,
      clock: args.clock,
      idleTimeoutMs: args.options.idleTimeoutMs,
      renewIntervalMs: args.options.renewIntervalMs ?? Math.max(1, Math.floor(args.options.idleTimeoutMs / 3)),
      report,
    });
    this.#acks = new AckBatcher({
      transport: args.transport,
      type: args.type,
      group: args.group,
      onAcked: (count) => this.#m.acked.add(count, this.#attrs),
      report,
    });
  }

  /** Creates the group and starts the loop and timers. Resolves once the group exists. */
  async start(): Promise<void> {
    const from = this.options.startFrom;
    await this.#transport.ensureGroup(
      this.type,
      this.group,
      from === 'earliest' ? '0' : from === 'latest' ? '$' : from,
    );
    const o = this.options;
    this.#leases.start();
    if (o.maintenanceIntervalMs > 0) {
      this.#maintenanceTimer = this.#clock.setInterval(() => void this.maintain(), o.maintenanceIntervalMs);
      this.#maintenanceTimer.unref();
    }
    this.#unwatch = this.#m.watch({ type: this.type, group: this.group, transport: this.#transport });
    this.#loop = this.#run();
  }

  /** Entries being handled (or finishing) now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  add(handler: EventHandler<unknown>): HandlerRegistration {
    const registration = new HandlerRegistration(handler);
    this.#handlers = [...this.#handlers, registration];
    return registration;
  }

  /**
   * Unregisters a handler: later entries no longer run it; resolves when its running invocations finished
   * (at most `drainTimeoutMs`). The last handler's removal drains and closes the consumer.
   */
  async remove(registration: HandlerRegistration): Promise<void> {
    if (!this.#handlers.includes(registration)) return;
    if (this.#handlers.length === 1) {
      await this.close();
      this.#handlers = [];
      return;
    }
    this.#handlers = this.#handlers.filter((r) => r !== registration);
    let timer: TimerHandle | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = this.#clock.setTimeout(resolve, this.options.drainTimeoutMs);
    });
    await Promise.race([registration.idle(), timedOut]);
    if (timer) this.#clock.clearTimeout(timer);
  }

  /**
   * Graceful drain: stop fetching, let in-flight handlers finish (up to `drainTimeoutMs`, their leases still
   * renewed meanwhile; then their signal aborts and they are left pending for redelivery), release parked
   * entries for redelivery, flush acks. Idempotent.
   */
  close(): Promise<void> {
    if (!this.#closing) {
      this.#onClose?.();
      this.#closing = this.#drain();
    }
    return this.#closing;
  }

  async #drain(): Promise<void> {
    // The whole drain, backend calls included, ends within drainTimeoutMs: with Redis down, handing entries
    // back and flushing acks would each wait for their command timeout. What is left undone is redelivered.
    const deadline = this.#clock.monotonic() + this.options.drainTimeoutMs;
    const within = (work: Promise<unknown>, what: string) =>
      boundBackendCall(work, {
        backend: 'event transport',
        operation: what,
        timeoutMs: Math.max(0, deadline - this.#clock.monotonic()),
        timeoutReason: 'drainTimeoutMs',
        clock: this.#clock,
      }).catch((error: unknown) => this.#log.warn({ reason: String(error) }, `drain: ${what} not done`));
    this.#stop.abort();
    this.#unwatch?.();
    if (this.#maintenanceTimer) this.#clock.clearInterval(this.#maintenanceTimer);
    this.#wake();
    if (this.#loop) await within(this.#loop, 'stopping the fetch loop');
    let timer: TimerHandle | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = this.#clock.setTimeout(resolve, Math.max(0, deadline - this.#clock.monotonic()));
    });
    await Promise.race([Promise.allSettled([...this.#inFlight.values()]), timedOut]);
    if (timer) this.#clock.clearTimeout(timer);
    // Leases were renewed until every in-flight entry finished, or the drain gave up on them.
    this.#leases.stop();
    if (this.#inFlight.size > 0) {
      this.#log.warn({ left: this.#inFlight.size }, 'drain timed out: unfinished entries stay pending for redelivery');
      this.#handlerAbort.abort();
    }
    await within(this.#leases.releaseAll(), 'handing parked entries back');
    await within(this.#acks.flush(), 'flushing acks');
  }

  /** The one fetch loop: claims when due, reads otherwise, never for more entries than free slots. */
  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    const o = this.options;
    // Some of the last read's entries were handled synchronously (took no slot).
    let handledInline = false;
    while (!signal.aborted) {
      // Woken by the first of a batch of handlers finishing: let the rest of that batch finish (one macrotask)
      // so the next read asks for the whole free room, not one entry per finished handler. After a batch
      // (partly) handled synchronously, one macrotask too: a read that resolves without I/O (the memory
      // transport) and handlers that publish more would otherwise keep the loop in microtasks, timers starved.
      if (handledInline || (this.#inFlight.size > 0 && o.concurrency - this.#inFlight.size < o.batchSize)) {
        handledInline = false;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      const free = o.concurrency - this.#inFlight.size;
      if (free <= 0) {
        await new Promise<void>((resolve) => {
          this.#slotFreed = resolve;
        });
        continue;
      }
      try {
        const untilClaim = this.#nextClaimAt - this.#clock.monotonic();
        if (untilClaim <= 0) {
          this.#nextClaimAt = this.#clock.monotonic() + o.claimIntervalMs;
          await this.#claim(free);
          continue;
        }
        // A blocking read returns by the next claim sweep at the latest.
        const blockMs = o.blockMs > 0 ? Math.max(1, Math.min(o.blockMs, Math.ceil(untilClaim))) : 0;
        const entries = await this.#transport.read(
          this.type,
          this.group,
          this.name,
          Math.min(o.batchSize, free),
          blockMs,
          signal,
        );
        if (this.#backendDown) {
          this.#backendDown = false;
          this.#log.info('reading again: the backend is back');
        }
        // close() began while the read was on its way: not handled here, handed back to the group at once.
        if (signal.aborted) for (const entry of entries) this.#leases.handBack(entry.id);
        else {
          for (const entry of entries) if (this.#dispatch(entry)) handledInline = true;
        }
        // blockMs 0: poll, once per claim interval when the stream is empty.
        if (entries.length === 0 && o.blockMs === 0) await this.#pause(Math.ceil(untilClaim), signal);
      } catch (error) {
        if (signal.aborted) return;
        // Redis lost the group (or the stream): create it again and read on at once, not a pause a turn.
        if (isGroupNotFoundError(error)) {
          await this.#recreateGroup();
          continue;
        }
        this.#report(error, 'read failed; retrying in 1 s');
        await this.#pause(1_000, signal);
      }
    }
  }

  #pause(ms: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        this.#clock.clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = this.#clock.setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  #wake(): void {
    const wake = this.#slotFreed;
    this.#slotFreed = undefined;
    wake?.();
  }

  /**
   * Logs a background failure and emits it on `onError`. The backend being down is one warning (and one info
   * line when a read works again), debug lines for the retries between: not an error a second.
   */
  #report(error: unknown, message: string): void {
    if (isGroupNotFoundError(error)) {
      // A claim, renewal or ack met the missing group: recreating it is the answer, logged once there.
      void this.#recreateGroup();
      return;
    }
    this.#errored.emit({ type: this.type, error });
    if (!isBackendUnavailableError(error)) {
      this.#log.error({ err: error }, message);
      return;
    }
    const reason = error.message;
    if (this.#backendDown) this.#log.debug({ reason }, message);
    else this.#log.warn({ reason }, `${message} (backend unavailable; retrying quietly until it is back)`);
    this.#backendDown = true;
  }

  /**
   * Redis no longer has this consumer group (a restart without persistence, a failover to a replica that lacks
   * it, an operator's `XGROUP DESTROY`) or its stream: every read would fail with NOGROUP forever. The group is
   * created again from the start of what the stream holds (`0`): entries published since the loss are all
   * delivered — nothing lost, at the price of redelivering what the stream still holds from before (handlers
   * are at-least-once anyway). Entries that were pending in the lost group are gone with it. Logged once per
   * recreation, counted in `ballast_event_bus_group_recreated_total`; one recreation at a time.
   */
  #recreateGroup(): Promise<void> {
    if (this.#recreating) return this.#recreating;
    const run = async () => {
      try {
        await this.#transport.ensureGroup(this.type, this.group);
        this.#claimCursor = '0-0';
        this.#m.groupRecreated.add(1, this.#attrs);
        this.#log.warn('consumer group was missing (Redis lost it): created again, reading from the stream start');
      } catch (error) {
        if (this.#stop.signal.aborted) return;
        this.#report(error, 'recreating the consumer group failed; retrying in 1 s');
        await this.#pause(1_000, this.#stop.signal);
      } finally {
        this.#recreating = undefined;
      }
    };
    this.#recreating = run();
    return this.#recreating;
  }

  /**
   * Housekeeping, run every `maintenanceIntervalMs`: the retention trim (what every group acknowledged, and
   * what the bus's `retention` limits allow short of live groups' unconsumed entries) and removal of idle
   * consumers holding nothing. Returns what it did.
   */
  async maintain(): Promise<{ trimmed: number; removedConsumers: string[] }> {
    try {
      const { trimmed } = await applyRetention(this.#transport, this.type, this.#retention, this.#log, this.#m);
      const removedConsumers = await this.#transport.removeIdleConsumers(
        this.type,
        this.group,
        this.options.removeIdleConsumersAfterMs,
      );
      if (trimmed > 0 || removedConsumers.length > 0) this.#log.debug({ trimmed, removedConsumers }, 'maintenance');
      return { trimmed, removedConsumers };
    } catch (error) {
      this.#report(error, 'maintenance failed');
      return { trimmed: 0, removedConsumers: [] };
    }
  }

  async #claim(free: number): Promise<void> {
    try {
      const { entries, cursor } = await this.#transport.claimStale(
        this.type,
        this.group,
        this.name,
        this.options.idleTimeoutMs,
        free,
        this.#claimCursor,
      );
      this.#claimCursor = cursor;
      for (const entry of entries) {
        // Our own entry came back (its lease lapsed): still running here, so not started twice.
        if (this.#inFlight.has(entry.id)) continue;
        this.#leases.unpark(entry.id);
        this.#m.redelivered.add(1, this.#attrs);
        this.#dispatch(entry);
      }
    } catch (error) {
      this.#claimCursor = '0-0';
      this.#report(error, 'claiming stale entries failed');
    }
  }

  /** Starts handling `entry`: true when it was handled (and acknowledged) synchronously, taking no slot. */
  #dispatch(entry: StreamEntry): boolean {
    let outcome: Outcome | Promise<Outcome>;
    try {
      outcome = processEntry(this.#processor, entry);
    } catch (error) {
      outcome = { kind: 'failed', error };
    }
    // Handled without a promise (every handler returned a value): acknowledged now; it never took a slot.
    if (!isThenable(outcome) && (outcome.kind === 'handled' || outcome.kind === 'skipped')) {
      this.#acks.ack(entry.id, outcome.kind === 'handled');
      return true;
    }
    this.#leases.hold(entry.id);
    const settled = isThenable(outcome)
      ? outcome.then(
          (o) => this.#settle(entry, o),
          (error: unknown) => this.#settle(entry, { kind: 'failed', error }),
        )
      : this.#settle(entry, outcome);
    const done = settled.finally(() => {
      this.#inFlight.delete(entry.id);
      this.#wake();
    });
    this.#inFlight.set(entry.id, done);
    return false;
  }

  async #settle(entry: StreamEntry, outcome: Outcome): Promise<void> {
    switch (outcome.kind) {
      case 'handled':
      case 'skipped':
        this.#leases.drop(entry.id);
        this.#acks.ack(entry.id, outcome.kind === 'handled');
        return;
      case 'dead':
        return this.#deadLetter(entry, outcome.reason);
      case 'failed':
        return this.#failed(entry, outcome.error);
    }
  }

  async #failed(entry: StreamEntry, error: unknown): Promise<void> {
    const message = error instanceof Error ? error.message : String(error);
    const o = this.options;
    if (entry.deliveries >= o.maxDeliveries) {
      await this.#deadLetter(entry, `handler failed ${entry.deliveries} times: ${message}`);
      return;
    }
    const delayMs = backoffDelay(o.retryBackoff, entry.deliveries - 1);
    this.#log.warn(
      { err: error, entryId: entry.id, deliveries: entry.deliveries, delayMs },
      'handler failed; will redeliver',
    );
    // Closing: no parking, the longest delay expressible is one idle timeout.
    if (delayMs > o.idleTimeoutMs && !this.#stop.signal.aborted) this.#leases.park(entry.id, delayMs);
    else await this.#leases.retryLater(entry.id, delayMs);
  }

  async #deadLetter(entry: StreamEntry, reason: string): Promise<void> {
    try {
      const dlqId = await this.#transport.deadLetter(this.type, this.group, this.name, entry, reason);
      if (dlqId === undefined) {
        this.#log.warn({ entryId: entry.id, reason }, 'not dead-lettered: another consumer owns the entry now');
        return;
      }
      this.#m.deadLettered.add(1, this.#attrs);
      this.#log.error({ entryId: entry.id, reason, deliveries: entry.deliveries }, 'event dead-lettered');
      this.#deadLettered.emit({
        type: this.type,
        group: this.group,
        entryId: entry.id,
        reason,
        deliveries: entry.deliveries,
      });
    } catch (error) {
      // The entry stays pending: it will be claimed and dead-lettered again later. Nothing is lost.
      this.#report(error, 'dead-lettering failed');
    } finally {
      this.#leases.drop(entry.id);
    }
  }
}
