import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  type Clock,
  childLogger,
  describeIssues,
  describeValue,
  getTracer,
  hashSlot,
  InvalidOptionsError,
  injectTraceContext,
  type Logger,
  parseOptions,
  type RedisClient,
  systemClock,
  type TimerHandle,
} from '@ballast/core';
import { context, type Span, SpanKind } from '@opentelemetry/api';
import type { z } from 'zod';
import { MemoryTransport } from './backends/memory';
import { RedisTransport } from './backends/redis';
import { Consumer } from './consumer';
import { registerHandlers } from './decorators';
import { type EventEnvelope, encodeEnvelope } from './envelope';
import {
  CrossSlotError,
  EventValidationError,
  OutboxUnsupportedError,
  PayloadTooLargeError,
  SubscriptionConflictError,
  TransportClosedError,
  UnknownEventTypeError,
} from './errors';
import type { EventHandler } from './handler';
import type { KeyLayout } from './keys';
import { defaultGroup } from './keys';
import { type BusInstruments, busInstruments } from './metrics';
import {
  busOptionsSchema,
  type ResolvedSubscribeOptions,
  type RetentionOptions,
  type SubscribeOptions,
  subscribeOptionsSchema,
} from './options';
import { OrderedConsumer, PARTITION_KEY_FIELD, partitionOf, partitionType } from './ordered';
import { applyRetention, retentionPolicy } from './retention';
import { Subscription } from './subscription';
import { withSpan } from './tracing';
import type { DeadLetter, GroupInfo, RetentionPolicy, StreamId, Transport } from './transport';

/** Event type → zod schema of its data. */
export type EventSchemas = Record<string, z.ZodType>;

export interface EventBusOptions<E extends EventSchemas> {
  transport?: Transport;
  redis?: RedisClient;
  prefix?: string;
  /**
   * Redis key names: `'cluster'` (default: `events:{type}`, Cluster-safe) or `'seed'` (seed 000's exact
   * `events:<type>`, for producers and consumers written against it; standalone Redis only).
   */
  keyLayout?: KeyLayout;
  source: string;
  events: E;
  maxLenAll?: number;
  /** Partition streams per type for `publish(…, { partitionKey })` (default 16); publishers and ordered subscribers agree. */
  partitions?: number;
  /** Bounded retention of each type's stream and DLQ (defaults in the README's retention table). */
  retention?: RetentionOptions;
  /** Largest encoded event `data` in bytes (default 1 MiB; 0 = no limit): bigger is `PayloadTooLargeError`. */
  maxPayloadBytes?: number;
  validateOnPublish?: boolean;
  /** Bound of each Redis command (default 5 s): past it, core's `BackendUnavailableError`. */
  commandTimeoutMs?: number;
  clock?: Clock;
  logger?: Logger;
  newId?: () => string;
}

export interface PublishOptions {
  /**
   * Per-key ordering: the event goes to the type's partition stream `hash(key) % partitions`, and `ordered`
   * subscribers handle the events of one key one at a time, in publish order (README "Per-key ordering").
   */
  partitionKey?: string;
  correlationId?: string;
  userId?: string;
  metadata?: Record<string, unknown>;
}

const STRING_FIELDS = ['partitionKey', 'correlationId', 'userId'] as const;

/**
 * A publish's options, checked by hand (a zod parse per publish would cost more than the publish's own work): a
 * `null`, a number as `partitionKey` or a string as `metadata` is an `InvalidOptionsError` naming the field, not a
 * `TypeError` from deep inside (or a key silently turned into another string).
 */
function checkPublishOptions<T extends PublishOptions>(where: string, value: T | undefined, path = 'options'): T {
  if (value === undefined) return {} as T;
  const issues: { path: string; expected: string; received: string; message: string }[] = [];
  const bad = (field: string, expected: string, v: unknown) =>
    issues.push({ path: field, expected, received: describeValue(v), message: `${field} must be ${expected}` });
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    bad(path, 'an object (or undefined)', value);
  } else {
    for (const k of STRING_FIELDS) {
      const v = value[k];
      if (v !== undefined && typeof v !== 'string') bad(`${path}.${k}`, 'a string', v);
    }
    const m = value.metadata;
    if (m !== undefined && (m === null || typeof m !== 'object' || Array.isArray(m))) {
      bad(`${path}.metadata`, 'an object of strings', m);
    }
  }
  if (issues.length > 0) throw new InvalidOptionsError(where, issues);
  return value;
}

