import {
  AbortedError,
  type BallastError,
  getMeter,
  InvalidOptionsError,
  isInvalidOptionsError,
  parseOptions,
} from '@ballast/core';
import { type Counter, metrics as otelMetrics } from '@opentelemetry/api';
import { z } from 'zod';
import { TimeoutError } from '../errors';

let retryCount: { provider: unknown; counter: Counter } | undefined;
/** `api_gateway_retry_count{service,attempt}`, bound to the meter provider registered now. */
export function retryCounter(): Counter {
  const provider = otelMetrics.getMeterProvider();
  if (retryCount?.provider !== provider) {
    const counter = getMeter('@ballast/circuit-breaker').createCounter('api_gateway_retry_count', {
      description: 'HTTP retries by service and attempt (1 = first retry)',
    });
    retryCount = { provider, counter };
  }
  return retryCount.counter;
}

/** `base` + `path` with exactly one slash between them. */
export function joinUrl(base: string, path: string): string {
  const b = base.endsWith('/') ? base.slice(0, -1) : base;
  return path.startsWith('/') ? b + path : `${b}/${path}`;
}

export function abortError(signal: AbortSignal): BallastError {
  // A breaker's own timeout aborts with its TimeoutError: keep it; otherwise the caller (or close()) aborted.
  if (signal.reason instanceof TimeoutError) return signal.reason;
  return new AbortedError(undefined, { cause: signal.reason });
}

export function checkTimeout(timeoutMs: number): number {
  return parseOptions(z.number().positive().finite(), timeoutMs, 'HttpClient.request timeoutMs');
}

/** Re-reports an option error of a nested object under its field (`breaker.resetTimeoutMs`). */
export function nested<T>(field: string, build: () => T): T {
  try {
    return build();
  } catch (error) {
    if (!isInvalidOptionsError(error)) throw error;
    throw new InvalidOptionsError(
      'createHttpClient',
      error.issues.map((i) => ({ ...i, path: i.path === '(root)' ? field : `${field}.${i.path}` })),
    );
  }
}
