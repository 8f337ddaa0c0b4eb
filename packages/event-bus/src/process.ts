import { type Clock, extractTraceContext, getTracer, isThenable } from '@ballast/core';
import { type Context, context, type Span, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { z } from 'zod';
import { decodeEnvelope, type EventEnvelope } from './envelope';
import { HandlerTimeoutError } from './errors';
import type { HandlerContext, HandlerRegistration } from './handler';
import type { EventKeys } from './keys';
import type { BusInstruments } from './metrics';
import { withSpan } from './tracing';
import type { StreamEntry } from './transport';

/** What became of one entry: acknowledge it (handled, or skipped), dead-letter it, or retry it. */
export type Outcome =
  | { kind: 'handled' }
  | { kind: 'skipped' }
  | { kind: 'dead'; reason: string }
  | { kind: 'failed'; error: unknown };

export interface EntryProcessor {
  type: string;
  group: string;
  schema: z.ZodType;
  maxDeliveries: number;
  /** Bound of one delivery's handlers (0: none). */
  handlerTimeoutMs: number;
  keys: EventKeys;
  clock: Clock;
  instruments: BusInstruments;
  signal: AbortSignal;
  /** The consumer's handlers now; every one runs for every event. */
  handlers(): readonly HandlerRegistration[];
  attributes: EntryAttributes;
}

/** Metric attributes of one (type, group), built once per consumer rather than per entry. */
export interface EntryAttributes {
  base: { type: string; group: string };
  success: { type: string; group: string; outcome: 'success' };
  failure: { type: string; group: string; outcome: 'failure' };
}

export function entryAttributes(type: string, group: string): EntryAttributes {
  const base = { type, group };
  return { base, success: { ...base, outcome: 'success' }, failure: { ...base, outcome: 'failure' } };
}

const tracer = getTracer('@ballast/event-bus');

/** The outcomes that carry nothing of their own: one object each, not one per entry. */
const HANDLED: Outcome = Object.freeze({ kind: 'handled' });
const SKIPPED: Outcome = Object.freeze({ kind: 'skipped' });

/**
 * Decodes, validates and handles one entry: every handler runs, one after the other in registration order
 * (seed 000's `_process_message`), inside a `<type> process` consumer span that continues the publisher's
 * trace. The entry counts as handled only when every handler succeeded; a throw or a `false` from any is a
 * failure (the others still ran; all run again on redelivery). An entry replayed from the DLQ for another
 * group is skipped; an undecodable or schema-invalid one, or one delivered more than `maxDeliveries` times,
 * is dead.
 */
export function processEntry(p: EntryProcessor, entry: StreamEntry): Outcome | Promise<Outcome> {
  const replayFor = entry.fields.replay_for_group;
  if (replayFor !== undefined && replayFor !== p.group) return SKIPPED;
  if (entry.deliveries > p.maxDeliveries) {
    return { kind: 'dead', reason: `delivered ${entry.deliveries} times (max ${p.maxDeliveries})` };
  }
  let event: EventEnvelope;
  try {
    event = decodeEnvelope(entry.fields);
  } catch (error) {
    return { kind: 'dead', reason: `undecodable: ${(error as Error).message}` };
  }
  const parsed = p.schema.safeParse(event.data);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    return { kind: 'dead', reason: `invalid data: ${issues}` };
  }
  event.data = parsed.data;
  const attributes = p.attributes;
  const attrs = attributes.base;
  p.instruments.delivered.add(1, attrs);
  const parent = extractTraceContext(event.metadata);
  const span = tracer.startSpan(
    `${p.type} process`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        'messaging.system': 'redis',
        'messaging.destination.name': p.type,
        'messaging.consumer.group.name': p.group,
        'messaging.message.id': event.event_id,
      },
    },
    parent,
  );
  // Handlers run with the process span active (baggage from the publisher kept): their spans are its children.
  const active = withSpan(parent, span);
  // With a handler timeout: the handlers' signal also aborts at the deadline, and a handler still running then
  // is given up (its delivery fails; whatever it does later is ignored).
  const timeoutMs = p.handlerTimeoutMs;
  const deadline = timeoutMs > 0 ? new AbortController() : undefined;
  let timer: ReturnType<Clock['setTimeout']> | undefined;
  let timedOut: Promise<never> | undefined;
  if (deadline) {
    const error = new HandlerTimeoutError(p.type, entry.id, timeoutMs);
    timedOut = new Promise<never>((_, reject) => {
      timer = p.clock.setTimeout(() => {
        deadline.abort(error);
        reject(error);
      }, timeoutMs);
    });
    timedOut.catch(() => {});
  }
  const ctx: HandlerContext = {
    signal: deadline ? AbortSignal.any([p.signal, deadline.signal]) : p.signal,
    deliveries: entry.deliveries,
    entryId: entry.id,
    group: p.group,
    keys: p.keys,
  };
  const run: HandlerRun = {
    p,
    event,
    ctx,
    active,
    span,
    deadline,
    timedOut,
    timer,
    started: p.clock.monotonic(),
    failures: undefined,
  };
  // Synchronous as long as the handlers are: an entry whose handlers return no promise is handled without a
  // promise or a microtask turn of its own; the first thenable (or a timeout to race) goes on asynchronously.
  const handlers = p.handlers();
  if (timedOut) return runHandlersAsync(run, handlers, 0, undefined);
  for (let i = 0; i < handlers.length; i++) {
    const result = callHandler(run, handlers, i);
    if (isThenable(result)) return runHandlersAsync(run, handlers, i, result);
    if (result !== SKIP) noteResult(run, result);
  }
  return finishEntry(run);
}

