import { describe, expect, it } from 'vitest';
import { isNonSerializableDataError, isPayloadTooLargeError, isUnknownPriorityError } from './errors';
import { prepareJob, priorityLabel, resolvePriority, serialize } from './job';
import type { StoredJobOptions } from './options';

describe('resolvePriority', () => {
  it('maps seed 002 levels onto 0..10 and accepts integers in range only', () => {
    expect([resolvePriority('high'), resolvePriority('medium'), resolvePriority('low')]).toEqual([10, 5, 1]);
    expect(resolvePriority(0)).toBe(0);
    expect(resolvePriority(10)).toBe(10);
    for (const bad of ['HIGH', 'urgent', -1, 11, 2.5, Number.NaN, null, 'toString']) {
      expect(() => resolvePriority(bad)).toThrow(expect.objectContaining({ code: 'UNKNOWN_PRIORITY' }));
    }
    expect(isUnknownPriorityError(new Error('x'))).toBe(false);
    expect([priorityLabel(10), priorityLabel(5), priorityLabel(1), priorityLabel(7)]).toEqual([
      'high',
      'medium',
      'low',
      '7',
    ]);
  });
});

describe('serialize', () => {
  it('names the path of the first value JSON would drop or mangle', () => {
    const cases: [unknown, string][] = [
      [{ a: { b: () => 1 } }, 'data.a.b'],
      [{ list: [1, Symbol('s')] }, 'data.list[1]'],
      [{ n: 1n }, 'data.n'],
      [{ x: Number.POSITIVE_INFINITY }, 'data.x'],
      [{ m: new Map() }, 'data.m'],
    ];
    for (const [value, path] of cases) {
      try {
        serialize(value);
        expect.unreachable();
      } catch (e) {
        expect(isNonSerializableDataError(e) && e.path).toBe(path);
      }
    }
  });

  it('accepts plain data, dates (toJSON), shared non-cyclic references and undefined fields', () => {
    const shared = { k: 1 };
    expect(serialize({ a: shared, b: shared, d: new Date(0), u: undefined })).toBe(
      '{"a":{"k":1},"b":{"k":1},"d":"1970-01-01T00:00:00.000Z"}',
    );
    expect(serialize(undefined)).toBe('null');
  });
});

describe('prepareJob', () => {
  it('merges defaults, turns a numeric backoff into a fixed delay, encodes retention', () => {
    const job = prepareJob(
      't',
      { a: 1 },
      { backoff: 250, removeOnComplete: true },
      { attempts: 7, priority: 'low' },
      1024,
    );
    expect(job).toMatchObject({ id: '', name: 't', data: '{"a":1}', priority: 1, delayMs: 0 });
    const opts = JSON.parse(job.opts) as StoredJobOptions;
    expect(opts).toEqual({
      attempts: 7,
      backoff: { initialMs: 250, maxMs: 250, factor: 1, jitter: 'none' },
      timeoutMs: 30_000,
      keepComplete: [0, -1],
      keepFail: [5_000, -1],
    });
  });

  it('refuses an oversized payload with the sizes', () => {
    try {
      prepareJob('t', 'x'.repeat(100), {}, undefined, 50);
      expect.unreachable();
    } catch (e) {
      expect(isPayloadTooLargeError(e) && [e.bytes, e.maxBytes]).toEqual([102, 50]);
    }
  });
});

describe('prepareJob without zod on the common options', () => {
  it('checks the options the hand-written path takes as the schema does, naming the field', () => {
    for (const bad of [{ attempts: 0 }, { delayMs: -1 }, { timeoutMs: 1.5 }, { jobId: '' }, { nope: 1 }]) {
      expect(() => prepareJob('j', 1, bad as never, undefined, 1_000)).toThrow(
        expect.objectContaining({ code: 'INVALID_OPTIONS' }),
      );
    }
    const ok = prepareJob(
      'j',
      1,
      { attempts: 2, delayMs: 5, timeoutMs: 0, jobId: 'x', priority: 'high' },
      undefined,
      1e3,
    );
    expect(ok).toMatchObject({ id: 'x', priority: 10, delayMs: 5 });
    expect(JSON.parse(ok.opts)).toMatchObject({ attempts: 2, timeoutMs: 0 });
  });
});