/**
 * One event ready to be written by the caller's own MULTI or Lua script (`bus.prepare`): run
 * `publishEventLua`'s `ballast_publish` on these keys and args, inside the same script as the caller's writes.
 */
export interface PreparedEvent {
  /** The event's `event_id`. */
  eventId: string;
  /**
   * `[events:{type}, events:all]` on standalone Redis; `[events:{type}]` on a Cluster, where `events:all` is in
   * another slot and is not written (consumers read the type stream only).
   */
  keys: string[];
  /** `ballast_publish`'s arguments, from its `first` index: maxLenAll, the number of field strings, field, value, … */
  args: string[];
}

/** Where `publishIn`/`prepare` check slots on a Cluster: keys the caller writes in the same MULTI or script. */
export interface OutboxOptions extends PublishOptions {
  /** The caller's keys; on a Cluster each must hash to the slot of `events:{type}` (else `CrossSlotError`). */
  sameSlotAs?: readonly string[];
}

/**
 * Lua for a caller's own script (see `bus.prepare`): defines `ballast_publish(stream, all, argv, first)`, which
 * appends the prepared event whose args start at `argv[first]` to `stream` (and to `all` unless nil), and returns
 * the entry id in `stream` and the index of the first argument after the event's.
 *
 * @example
 * const ev = bus.prepare('order.placed', { orderId: 'o1' });
 * await redis.eval(`${publishEventLua}
 * redis.call('SET', KEYS[1], ARGV[1])
 * return ballast_publish(KEYS[2], KEYS[3], ARGV, 2)`, 1 + ev.keys.length, 'order:o1', ...ev.keys, 'placed', ...ev.args);
 */
export const publishEventLua = `local function ballast_publish(stream, all, argv, first)
  local last = first + 1 + tonumber(argv[first + 1])
  local id = redis.call('XADD', stream, '*', unpack(argv, first + 2, last))
  if all then
    if argv[first] ~= '0' then
      redis.call('XADD', all, 'MAXLEN', '~', argv[first], '*', unpack(argv, first + 2, last))
    else
      redis.call('XADD', all, '*', unpack(argv, first + 2, last))
    end
  end
  return id, last + 1
end
`;

/** What `publishIn` appends to: an ioredis `multi()` (or `pipeline()`) not yet executed. */
export interface OutboxTransaction {
  xadd(key: string, ...args: (string | number)[]): unknown;
}

const tracer = getTracer('@ballast/event-bus');

/**
 * Typed events on Redis Streams (or in memory). `publish` is type-checked against the schemas at compile
 * time and validated at run time; each subscription is a consumer in a consumer group with at-least-once
 * delivery, redelivery with backoff, lease renewal, takeover of crashed consumers, and a DLQ.
 */
export class EventBus<E extends EventSchemas> {
  readonly source: string;
  readonly transport: Transport;
  readonly #ownsTransport: boolean;
  readonly #events: E;
  readonly #maxLenAll: number;
  /** What every publish passes to the transport (one object, not one per call). */
  readonly #transportOptions: { maxLenAll: number };
  readonly #attrsByType = new Map<string, { type: string }>();
  #lastMs = Number.NaN;
  #lastIso = '';
  readonly #maxPayloadBytes: number;
  readonly #validate: boolean;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #newId: () => string;
  readonly #m: BusInstruments;
  readonly #retention: RetentionPolicy;
  #retentionTimer: TimerHandle | undefined;
  /** One consumer per (type, group), shared by every handler subscribed to it; starting ones too. */
  readonly #consumers = new Map<string, { consumer: Consumer | OrderedConsumer; started: Promise<void> }>();
  readonly #partitions: number;
  #closed = false;