/** One entry's handler calls in progress. */
interface HandlerRun {
  p: EntryProcessor;
  event: EventEnvelope;
  ctx: HandlerContext;
  active: Context;
  span: Span;
  deadline: AbortController | undefined;
  timedOut: Promise<never> | undefined;
  timer: ReturnType<Clock['setTimeout']> | undefined;
  started: number;
  failures: unknown[] | undefined;
}

/** What `callHandler` returns for a handler it did not run. */
const SKIP = Symbol('skip');

/** Calls handler `i` of `handlers` (unless unsubscribed meanwhile, or past the deadline): its value or promise. */
function callHandler(run: HandlerRun, handlers: readonly HandlerRegistration[], i: number): unknown {
  const registration = handlers[i]!;
  // Unsubscribed while an earlier handler of this event ran: its close() has resolved, so it runs no more.
  if (i > 0 && !run.p.handlers().includes(registration)) return SKIP;
  if (run.deadline?.signal.aborted) {
    addFailure(run, run.deadline.signal.reason);
    return SKIP;
  }
  // run() never throws: a synchronous throw comes back as a rejected promise.
  return context.with(run.active, () => registration.run(run.event, run.ctx));
}

function addFailure(run: HandlerRun, error: unknown): void {
  if (run.failures === undefined) run.failures = [error];
  else run.failures.push(error);
}

function noteResult(run: HandlerRun, result: unknown): void {
  if (result === false) addFailure(run, new Error('handler returned false'));
}

/**
 * The handlers from `i` on, `pending` being handler i's promise (or none: call it). `handlers` is the list the
 * synchronous part indexed into: the consumer's list now may differ (a handler unsubscribed meanwhile), and
 * `i` of another list would skip or repeat one.
 */
async function runHandlersAsync(
  run: HandlerRun,
  handlers: readonly HandlerRegistration[],
  i: number,
  pending: unknown,
): Promise<Outcome> {
  for (; i < handlers.length; i++) {
    try {
      const r = pending !== undefined ? pending : callHandler(run, handlers, i);
      pending = undefined;
      if (r === SKIP) continue;
      noteResult(run, run.timedOut ? await Promise.race([r, run.timedOut]) : isThenable(r) ? await r : r);
    } catch (error) {
      addFailure(run, error);
    }
  }
  return finishEntry(run);
}

function finishEntry(run: HandlerRun): Outcome {
  const { p, span, failures } = run;
  if (run.timer !== undefined) p.clock.clearTimeout(run.timer);
  const attributes = p.attributes;
  p.instruments.duration.record(
    p.clock.monotonic() - run.started,
    failures === undefined ? attributes.success : attributes.failure,
  );
  if (failures === undefined) {
    span.end();
    return HANDLED;
  }
  const error =
    failures.length === 1
      ? failures[0]
      : new AggregateError(failures, failures.map((f) => (f instanceof Error ? f.message : String(f))).join('; '));
  span.recordException(error instanceof Error ? error : new Error(String(error)));
  span.setStatus({ code: SpanStatusCode.ERROR });
  span.end();
  p.instruments.failed.add(1, attributes.base);
  return { kind: 'failed', error };
}
