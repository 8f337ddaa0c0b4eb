import { BallastError, errorGuard, type OptionIssue } from '@ballast/core';

/** The transport was closed: no more reads, publishes or acknowledgements through it. */
export class TransportClosedError extends BallastError {
  static readonly code = 'TRANSPORT_CLOSED';
  constructor(
    readonly transport: string,
    operation?: string,
  ) {
    super(
      new.target.code,
      operation === undefined ? `${transport} is closed` : `${transport} is closed: ${operation} rejected`,
    );
  }
}
export const isTransportClosedError = errorGuard<TransportClosedError>(TransportClosedError.code);

/**
 * A consumer group does not exist on the event type's stream (Redis' `NOGROUP`): create it with
 * `ensureGroup` before reading, claiming or renewing through it.
 */
export class GroupNotFoundError extends BallastError {
  static readonly code = 'GROUP_NOT_FOUND';
  constructor(
    readonly eventType: string,
    readonly group: string,
    options: { cause?: unknown } = {},
  ) {
    super(new.target.code, `Consumer group "${group}" does not exist for event type "${eventType}"`, options);
  }
}
export const isGroupNotFoundError = errorGuard<GroupNotFoundError>(GroupNotFoundError.code);

/** An event's payload failed its schema: `issues` names each bad field (path, expected, received). */
export class EventValidationError extends BallastError {
  static readonly code = 'EVENT_INVALID';
  constructor(
    readonly eventType: string,
    readonly issues: readonly OptionIssue[],
    options: { cause?: unknown } = {},
  ) {
    const lines = issues.map((i) => `  - ${i.path}: expected ${i.expected}, received ${i.received}`);
    super(new.target.code, `Invalid "${eventType}" event:\n${lines.join('\n')}`, options);
  }
}
export const isEventValidationError = errorGuard<EventValidationError>(EventValidationError.code);

/** An event type that no schema was registered for was published or received. */
export class UnknownEventTypeError extends BallastError {
  static readonly code = 'UNKNOWN_EVENT_TYPE';
  constructor(readonly eventType: string) {
    super(new.target.code, `Unknown event type "${eventType}": register its schema first`);
  }
}
export const isUnknownEventTypeError = errorGuard<UnknownEventTypeError>(UnknownEventTypeError.code);

/** A stream id that is not `<ms>` or `<ms>-<seq>` (Redis: "Invalid stream ID specified"). */
export class InvalidStreamIdError extends BallastError {
  static readonly code = 'INVALID_STREAM_ID';
  constructor(readonly id: string) {
    super(new.target.code, `Invalid stream id "${id}": expected <ms>-<seq>`);
  }
}
export const isInvalidStreamIdError = errorGuard<InvalidStreamIdError>(InvalidStreamIdError.code);

/** An event's encoded `data` is larger than the bus's `maxPayloadBytes`: nothing of the call was written. */
export class PayloadTooLargeError extends BallastError {
  static readonly code = 'PAYLOAD_TOO_LARGE';
  constructor(
    readonly eventType: string,
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(
      new.target.code,
      `"${eventType}" event data is ${bytes} bytes encoded, over maxPayloadBytes ${limit}: not published`,
    );
  }
}
export const isPayloadTooLargeError = errorGuard<PayloadTooLargeError>(PayloadTooLargeError.code);

/**
 * Another delivery of the same event is running an `idempotent` handler right now (its in-progress marker is
 * held). Thrown so this delivery is retried after its backoff — by then the other run has finished (and the
 * retry is skipped) or failed (and the retry runs it).
 */
export class EventInProgressError extends BallastError {
  static readonly code = 'EVENT_IN_PROGRESS';
  constructor(
    readonly eventType: string,
    readonly eventId: string,
  ) {
    super(
      new.target.code,
      `"${eventType}" event ${eventId} is being handled by another delivery: retried after its backoff`,
    );
  }
}
export const isEventInProgressError = errorGuard<EventInProgressError>(EventInProgressError.code);

/**
 * `subscribe` for a type and group this bus already consumes, with different consumer options. Handlers of
 * one (type, group) on one bus share one consumer (every handler runs for every event), so its options —
 * concurrency, batch size, timeouts, retries — must agree. `options` names the ones that differ.
 */
export class SubscriptionConflictError extends BallastError {
  static readonly code = 'SUBSCRIPTION_CONFLICT';
  constructor(
    readonly eventType: string,
    readonly group: string,
    readonly options: readonly string[],
  ) {
    super(
      new.target.code,
      `"${eventType}" in group "${group}" already has a consumer on this bus with other ${options.join(', ')}: ` +
        'handlers of one type and group share one consumer, so pass the same options (or another group)',
    );
  }
}
export const isSubscriptionConflictError = errorGuard<SubscriptionConflictError>(SubscriptionConflictError.code);

/**
 * `publishIn` / `prepare` on a Redis Cluster: the caller's keys and the event's stream `events:{type}` are in
 * different slots, so no MULTI or script can write them together. Give the caller's keys the `{type}` hash tag.
 */
export class CrossSlotError extends BallastError {
  static readonly code = 'CROSS_SLOT';
  constructor(
    readonly eventType: string,
    readonly stream: string,
    readonly keys: readonly string[],
  ) {
    super(
      new.target.code,
      `Keys ${keys.map((k) => `"${k}"`).join(', ')} are not in the Cluster slot of "${stream}": a MULTI or script cannot write them atomically with event type "${eventType}"; give them the hash tag {${eventType}}`,
    );
  }
}
export const isCrossSlotError = errorGuard<CrossSlotError>(CrossSlotError.code);

/** `publishIn` / `prepare` need the Redis transport: the in-memory (or a custom) transport has no MULTI. */
export class OutboxUnsupportedError extends BallastError {
  static readonly code = 'OUTBOX_UNSUPPORTED';
  constructor(readonly transport: string) {
    super(new.target.code, `publishIn needs the Redis transport; this bus uses ${transport}`);
  }
}
export const isOutboxUnsupportedError = errorGuard<OutboxUnsupportedError>(OutboxUnsupportedError.code);

/**
 * A handler ran past the subscription's `handlerTimeoutMs`: its `signal` was aborted with this error and the
 * delivery counts as failed (retried with backoff, dead-lettered after `maxDeliveries`), so a handler that
 * never returns cannot hold its entry — and the stream's retention floor — forever.
 */
export class HandlerTimeoutError extends BallastError {
  static readonly code = 'HANDLER_TIMEOUT';
  constructor(
    readonly eventType: string,
    readonly entryId: string,
    readonly timeoutMs: number,
  ) {
    super(new.target.code, `Handler of "${eventType}" entry ${entryId} did not finish within ${timeoutMs} ms`);
  }
}
export const isHandlerTimeoutError = errorGuard<HandlerTimeoutError>(HandlerTimeoutError.code);