  constructor(options: EventBusOptions<E>) {
    const o = parseOptions(busOptionsSchema, options, 'createEventBus');
    this.source = o.source;
    this.#events = options.events;
    this.#ownsTransport = o.transport === undefined;
    this.#log = childLogger(o.logger, { component: 'event-bus', source: o.source });
    this.transport =
      o.transport ??
      (o.redis
        ? new RedisTransport({
            redis: o.redis,
            prefix: o.prefix ?? '',
            keyLayout: o.keyLayout,
            commandTimeoutMs: o.commandTimeoutMs,
            logger: this.#log,
            ...(o.clock ? { clock: o.clock } : {}),
          })
        : new MemoryTransport(o.clock ? { clock: o.clock } : {}));
    this.#maxLenAll = o.maxLenAll;
    this.#transportOptions = { maxLenAll: o.maxLenAll };
    this.#maxPayloadBytes = o.maxPayloadBytes;
    this.#validate = o.validateOnPublish;
    this.#clock = o.clock ?? systemClock;
    this.#newId = o.newId ?? randomUUID;
    this.#m = busInstruments();
    this.#retention = retentionPolicy(o.retention);
    this.#partitions = o.partitions;
    if (o.retention.intervalMs > 0) {
      this.#retentionTimer = this.#clock.setInterval(() => void this.#retainAll(), o.retention.intervalMs);
      this.#retentionTimer.unref();
    }
  }

  /** The retention timer's pass: every type of the schemas, one after another; failures logged, never thrown. */
  async #retainAll(): Promise<void> {
    for (const type of Object.keys(this.#events)) {
      if (this.#closed) return;
      try {
        await applyRetention(this.transport, type, this.#retention, this.#log, this.#m);
      } catch (error) {
        this.#log.warn({ err: error, eventType: type }, 'retention trim failed; next pass retries');
      }
    }
  }

  #schema(type: string): z.ZodType {
    const schema = this.#events[type];
    if (!schema) throw new UnknownEventTypeError(type);
    return schema;
  }

  /**
   * Publishes one event to `events:{type}` and `events:all` (one round trip). Returns its `event_id`.
   * The active trace context is written into `metadata` so consumers continue the trace.
   */
  publish<K extends keyof E & string>(type: K, data: z.input<E[K]>, given?: PublishOptions): Promise<string> {
    // Not async, here and below: what a pending publish keeps alive until Redis answers is its span and id, not
    // the frames of the async functions it went through (tens of thousands of concurrent publishes are what a
    // busy service has in flight). Every error, also one thrown while validating, comes back as a rejection.
    let span: Span | undefined;
    try {
      const options = checkPublishOptions('publish', given);
      const payload = this.#payload(type, data);
      const stream = this.#streamOf(type, options.partitionKey);
      span = this.#startSpan(type, 1);
      const ctx = withSpan(context.active(), span);
      const { eventId, fields } = this.#encode(type, payload, options, this.#timestamp(), ctx);
      return this.#sent(
        this.transport.publish(stream, fields, this.#transportOptions),
        type,
        1,
        span,
        eventId,
        eventId,
      );
    } catch (error) {
      span?.end();
      return Promise.reject(error);
    }
  }

  /**
   * Publishes a burst of events of one type in one round trip (each still atomic across `events:{type}` and
   * `events:all`). Every item is validated first: one invalid item rejects the whole call, nothing written.
   * Returns the `event_id`s in order.
   */
  publishMany<K extends keyof E & string>(
    type: K,
    items: readonly (PublishOptions & { data: z.input<E[K]> })[],
  ): Promise<string[]> {
    let span: Span | undefined;
    try {
      if (!Array.isArray(items)) {
        throw new InvalidOptionsError('publishMany', [
          { path: 'items', expected: 'an array', received: describeValue(items), message: 'items must be an array' },
        ]);
      }
      for (const [i, item] of items.entries()) checkPublishOptions('publishMany', item, `items[${i}]`);
      const payloads = items.map((item) => this.#payload(type, item.data));
      const key = items[0]?.partitionKey;
      if (items.some((item) => item.partitionKey !== key)) {
        throw new EventValidationError(type, [
          {
            path: 'partitionKey',
            expected: 'one partitionKey (or none) for every item of a publishMany call',
            received: 'different keys',
            message: 'one publishMany call takes one partitionKey (or none) for all its items',
          },
        ]);
      }
      // Partitioned events go to their key's partition stream (one stream per call: a burst keeps its order).
      const stream = this.#streamOf(type, key);
      if (items.length === 0) {
        this.#schema(type); // nothing to validate, but an unknown type is still UnknownEventTypeError
        return Promise.resolve([]);
      }
      span = this.#startSpan(type, items.length);
      const ctx = withSpan(context.active(), span);
      const timestamp = this.#timestamp();
      const ids: string[] = [];
      const encoded = items.map((item, i) => {
        const { eventId, fields } = this.#encode(type, payloads[i], item, timestamp, ctx);
        ids.push(eventId);
        return fields;
      });
      const opts = this.#transportOptions;
      const sent =
        encoded.length === 1
          ? this.transport.publish(stream, encoded[0]!, opts)
          : this.transport.publishMany(stream, encoded, opts);
      return this.#sent(sent, type, items.length, span, ids, ids.length === 1 ? ids[0] : undefined);
    } catch (error) {
      span?.end();
      return Promise.reject(error);
    }
  }

  /** `data` as the schema of `type` parses it (when `validateOnPublish`), or `EventValidationError`. */
  #payload(type: string, data: unknown): unknown {
    const schema = this.#schema(type);
    if (!this.#validate) return data;
    const parsed = schema.safeParse(data);
    if (!parsed.success) throw new EventValidationError(type, describeIssues(parsed.error.issues, data));
    return parsed.data;
  }

  /** The stream an event of `type` goes to: the type's, or its partition key's (see `partitions`). */
  #streamOf(type: string, partitionKey: string | undefined): string {
    return partitionKey === undefined ? type : partitionType(type, partitionOf(partitionKey, this.#partitions));
  }

  #startSpan(type: string, count: number): Span {
    return tracer.startSpan(`${type} publish`, {
      kind: SpanKind.PRODUCER,
      attributes: {
        'messaging.system': 'redis',
        'messaging.destination.name': type,
        'messaging.batch.message_count': count,
      },
    });
  }

  /** Now as ISO 8601, built once per clock millisecond (a burst of publishes shares a handful of them). */
  #timestamp(): string {
    const now = this.#clock.now();
    if (now !== this.#lastMs) {
      // Text first: a now with none (RangeError) must not become the key of the previous now's text.
      this.#lastIso = new Date(now).toISOString();
      this.#lastMs = now;
    }
    return this.#lastIso;
  }

  /**
   * `result` once the transport wrote the events (counted, span ended), or the transport's error (span ended).
   * A span that records nothing is ended at once: it holds nothing to wait for.
   */
  #sent<T>(sent: Promise<unknown>, type: string, count: number, span: Span, result: T, messageId?: string): Promise<T> {
    const m = this.#m;
    const attrs = this.#typeAttributes(type);
    if (!span.isRecording()) {
      span.end();
      return sent.then(() => {
        m.published.add(count, attrs);
        return result;
      });
    }
    return sent.then(
      () => {
        m.published.add(count, attrs);
        if (messageId !== undefined) span.setAttribute('messaging.message.id', messageId);
        span.end();
        return result;
      },
      (error: unknown) => {
        span.end();
        throw error;
      },
    );
  }

