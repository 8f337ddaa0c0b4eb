import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Clock, type Logger, parseOptions, type RedisClient, systemClock, type TimerHandle } from '@ballast/core';
import { type HealthCheckerOptions, healthCheckerOptionsSchema } from './options';

export type HealthStatus = 'healthy' | 'degraded' | 'unhealthy';

/** What a check may return: a boolean, a status, `{ status, details }`, or nothing (= healthy). Throwing = unhealthy. */
export type CheckOutcome = boolean | HealthStatus | { status: HealthStatus; details?: unknown } | undefined;

/** A check as a function: resolves to its outcome (or nothing = healthy); throwing or rejecting = unhealthy. */
// biome-ignore lint/suspicious/noConfusingVoidType: a check written as `async () => { await db.ping(); }` returns void
export type HealthCheckFn = (signal: AbortSignal) => Promise<CheckOutcome | void> | CheckOutcome | void;

/** A check with options: what `redisCheck` / `httpCheck` return. Give it as is: `{ upstream: httpCheck(url) }`. */
export interface HealthCheck {
  run: HealthCheckFn;
  /** A non-critical check that fails makes the aggregate `degraded`, not `unhealthy`. Default true. */
  critical?: boolean;
}

export interface CheckResult {
  status: HealthStatus;
  durationMs: number;
  error?: string;
  details?: unknown;
}

export interface HealthReport {
  status: HealthStatus;
  checks: Record<string, CheckResult>;
  /** ISO time of the round. */
  checkedAt: string;
}

/** `PING` must answer `PONG` (seed 002's Redis checker). */
export function redisCheck(redis: Pick<RedisClient, 'ping'>, options: { critical?: boolean } = {}): HealthCheck {
  return {
    critical: options.critical,
    async run() {
      const pong = await redis.ping();
      if (pong !== 'PONG') throw new Error(`PING answered ${String(pong)}`);
      return { status: 'healthy', details: { ping: pong } };
    },
  };
}

/** GET `url` must answer `expectedStatus` (seed 002: 200; seed 004: 5 s timeout). */
export function httpCheck(
  url: string,
  options: { expectedStatus?: number; timeoutMs?: number; critical?: boolean } = {},
): HealthCheck {
  const expected = options.expectedStatus ?? 200;
  return {
    critical: options.critical,
    async run(signal) {
      const res = await fetch(url, {
        signal: AbortSignal.any([signal, AbortSignal.timeout(options.timeoutMs ?? 5_000)]),
      });
      await res.arrayBuffer();
      if (res.status !== expected) throw new Error(`GET ${url} answered ${res.status}, expected ${expected}`);
      return { status: 'healthy', details: { statusCode: res.status } };
    },
  };
}

export type StatusChangeListener = (next: HealthStatus, previous: HealthStatus, report: HealthReport) => void;

export interface HealthChecker {
  readonly status: HealthStatus;
  readonly report: HealthReport | undefined;
  /** Runs every check now (timeouts apply) and returns the aggregate. */
  check(): Promise<HealthReport>;
  /** Starts the periodic rounds (first one at once). */
  start(): void;
  stop(): void;
  /** Called when the aggregate status changes; returns unsubscribe. */
  onChange(listener: StatusChangeListener): () => void;
  /** `GET /health` handler for node:http: JSON report, 200 when healthy/degraded, else `unhealthyStatusCode`. */
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
}

const STATUSES: ReadonlySet<unknown> = new Set<HealthStatus>(['healthy', 'degraded', 'unhealthy']);

/** The outcome as `{ status, details? }`; anything else (an untyped check returning `'PONG'`, `42`) throws. */
const normalize = (outcome: unknown): { status: HealthStatus; details?: unknown } => {
  if (outcome === undefined || outcome === true) return { status: 'healthy' };
  if (outcome === false) return { status: 'unhealthy' };
  if (STATUSES.has(outcome)) return { status: outcome as HealthStatus };
  if (typeof outcome === 'object' && outcome !== null && STATUSES.has((outcome as { status?: unknown }).status)) {
    return outcome as { status: HealthStatus; details?: unknown };
  }
  const shown =
    typeof outcome === 'string'
      ? JSON.stringify(outcome)
      : typeof outcome === 'object'
        ? 'an object without a valid status'
        : String(outcome);
  throw new TypeError(
    `the check returned ${shown}: expected a boolean, 'healthy' | 'degraded' | 'unhealthy', { status, details? } or nothing`,
  );
};

