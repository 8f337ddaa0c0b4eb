/**
 * Clients of the HTTP client's integration tests, on the server of http-server.ts: each closed after its test,
 * plus a log capture and ways to wait for or collect retry events.
 */
import { createLogger } from '@ballast/core';
import { afterEach } from 'vitest';
import { createHttpClient, type HttpClient, type HttpClientOptions, type HttpRetryEvent } from '../src/http';
import { base } from './http-server';

// ── clients ─────────────────────────────────────────────────────────────────────────────────────────────

export const clients: HttpClient[] = [];

/** Closes every client a test made (and with it its breakers and timers) after that test. */
export function useHttpClients(): void {
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
}

export function logCapture() {
  const lines: { level: number; msg: string; service?: string }[] = [];
  const logger = createLogger({
    level: 'debug',
    destination: { write: (s: string) => void lines.push(JSON.parse(s)) },
  });
  return { lines, logger };
}

/** A client on the test server; retries back off 0 ms unless a test sets a backoff. */
export function client(options: Partial<HttpClientOptions> = {}): HttpClient {
  const c = createHttpClient({
    resolve: () => base,
    retry: { initialMs: 0, maxMs: 0 },
    logger: createLogger({ level: 'silent' }),
    ...options,
  });
  clients.push(c);
  return c;
}

export function nextRetry(c: HttpClient): Promise<HttpRetryEvent> {
  return new Promise((resolve) => {
    const off = c.onRetry((e) => {
      off();
      resolve(e);
    });
  });
}

export function retryEvents(c: HttpClient): HttpRetryEvent[] {
  const events: HttpRetryEvent[] = [];
  c.onRetry((e) => events.push(e));
  return events;
}

export const settle = <T>(p: Promise<T>): Promise<T | unknown> =>
  p.then(
    (v) => v,
    (e: unknown) => e,
  );
