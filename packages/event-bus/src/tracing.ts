import { type Context, INVALID_SPANID, INVALID_TRACEID, type Span, trace } from '@opentelemetry/api';

/**
 * `trace.setSpan(ctx, span)`, without the new context when it would change nothing a consumer sees: a span that
 * records nothing and carries the very span context `ctx`'s span already has, which records nothing either (what
 * the API's no-op tracer returns with no SDK registered) — the trace context injected into `metadata` is the same
 * either way. A recording span in `ctx` (an SDK the app did not register globally) is not handed on: code run
 * in the context (handlers) would annotate it instead of a no-op span.
 */
export function withSpan(ctx: Context, span: Span): Context {
  if (!span.isRecording()) {
    const sc = span.spanContext();
    const current = trace.getSpan(ctx);
    if (current === undefined) {
      // The no-op tracer's span without a parent: all-zero ids (compared as strings, no regex per event).
      if (sc.traceId === INVALID_TRACEID || sc.spanId === INVALID_SPANID) return ctx;
    } else if (current.spanContext() === sc && !current.isRecording()) {
      return ctx;
    }
  }
  return trace.setSpan(ctx, span);
}