  /** `{ type }` of the published counter, one object per type (not one per publish). */
  #typeAttributes(type: string): { type: string } {
    let attrs = this.#attrsByType.get(type);
    if (!attrs) {
      attrs = { type };
      this.#attrsByType.set(type, attrs);
    }
    return attrs;
  }

  /**
   * One envelope's stream fields. Checked for every item before any is written: one oversized item rejects the
   * whole call.
   */
  #encode(
    type: string,
    data: unknown,
    item: PublishOptions,
    timestamp: string,
    spanContext: ReturnType<typeof context.active>,
  ): { eventId: string; fields: Record<string, string> } {
    const envelope: EventEnvelope = {
      event_id: this.#newId(),
      event_type: type,
      source_service: this.source,
      timestamp,
      data,
      metadata: injectTraceContext({ ...(item.metadata as Record<string, string>) }, spanContext),
    };
    if (item.partitionKey !== undefined) envelope.metadata[PARTITION_KEY_FIELD] = item.partitionKey;
    if (item.correlationId) envelope.correlation_id = item.correlationId;
    if (item.userId) envelope.user_id = item.userId;
    const fields = encodeEnvelope(envelope);
    const limit = this.#maxPayloadBytes;
    if (limit > 0 && fields.data!.length * 3 > limit) {
      const bytes = Buffer.byteLength(fields.data!);
      if (bytes > limit) throw new PayloadTooLargeError(type, bytes, limit);
    }
    return { eventId: envelope.event_id, fields };
  }

  /**
   * The transactional outbox: validates and encodes one event like `publish`, for the caller's own Lua script
   * to write atomically with its own keys (see `publishEventLua`). Nothing is written here; the event exists
   * once the caller's script ran. On a Cluster every key of that script must share the slot of
   * `events:{type}` (hash tag `{type}`): pass them as `sameSlotAs` to get `CrossSlotError` now rather than
   * Redis' CROSSSLOT later; `events:all` is not written there (another slot).
   */
  prepare<K extends keyof E & string>(type: K, data: z.input<E[K]>, given?: OutboxOptions): PreparedEvent {
    const options = checkPublishOptions('prepare', given);
    const { stream, all, cluster } = this.#outboxTarget(type, options.sameSlotAs ?? []);
    const { eventId, fields } = this.#prepareFields(type, data, options);
    const flat: string[] = [];
    for (const k in fields) flat.push(k, fields[k]!);
    return {
      eventId,
      keys: cluster ? [stream] : [stream, all],
      args: [String(this.#maxLenAll), String(flat.length), ...flat],
    };
  }

  /**
   * The transactional outbox for a MULTI: appends this event's XADDs (validated and encoded like `publish`) to
   * `tx`, an ioredis `multi()` the caller also writes its own state in, and returns the `event_id`. The event is
   * published exactly when the caller's `exec()` commits (a WATCH that aborts it publishes nothing). On a Cluster
   * the MULTI may only hold keys of the slot of `events:{type}` (hash tag `{type}`): keys already queued in `tx`
   * and `sameSlotAs` are checked (`CrossSlotError`), and `events:all` (another slot) is not written.
   */
  publishIn<K extends keyof E & string>(
    tx: OutboxTransaction,
    type: K,
    data: z.input<E[K]>,
    given?: OutboxOptions,
  ): string {
    const options = checkPublishOptions('publishIn', given);
    const queued = ((tx as { _queue?: { getKeys?(): (string | Buffer)[] }[] })._queue ?? []).flatMap(
      (command) => command.getKeys?.().map(String) ?? [],
    );
    const { stream, all, cluster } = this.#outboxTarget(type, [...queued, ...(options.sameSlotAs ?? [])]);
    const { eventId, fields } = this.#prepareFields(type, data, options);
    const flat: string[] = [];
    for (const k in fields) flat.push(k, fields[k]!);
    tx.xadd(stream, '*', ...flat);
    if (!cluster) {
      if (this.#maxLenAll > 0) tx.xadd(all, 'MAXLEN', '~', this.#maxLenAll, '*', ...flat);
      else tx.xadd(all, '*', ...flat);
    }
    return eventId;
  }

  #outboxTarget(type: string, sameSlotAs: readonly string[]): { stream: string; all: string; cluster: boolean } {
    this.#schema(type);
    if (!(this.transport instanceof RedisTransport)) {
      throw new OutboxUnsupportedError(this.transport.constructor.name);
    }
    const stream = this.transport.keys.stream(type);
    const cluster = this.transport.cluster;
    if (cluster) {
      const slot = hashSlot(stream);
      const off = sameSlotAs.filter((key) => hashSlot(key) !== slot);
      if (off.length > 0) throw new CrossSlotError(type, stream, off);
    }
    return { stream, all: this.transport.keys.all(), cluster };
  }

  #prepareFields(
    type: string,
    data: unknown,
    options: PublishOptions,
  ): { eventId: string; fields: Record<string, string> } {
    let payload = data;
    if (this.#validate) {
      const parsed = this.#schema(type).safeParse(data);
      if (!parsed.success) throw new EventValidationError(type, describeIssues(parsed.error.issues, data));
      payload = parsed.data;
    }
    const now = new Date(this.#clock.now()).toISOString();
    return this.#encode(type, payload, options, now, context.active());
  }

  /**
   * Handles every event of `type` in a consumer group (default `group:{type}`). Resolves once the group
   * exists and the consumer runs; `close()` the subscription (or the bus) to drain it.
   *
   * Handlers subscribed to the same type and group on this bus share one consumer: each event runs every one
   * of them, in subscription order, and is acknowledged once all succeeded. A failure of any (a throw, or
   * `false`) redelivers the event to all of them, so handlers must be idempotent (see `idempotent`). Their
   * options must agree (`SubscriptionConflictError` otherwise); use another group for independent delivery.
   */
  async subscribe<K extends keyof E & string>(
    type: K,
    handler: EventHandler<z.output<E[K]>, K>,
    options: SubscribeOptions = {},
  ): Promise<Subscription> {
    if (this.#closed) throw new TransportClosedError('event bus', 'subscribe');
    const schema = this.#schema(type);
    const o = parseOptions(subscribeOptionsSchema, options, 'subscribe');
    const group = o.group ?? defaultGroup(type);
    const key = `${type}\u0000${group}`;
    let entry = this.#consumers.get(key);
    if (entry) {
      const differing = conflicts(entry.consumer.options, o);
      if (differing.length > 0) throw new SubscriptionConflictError(type, group, differing);
    } else {
      const common = {
        type,
        group,
        name: o.consumer ?? `consumer:${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
        schema,
        options: o,
        transport: this.transport,
        clock: this.#clock,
        logger: this.#log,
        instruments: this.#m,
        retention: this.#retention,
        onClose: () => {
          if (this.#consumers.get(key)?.consumer === consumer) this.#consumers.delete(key);
        },
      };
      // Ordered subscriptions own partition streams (per-key order); the others share the type's stream.
      const consumer: Consumer | OrderedConsumer = o.ordered
        ? new OrderedConsumer({ ...common, partitions: this.#partitions })
        : new Consumer(common);
      entry = { consumer, started: consumer.start() };
      this.#consumers.set(key, entry);
    }
    // Registered before the consumer's first read completes: no entry is handled without this handler.
    const sub = new Subscription(entry.consumer, handler as EventHandler<unknown>);
    try {
      await entry.started;
    } catch (error) {
      if (this.#consumers.get(key) === entry) this.#consumers.delete(key);
      throw error;
    }
    return sub;
  }

  /** Subscribes every `@OnEvent` method of `instance`. */
  registerHandlers(instance: object): Promise<Subscription[]> {
    return registerHandlers(this, instance);
  }

  /**
   * Dead letters of a type: `list` (oldest first, paged), `inspect` one by id, `replay` (delivered again to
   * the group that dead-lettered it, and only to it; removed from the DLQ atomically), `delete`.
   */
  readonly dlq = {
    list: (type: keyof E & string, options?: { count?: number; after?: StreamId }): Promise<DeadLetter[]> =>
      this.transport.listDeadLetters(type, options),
    inspect: (type: keyof E & string, id: StreamId): Promise<DeadLetter | undefined> =>
      this.transport.getDeadLetter(type, id),
    replay: (type: keyof E & string, id: StreamId): Promise<StreamId | undefined> =>
      this.transport.replayDeadLetter(type, id),
    delete: (type: keyof E & string, id: StreamId): Promise<boolean> => this.transport.deleteDeadLetter(type, id),
  };

  /**
   * Retention trim of `events:{type}` and its DLQ now: removes what every group acknowledged, and what the
   * `retention` limits allow without passing a live group's unconsumed entries. Returns the entries removed.
   */
  async trim(type: keyof E & string): Promise<number> {
    return (await applyRetention(this.transport, type, this.#retention, this.#log, this.#m)).trimmed;
  }

  /** Consumer groups of a type with pending counts and lag (seed 000 monitoring). */
  groups(type: keyof E & string): Promise<GroupInfo[]> {
    return this.transport.groups(type);
  }

  /** Drains every subscription (in-flight handlers finish and are acked), then closes a transport it made. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#retentionTimer) this.#clock.clearInterval(this.#retentionTimer);
    const consumers = [...this.#consumers.values()];
    this.#consumers.clear();
    await Promise.all(
      consumers.map(async ({ consumer, started }) => {
        await started.catch(() => {}); // a consumer that failed to start has nothing to drain
        await consumer.close();
      }),
    );
    if (this.#ownsTransport) await this.transport.close();
    this.#log.debug('event bus closed');
  }
}

/** Names of the consumer options `next` sets differently from the running consumer's `current`. */
function conflicts(current: ResolvedSubscribeOptions, next: ResolvedSubscribeOptions): string[] {
  const differing: string[] = [];
  for (const name of Object.keys(subscribeOptionsSchema.shape) as (keyof ResolvedSubscribeOptions)[]) {
    if (name === 'group') continue;
    // An unnamed subscriber joins the running consumer, whatever its name.
    if (name === 'consumer' && next.consumer === undefined) continue;
    if (JSON.stringify(current[name]) !== JSON.stringify(next[name])) differing.push(name);
  }
  return differing;
}

export function createEventBus<E extends EventSchemas>(options: EventBusOptions<E>): EventBus<E> {
  return new EventBus(options);
}
