import { context, createTraceState, trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { extractTraceContext, injectTraceContext, metricName } from './telemetry';

const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
const spanId = '00f067aa0ba902b7';

describe('trace context', () => {
  it('injects the active span context as W3C traceparent/tracestate', () => {
    const ctx = trace.setSpanContext(context.active(), {
      traceId,
      spanId,
      traceFlags: 1,
      traceState: createTraceState('vendor=abc'),
    });
    const carrier = injectTraceContext({}, ctx);
    expect(carrier).toEqual({ traceparent: `00-${traceId}-${spanId}-01`, tracestate: 'vendor=abc' });
  });

  it('injects nothing when there is no valid span', () => {
    expect(injectTraceContext({})).toEqual({});
  });

  it('extract → inject round-trips through a plain object', () => {
    const carrier = { traceparent: `00-${traceId}-${spanId}-00`, tracestate: 'a=1,b=2' };
    const ctx = extractTraceContext(carrier);
    const sc = trace.getSpanContext(ctx)!;
    expect(sc).toMatchObject({ traceId, spanId, traceFlags: 0, isRemote: true });
    expect(sc.traceState?.get('b')).toBe('2');
    expect(injectTraceContext({}, ctx)).toEqual(carrier);
  });

  it('ignores malformed or invalid traceparent headers', () => {
    for (const bad of [
      'garbage',
      `00-${'0'.repeat(32)}-${spanId}-01`, // all-zero trace id
      `00-${traceId}-${'0'.repeat(16)}-01`, // all-zero span id
      `ff-${traceId}-${spanId}-01`, // forbidden version
      `00-${traceId}-${spanId}-01-extra`, // version 00 has no extra fields
    ]) {
      expect(trace.getSpanContext(extractTraceContext({ traceparent: bad }))).toBeUndefined();
    }
    expect(trace.getSpanContext(extractTraceContext({ traceparent: 42 }))).toBeUndefined();
  });
});

describe('metricName', () => {
  it('follows ballast_<package>_<what>', () => {
    expect(metricName('lock', 'acquire_duration_ms')).toBe('ballast_lock_acquire_duration_ms');
    expect(metricName('event-bus', 'lag')).toBe('ballast_event_bus_lag');
  });
});
