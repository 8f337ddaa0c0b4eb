/**
 * `createHealthChecker({ checks })` is strictly typed: a check is a function returning a check outcome, or a
 * `HealthCheck` (`{ run, critical? }`) such as `httpCheck(url)` returns. The mistake this guards against —
 * `{ run: httpCheck(url) }`, a HealthCheck where its `run` function belongs — compiled and failed at every
 * round. The `@ts-expect-error` lines are checked by `tsc -p packages/discovery` (its tsconfig includes test/).
 */
import { createLogger, isInvalidOptionsError } from '@ballast/core';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { createHealthChecker, type HealthCheck, type HealthCheckFn, httpCheck } from '../src/health';
import type { HealthCheckerOptions } from '../src/options';

const quiet = createLogger({ level: 'silent' });

function optionsError(f: () => unknown): { issues: { path: string }[]; message: string } {
  try {
    f();
  } catch (e) {
    expect(isInvalidOptionsError(e)).toBe(true);
    return e as never;
  }
  throw new Error('expected InvalidOptionsError');
}

describe('health checker checks: strictly typed', () => {
  it('accepts functions returning an outcome and HealthCheck objects', async () => {
    const h = createHealthChecker({
      logger: quiet,
      checks: {
        plain: () => true,
        status: () => 'degraded' as const,
        detailed: async () => ({ status: 'healthy' as const, details: { pool: 3 } }),
        voidAsync: async () => {},
        object: { run: () => 'healthy', critical: false },
        helper: httpCheck('http://127.0.0.1:1/health', { timeoutMs: 10 }),
      },
    });
    const report = await h.check();
    expect(report.checks.plain?.status).toBe('healthy');
    expect(report.checks.status?.status).toBe('degraded');
    expect(report.checks.object?.status).toBe('healthy');
    expectTypeOf<HealthCheckerOptions['checks'][string]>().toExtend<HealthCheck | HealthCheckFn>();
    expectTypeOf(httpCheck('http://x')).toExtend<HealthCheckerOptions['checks'][string]>();
  });

  it('{ run: httpCheck(url) } is a compile error and an InvalidOptionsError naming checks.<name>.run', () => {
    const err = optionsError(() =>
      createHealthChecker({
        // @ts-expect-error run must be a function; httpCheck(url) is the whole check: `upstream: httpCheck(url)`
        checks: { upstream: { run: httpCheck('http://127.0.0.1:1/health') } },
      }),
    );
    expect(err.issues.map((i) => i.path)).toEqual(['checks.upstream.run']);
    expect(err.message).toMatch(/checks\.upstream\.run/);
  });

  it('other wrong shapes are compile errors and runtime errors too', () => {
    // @ts-expect-error a typo in `critical` (an unknown key) is refused
    const typo = optionsError(() => createHealthChecker({ checks: { db: { run: () => true, critcal: false } } }));
    expect(typo.message).toMatch(/checks\.db/);
    // @ts-expect-error `critical` is a boolean
    const critical = optionsError(() => createHealthChecker({ checks: { db: { run: () => true, critical: 'no' } } }));
    expect(critical.issues.map((i) => i.path)).toEqual(['checks.db.critical']);
    // @ts-expect-error a check returns an outcome (boolean, status, { status, details } or nothing), not 'PONG'
    createHealthChecker({ checks: { redis: () => 'PONG' } });
    // @ts-expect-error nor a number (a promise of one neither)
    createHealthChecker({ checks: { count: async () => 42 } });
  });

  it('an outcome of the wrong shape at run time is an unhealthy result that says what came back', async () => {
    const h = createHealthChecker({ logger: quiet, checks: { redis: (() => 'PONG') as never } });
    const report = await h.check();
    expect(report.checks.redis).toMatchObject({ status: 'unhealthy' });
    expect(report.checks.redis?.error).toMatch(/"PONG"/);
  });
});
