import { createLogger } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { BrokenCircuitError, isBrokenCircuitError } from './errors';
import { FallbackPolicy, fallback } from './fallback';
import type { PolicyContext } from './policy';

/** A logger whose JSON lines are kept in `lines`. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (s: string) => lines.push(JSON.parse(s)) } });
  return { logger, lines };
}

describe('fallback', () => {
  it('answers with a value when fn fails', async () => {
    const { logger } = capturingLogger();
    const policy = fallback<string[]>([], { logger });
    expect(policy).toBeInstanceOf(FallbackPolicy);
    await expect(
      policy.execute<string[]>(() => {
        throw new Error('down');
      }),
    ).resolves.toEqual([]);
    await expect(policy.execute<string[]>(() => Promise.reject(new Error('down')))).resolves.toEqual([]);
  });

  it("passes fn's result through when it succeeds, without falling back", async () => {
    const { logger, lines } = capturingLogger();
    let computed = 0;
    const policy = fallback(
      () => {
        computed++;
        return 'fallback';
      },
      { logger },
    );
    const events: unknown[] = [];
    policy.onFallback((e) => events.push(e));
    await expect(policy.execute(async () => 'real')).resolves.toBe('real');
    await expect(policy.execute(() => 'sync real')).resolves.toBe('sync real');
    expect(computed).toBe(0);
    expect(events).toEqual([]);
    expect(lines).toEqual([]);
  });

  it('answers with what a function computes from the error and the context', async () => {
    const { logger } = capturingLogger();
    const seen: [unknown, PolicyContext][] = [];
    const policy = fallback(
      (error, ctx) => {
        seen.push([error, ctx]);
        return { cached: true, reason: (error as Error).message };
      },
      { logger },
    );
    const controller = new AbortController();
    const boom = new Error('boom');
    const value = await policy.execute(() => {
      throw boom;
    }, controller.signal);
    expect(value).toEqual({ cached: true, reason: 'boom' });
    expect(seen).toHaveLength(1);
    expect(seen[0]![0]).toBe(boom);
    expect(seen[0]![1].signal).toBe(controller.signal);
  });

  it('awaits an async fallback function, and rejects with its error if it fails', async () => {
    const { logger } = capturingLogger();
    await expect(
      fallback(async () => 'from cache', { logger }).execute(() => Promise.reject(new Error('x'))),
    ).resolves.toBe('from cache');
    const cacheDown = new Error('cache down');
    await expect(
      fallback(
        async () => {
          throw cacheDown;
        },
        { logger },
      ).execute(() => Promise.reject(new Error('x'))),
    ).rejects.toBe(cacheDown);
  });

  it('only falls back for errors `on` accepts and rethrows the others unchanged', async () => {
    const { logger } = capturingLogger();
    const policy = fallback('degraded', { on: isBrokenCircuitError, logger });
    const events: unknown[] = [];
    policy.onFallback((e) => events.push(e));
    await expect(
      policy.execute<string>(() => {
        throw new BrokenCircuitError('users', 'open');
      }),
    ).resolves.toBe('degraded');
    const validation = new Error('400 bad request');
    await expect(
      policy.execute<string>(() => {
        throw validation;
      }),
    ).rejects.toBe(validation);
    expect(events).toHaveLength(1);
  });

  it('emits onFallback with the name and the error, and logs the warning line', async () => {
    const { logger, lines } = capturingLogger();
    const policy = fallback('x', { name: 'users GET', logger });
    const events: { name: string; error: unknown }[] = [];
    const off = policy.onFallback((e) => events.push(e));
    const boom = new Error('boom');
    await policy.execute<string>(() => {
      throw boom;
    });
    expect(events).toEqual([{ name: 'users GET', error: boom }]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, msg: '⚠️ Circuit breaker FALLBACK triggered for users GET' });
    off();
    await policy.execute<string>(() => {
      throw boom;
    });
    expect(events).toHaveLength(1);
  });

  it('names itself "fallback" by default', async () => {
    const { logger } = capturingLogger();
    const policy = fallback(0, { logger });
    const names: string[] = [];
    policy.onFallback((e) => names.push(e.name));
    await policy.execute<number>(() => {
      throw new Error('x');
    });
    expect(names).toEqual(['fallback']);
  });

  it('falls back for non-Error throws too', async () => {
    const { logger } = capturingLogger();
    const policy = fallback((error) => `got ${String(error)}`, { logger });
    await expect(
      policy.execute<string>(() => {
        throw 'a string';
      }),
    ).resolves.toBe('got a string');
  });
});
