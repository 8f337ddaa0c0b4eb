import {
  type Attributes,
  type Context,
  context,
  createTraceState,
  type Meter,
  metrics,
  propagation,
  type Span,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';

export type { Attributes, Meter, Span, Tracer } from '@opentelemetry/api';

/**
 * Telemetry over `@opentelemetry/api` only: with no SDK registered everything is a no-op; the application
 * registers an SDK (or a test registers an in-memory meter provider) and Ballast's metrics appear.
 */
export function getMeter(packageName: string, version?: string): Meter {
  return metrics.getMeter(packageName, version);
}

export function getTracer(packageName: string, version?: string): Tracer {
  return trace.getTracer(packageName, version);
}

/**
 * `ballast_<package>_<what>`: the metric naming scheme for everything the source documents do not name.
 * @example metricName('lock', 'acquire_duration_ms') // 'ballast_lock_acquire_duration_ms'
 */
export function metricName(pkg: string, what: string): string {
  const clean = (s: string) => s.replace(/[^a-zA-Z0-9_]/g, '_').toLowerCase();
  return `ballast_${clean(pkg)}_${clean(what)}`;
}

/**
 * Runs `fn` in a new active span; records an exception and sets ERROR status when it throws; always ends
 * the span.
 */
export async function withSpan<T>(
  tracer: Tracer,
  name: string,
  fn: (span: Span) => Promise<T> | T,
  attributes?: Attributes,
): Promise<T> {
  return tracer.startActiveSpan(name, attributes ? { attributes } : {}, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** A carrier of W3C trace-context headers, as stored in a message, job or saga record. */
export type TraceCarrier = Record<string, string>;

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * Writes the span context of `ctx` (default: the active context) into `carrier` as W3C `traceparent`
 * (+ `tracestate`). Implemented here, not by a registered propagator, so messages carry trace context even
 * when the application registered no SDK propagator; any globally registered propagator runs too (baggage).
 */
export function injectTraceContext(carrier: TraceCarrier = {}, ctx: Context = context.active()): TraceCarrier {
  const sc = trace.getSpanContext(ctx);
  if (sc && trace.isSpanContextValid(sc)) {
    carrier.traceparent = `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
    const state = sc.traceState?.serialize();
    if (state) carrier.tracestate = state;
  }
  propagation.inject(ctx, carrier);
  return carrier;
}

/**
 * Reads W3C `traceparent`/`tracestate` from `carrier` into a context (default parent: the active context)
 * whose remote span context becomes the parent of spans started in it. Invalid headers are ignored.
 */
export function extractTraceContext(
  carrier: Readonly<Record<string, unknown>>,
  parent: Context = context.active(),
): Context {
  let ctx = propagation.extract(parent, carrier);
  const header = carrier.traceparent;
  if (typeof header !== 'string') return ctx;
  const m = TRACEPARENT.exec(header.trim().toLowerCase());
  if (!m) return ctx;
  const [, version, traceId, spanId, flags, rest] = m;
  // Version ff is forbidden; version 00 must not carry extra fields.
  if (version === 'ff' || (version === '00' && rest)) return ctx;
  const spanContext = { traceId: traceId!, spanId: spanId!, traceFlags: Number.parseInt(flags!, 16), isRemote: true };
  if (!trace.isSpanContextValid(spanContext)) return ctx;
  const state = carrier.tracestate;
  ctx = trace.setSpanContext(
    ctx,
    typeof state === 'string' && state ? { ...spanContext, traceState: createTraceState(state) } : spanContext,
  );
  return ctx;
}
