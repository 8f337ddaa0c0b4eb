import { type Context, INVALID_SPANID, INVALID_TRACEID, type Span, trace } from '@opentelemetry/api';

/**
 * `trace.setSpan(ctx, span)`, without the new context when it would change nothing a consumer sees: a span that
 * records nothing and carries the very span context `ctx` already has (what the API's no-op tracer returns with
 * no SDK registered) — the trace context injected into `metadata` is the same either way.
 */
export function withSpan(ctx: Context, span: Span): Context {
  if (!span.isRecording()) {
    const sc = span.spanContext();
    const current = trace.getSpanContext(ctx);
    if (sc === current) return ctx;
    // The no-op tracer's span without a parent: all-zero ids (compared as strings, no regex per event).
    if (current === undefined && (sc.traceId === INVALID_TRACEID || sc.spanId === INVALID_SPANID)) return ctx;
  }
  return trace.setSpan(ctx, span);
}
