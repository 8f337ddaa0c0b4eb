import { describe, expect, it } from 'vitest';
import { defineSaga, parallel } from './definition';
import {
  isContextNotSerializableError,
  isDuplicateStepError,
  isInvalidSagaError,
  isNestedParallelError,
} from './errors';
import { assertJson } from './json';

const run = () => undefined;

describe('defineSaga', () => {
  it('rejects duplicate step names, also across a parallel group, naming the step', () => {
    expect(() =>
      defineSaga('s', {
        steps: [
          { name: 'a', run },
          { name: 'a', run },
        ],
      }),
    ).toThrow(/step name "a"/);
    let error: unknown;
    try {
      defineSaga('s', {
        steps: [
          { name: 'a', run },
          parallel([
            { name: 'b', run },
            { name: 'a', run },
          ]),
        ],
      });
    } catch (e) {
      error = e;
    }
    expect(isDuplicateStepError(error)).toBe(true);
    expect(error).toMatchObject({ saga: 's', step: 'a' });
  });

  it('rejects a parallel group inside a parallel group', () => {
    const inner = parallel(
      [
        { name: 'x', run },
        { name: 'y', run },
      ],
      { name: 'inner' },
    );
    expect(() =>
      defineSaga('s', { steps: [parallel([{ name: 'a', run }, inner as never], { name: 'outer' })] }),
    ).toThrow(expect.objectContaining({ code: 'NESTED_PARALLEL', group: 'outer' }));
    try {
      defineSaga('s', { steps: [parallel([inner as never])] });
    } catch (e) {
      expect(isNestedParallelError(e)).toBe(true);
    }
  });

  it('rejects empty sagas, bad names, non-function steps, bad policies and recovery values', () => {
    const bad: [string, () => unknown][] = [
      ['no steps', () => defineSaga('s', { steps: [] })],
      ['empty group', () => defineSaga('s', { steps: [parallel([])] })],
      ['bad saga name', () => defineSaga('a b', { steps: [{ name: 'a', run }] })],
      ['comma in step name', () => defineSaga('s', { steps: [{ name: 'a,b', run }] })],
      ['run missing', () => defineSaga('s', { steps: [{ name: 'a' } as never] })],
      ['compensate not a function', () => defineSaga('s', { steps: [{ name: 'a', run, compensate: 1 as never }] })],
      ['timeoutMs 0', () => defineSaga('s', { steps: [{ name: 'a', run, timeoutMs: 0 }] })],
      ['maxAttempts 0', () => defineSaga('s', { steps: [{ name: 'a', run, retry: { maxAttempts: 0 } }] })],
      ['recovery', () => defineSaga('s', { steps: [{ name: 'a', run }], recovery: 'later' as never })],
    ];
    for (const [what, fn] of bad) {
      let error: unknown;
      try {
        fn();
      } catch (e) {
        error = e;
      }
      expect(isInvalidSagaError(error), what).toBe(true);
    }
  });

  it('indexes every step, group branches included, and keeps units in order', () => {
    const saga = defineSaga('s', {
      steps: [
        { name: 'a', run },
        parallel(
          [
            { name: 'b', run },
            { name: 'c', run },
          ],
          { name: 'g' },
        ),
        { name: 'd', run },
      ],
    });
    expect([...saga.steps.keys()]).toEqual(['a', 'b', 'c', 'd']);
    expect(saga.units.map((u) => u.name)).toEqual(['a', 'g', 'd']);
    expect(saga.recovery).toBe('forward');
  });
});

describe('assertJson', () => {
  it.each([
    [{ a: () => 1 }, 'context.a'],
    [{ a: [1, Number.NaN] }, 'context.a[1]'],
    [{ d: new Date(0) }, 'context.d'],
    [{ m: new Map() }, 'context.m'],
    [{ b: 1n }, 'context.b'],
  ])('names the path of a value JSON cannot store: %o', (value, path) => {
    let error: unknown;
    try {
      assertJson('s', value);
    } catch (e) {
      error = e;
    }
    expect(isContextNotSerializableError(error)).toBe(true);
    expect(error).toMatchObject({ path });
  });

  it('rejects cycles and accepts plain JSON (undefined fields are dropped, harmless)', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => assertJson('s', cyclic)).toThrow(/circular/);
    expect(() => assertJson('s', { a: [1, 'x', null, { b: true }], u: undefined })).not.toThrow();
  });
});

describe('typed context', () => {
  interface Ctx {
    userId: string;
    count?: number;
    label?: string;
  }

  it('flows into steps and parallel branches; a result of the wrong type does not compile', () => {
    const saga = defineSaga<Ctx>('typed', {
      steps: [
        { name: 'a', run: (c) => ({ count: c.userId.length }) },
        parallel([
          { name: 'b', run: (c) => ({ label: `${c.userId}:${c.count ?? 0}` }) },
          { name: 'c', run: async () => undefined },
        ]),
        // @ts-expect-error count is a number
        { name: 'd', run: () => ({ count: 'many' }) },
      ],
    });
    expect(saga.steps.size).toBe(4);
  });
});
