import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createLogger, InvalidOptionsError } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './breaker';
import { type BreakerOptions, mergeBreakerOptions, type ResolvedBreakerOptions } from './options';
import { BreakerRegistry } from './registry';

function warnings() {
  const lines: { level: number; msg: string; ignored?: string[] }[] = [];
  const logger = createLogger({ level: 'warn', destination: { write: (s: string) => void lines.push(JSON.parse(s)) } });
  return { lines, logger };
}

function make(options: Record<string, unknown>) {
  const log = warnings();
  const breaker = new CircuitBreaker({ logger: log.logger, metrics: false, ...options } as BreakerOptions);
  void breaker.close();
  return { breaker, lines: log.lines };
}

const filter = (e: unknown) => (e as Error).message === 'not found';

/** Each opossum 9 option: a value, and what it becomes here (`ignored`: accepted, named in the one warning). */
const OPOSSUM_9: [name: string, value: unknown, expected: Partial<ResolvedBreakerOptions> | 'ignored'][] = [
  ['timeout', 5_000, { timeoutMs: 5_000 }],
  ['resetTimeout', 1_000, { resetTimeoutMs: 1_000 }],
  ['rollingCountTimeout', 2_000, { rollingCountTimeoutMs: 2_000 }],
  ['rollingCountBuckets', 5, { rollingCountBuckets: 5 }],
  ['name', 'users', { name: 'users' }],
  ['group', 'gateway', { group: 'gateway' }],
  ['capacity', 3, { capacity: 3 }],
  ['errorThresholdPercentage', 30, { errorThresholdPercentage: 30 }],
  ['volumeThreshold', 4, { volumeThreshold: 4 }],
  ['enabled', false, { enabled: false }],
  ['allowWarmUp', true, { warmUpMs: 10_000 }],
  ['errorFilter', filter, {}],
  ['maxFailures', 5, 'ignored'],
  ['rollingPercentilesEnabled', false, 'ignored'],
  ['enableSnapshots', true, { enableSnapshots: true }],
  ['rotateBucketController', {}, 'ignored'],
  ['status', {}, 'ignored'],
  ['stats', { failures: 1 }, 'ignored'],
  ['state', { closed: true }, 'ignored'],
  ['cache', true, { keyed: expect.objectContaining({ cache: true }) }],
  ['cacheTTL', 1_000, { keyed: undefined }],
  ['cacheSize', 10, { keyed: undefined }],
  ['cacheGetKey', () => 'k', { keyed: undefined }],
  ['cacheTransport', { get() {}, set() {}, flush() {} }, { keyed: undefined }],
  ['coalesce', true, { keyed: expect.objectContaining({ coalesce: true, coalesceTTL: 10_000 }) }],
  ['coalesceTTL', 1_000, { keyed: undefined }],
  ['coalesceSize', 10, { keyed: undefined }],
  ['coalesceResetOn', ['error'], { keyed: undefined }],
  ['abortController', new AbortController(), 'ignored'],
  ['autoRenewAbortController', true, 'ignored'],
];

describe("opossum 9's option names", () => {
  it('the table covers every option opossum 9 reads (from its source)', () => {
    const require = createRequire(import.meta.url);
    const source = readFileSync(require.resolve('opossum/lib/circuit.js'), 'utf8');
    const read = new Set([...source.matchAll(/options\.([a-zA-Z]+)/g)].map((m) => m[1]!));
    read.delete('coalesceCache'); // opossum's own, set from `coalesce`
    expect([...read].sort()).toEqual(OPOSSUM_9.map(([name]) => name).sort());
  });

  it.each(OPOSSUM_9)('accepts %s', (name, value, expected) => {
    const { breaker, lines } = make({ [name]: value });
    if (expected === 'ignored') {
      expect(breaker.options.ignoredOpossumOptions).toEqual([name]);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ level: 40, ignored: [name] });
      expect(lines[0]!.msg).toBe(`opossum options with no Ballast equivalent are ignored: ${name}`);
    } else {
      expect(breaker.options).toMatchObject(expected);
      expect(breaker.options.ignoredOpossumOptions).toEqual([]);
      expect(lines).toEqual([]);
    }
  });

  it("errorFilter is isFailure's inverse; group is the metrics' service; enabled: false disables", () => {
    const { breaker } = make({ errorFilter: filter, group: 'gateway', enabled: false });
    expect(breaker.options.isFailure?.(new Error('not found'))).toBe(false);
    expect(breaker.options.isFailure?.(new Error('down'))).toBe(true);
    expect(breaker.group).toBe('gateway');
    expect(breaker.enabled).toBe(false);
  });

  it("takes seed 003's option object as it is, with no warning", () => {
    const seed003 = {
      timeout: 10_000,
      errorThresholdPercentage: 50,
      resetTimeout: 30_000,
      rollingCountTimeout: 10_000,
      rollingCountBuckets: 10,
      volumeThreshold: 10,
      capacity: 100,
    };
    const { breaker, lines } = make(seed003);
    expect(breaker.options).toMatchObject({ timeoutMs: 10_000, resetTimeoutMs: 30_000, rollingCountTimeoutMs: 10_000 });
    expect(lines).toEqual([]);
  });

  it('names every ignored option in one warning', () => {
    const { lines } = make({ abortController: new AbortController(), cache: true, rollingPercentilesEnabled: false });
    expect(lines).toHaveLength(1);
    expect(lines[0]!.msg).toBe(
      'opossum options with no Ballast equivalent are ignored: rollingPercentilesEnabled, abortController',
    );
  });

  it('still rejects typos of our own names and keys neither library knows', () => {
    for (const [key, value] of [
      ['timeoutMS', 1_000],
      ['volumeTreshold', 5],
      ['resetTimeoutMillis', 1],
      ['halfOpenProbes', 2],
    ] as const) {
      try {
        make({ [key]: value });
        expect.unreachable(key);
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidOptionsError);
        expect((error as InvalidOptionsError).issues).toEqual([
          expect.objectContaining({ path: key, expected: 'no such option' }),
        ]);
      }
    }
  });

  it('validates opossum-named options under their own name', () => {
    expect(() => make({ resetTimeout: -1 })).toThrow(/resetTimeout: expected number > 0/);
    expect(() => make({ allowWarmUp: 'yes' })).toThrow(/allowWarmUp: expected boolean/);
    expect(() => make({ errorFilter: 1 })).toThrow(/errorFilter/);
  });

  it('one spelling replaces the other when options are merged (registry defaults, HTTP client defaults)', () => {
    expect(mergeBreakerOptions({ timeoutMs: 5_000, isFailure: () => true }, { timeout: 1_000 })).toEqual({
      isFailure: expect.any(Function),
      timeout: 1_000,
    });
    const registry = new BreakerRegistry({ timeoutMs: 5_000, metrics: false });
    expect(registry.get('users', { timeout: 1_000 }).options.timeoutMs).toBe(1_000);
    expect(registry.get('devices').options.timeoutMs).toBe(5_000);
    void registry.close();
  });
});