/** Aggregate: any critical check unhealthy → unhealthy; any other failure or degraded → degraded. */
export function aggregate(results: Record<string, CheckResult>, critical: Record<string, boolean>): HealthStatus {
  let status: HealthStatus = 'healthy';
  for (const [name, r] of Object.entries(results)) {
    if (r.status === 'unhealthy' && critical[name] !== false) return 'unhealthy';
    if (r.status !== 'healthy') status = 'degraded';
  }
  return status;
}

/** Seed 002's health check manager: Redis / HTTP / custom checks, interval, aggregate, change callbacks. */
export function createHealthChecker(options: HealthCheckerOptions): HealthChecker {
  const o = parseOptions(healthCheckerOptionsSchema, options, 'createHealthChecker');
  const clock: Clock = o.clock ?? systemClock;
  const log: Logger | undefined = o.logger;
  const checks: Record<string, HealthCheck> = {};
  const critical: Record<string, boolean> = {};
  for (const [name, c] of Object.entries(o.checks)) {
    checks[name] = typeof c === 'function' ? { run: c } : c;
    critical[name] = checks[name].critical !== false;
  }
  const listeners = new Set<StatusChangeListener>();
  let status: HealthStatus = 'unhealthy';
  let report: HealthReport | undefined;
  let timer: TimerHandle | undefined;
  let inFlight: Promise<HealthReport> | undefined;

  const runOne = async (name: string, c: HealthCheck): Promise<CheckResult> => {
    const started = clock.monotonic();
    const abort = new AbortController();
    let timeout: TimerHandle | undefined;
    try {
      const outcome = await Promise.race([
        Promise.resolve().then(() => c.run(abort.signal)),
        new Promise<never>((_, reject) => {
          timeout = clock.setTimeout(() => reject(new Error(`timed out after ${o.timeoutMs} ms`)), o.timeoutMs);
        }),
      ]);
      const n = normalize(outcome);
      return {
        status: n.status,
        durationMs: clock.monotonic() - started,
        ...(n.details === undefined ? {} : { details: n.details }),
      };
    } catch (err) {
      log?.warn({ check: name, err }, 'health check failed');
      return {
        status: 'unhealthy',
        durationMs: clock.monotonic() - started,
        error: (err as Error)?.message ?? String(err),
      };
    } finally {
      if (timeout) clock.clearTimeout(timeout);
      abort.abort();
    }
  };

  const round = async (): Promise<HealthReport> => {
    const names = Object.keys(checks);
    const results = await Promise.all(names.map((n) => runOne(n, checks[n] as HealthCheck)));
    const byName: Record<string, CheckResult> = {};
    names.forEach((n, i) => {
      byName[n] = results[i] as CheckResult;
    });
    const next: HealthReport = {
      status: aggregate(byName, critical),
      checks: byName,
      checkedAt: new Date(clock.now()).toISOString(),
    };
    const previous = status;
    report = next;
    status = next.status;
    if (previous !== next.status) {
      for (const l of [...listeners]) {
        try {
          l(next.status, previous, next);
        } catch (err) {
          log?.error({ err }, 'health onChange listener threw');
        }
      }
    }
    return next;
  };

  const check = () => {
    inFlight ??= round().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };

  const checker: HealthChecker = {
    get status() {
      return status;
    },
    get report() {
      return report;
    },
    check,
    start() {
      if (timer) return;
      void check();
      timer = clock.setInterval(() => void check(), o.intervalMs);
      timer.unref();
    },
    stop() {
      if (timer) clock.clearInterval(timer);
      timer = undefined;
    },
    onChange(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    handler(_req, res) {
      const reply = (r: HealthReport) => {
        res.statusCode = r.status === 'unhealthy' ? o.unhealthyStatusCode : 200;
        res.setHeader('Content-Type', 'application/json');
        res.setHeader('Cache-Control', 'no-store');
        res.end(JSON.stringify(r));
      };
      if (report && timer) reply(report);
      else
        check().then(reply, (err: unknown) => {
          res.statusCode = o.unhealthyStatusCode;
          res.end(JSON.stringify({ status: 'unhealthy', error: String(err) }));
        });
    },
  };
  return checker;
}
