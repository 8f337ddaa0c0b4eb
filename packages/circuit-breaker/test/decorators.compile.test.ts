import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileDecoratorFixture, type DecoratorMode } from '@ballast/testkit';
import ts from 'typescript';
import { beforeAll, describe, expect, it, vi } from 'vitest';

// Each case type-checks a whole program with tsc: seconds of CPU, many more on a loaded 2-core machine.
vi.setConfig({ testTimeout: 90_000 });

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, 'fixtures/decorators');

type Mode = DecoratorMode;

function compile(mode: Mode) {
  return compileDecoratorFixture(ts, fixtures, mode, join(here, '.compiled'));
}

/** What `run()` must observe in either mode. */
const expected = {
  retry: { value: 'https://api/users/1', attempts: 3 },
  retryExhausted: { error: 'Error(user 2 failed on try 3)', attempts: 3 },
  fallback: { id: 'guest', reason: 'profile 7 unavailable at https://api' },
  breaker: {
    calls: ['Error(users down)', 'Error(users down)', 'BrokenCircuitError(users)'],
    methodCalls: 2,
    healthyRejected: 'BrokenCircuitError(users)',
    healthyMethodCalls: 0,
    state: 'open',
    totals: { success: 0, failure: 2, timeout: 0, rejected: 2, shed: 0, cancelled: 0 },
  },
  timeout: {
    error: 'TimeoutError(operation timed out after 50 ms)',
    // passSignal: the method got the policy's signal, and the timeout aborted its work.
    signalAbortedBefore: false,
    signalAbortedAfter: true,
    reason: 'TimeoutError(operation timed out after 50 ms)',
    pendingTimers: 0,
  },
  bulkhead: { first: 'https://api/export', second: 'ShedError(bulkhead)', third: 'https://api/export' },
  stacked: {
    value: 'stale',
    calls: 2,
    state: 'open',
    totals: { success: 0, failure: 2, timeout: 0, rejected: 1, shed: 0, cancelled: 0 },
  },
  breakers: ['UserClient.search', 'users'],
};

const observed = new Map<Mode, unknown>();

interface FixtureModule {
  run(): Promise<Record<string, unknown>>;
  runInheritance(): Promise<{ answers: string[]; breakers: string[] }>;
}

describe.each(['standard', 'legacy'] as const)('circuit-breaker decorators compiled as %s decorators', (mode) => {
  let compiled: { diagnostics: string[]; outFile: string };
  let mod: FixtureModule;

  beforeAll(async () => {
    compiled = compile(mode);
    mod = (await import(/* @vite-ignore */ `${compiled.outFile}?t=${Date.now()}`)) as FixtureModule;
  });

  it('type-checks with zero diagnostics', () => {
    expect(compiled.diagnostics).toEqual([]);
  });

  it(`is emitted with the ${mode} decorator transform`, () => {
    // The two modes really are different transforms.
    const js = readFileSync(compiled.outFile, 'utf8');
    expect(js).toContain(mode === 'standard' ? '__esDecorate(' : '__decorate(');
    expect(js).not.toContain(mode === 'standard' ? '__decorate(' : '__esDecorate(');
    if (mode === 'legacy') expect(js).toContain('__metadata("design:paramtypes"');
  });

  it('retries, falls back, breaks, times out and sheds, with `this` kept', async () => {
    const observations = await mod.run();
    observed.set(mode, observations);
    expect(observations).toEqual(expected);
  });

  it('names a default breaker after the declaring class, even when a subclass is instantiated first', async () => {
    expect(await mod.runInheritance()).toEqual({
      answers: ['pong from AdminClient', 'pong from BaseClient'],
      breakers: ['BaseClient.ping'],
    });
  });
});

describe('both decorator modes', () => {
  it('observe exactly the same behaviour', () => {
    expect(observed.get('standard')).toBeDefined();
    expect(observed.get('legacy')).toEqual(observed.get('standard'));
  });
});
