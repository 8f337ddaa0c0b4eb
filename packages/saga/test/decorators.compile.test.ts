import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileDecoratorFixture, type DecoratorMode } from '@ballast/testkit';
import ts from 'typescript';
import { describe, expect, it, vi } from 'vitest';
import { isInvalidSagaError, Saga, Step, sagaOf } from '../src/index';

// Each case type-checks a whole program with tsc: seconds of CPU, many more on a loaded 2-core machine.
vi.setConfig({ testTimeout: 90_000 });

const here = dirname(fileURLToPath(import.meta.url));

describe.each(['standard', 'legacy'] as DecoratorMode[])('@Saga / @Step compiled as %s decorators', (mode) => {
  it('type-checks; steps in declaration order, parallel groups, compensation by method name', async () => {
    const { diagnostics, outFile } = compileDecoratorFixture(
      ts,
      join(here, 'fixtures/decorators'),
      mode,
      join(here, '.compiled'),
    );
    expect(diagnostics).toEqual([]);
    const mod = (await import(/* @vite-ignore */ `${outFile}?t=${Date.now()}`)) as { run(): Promise<unknown> };
    expect(await mod.run()).toEqual({
      units: ['validateUser', 'saveHealthData', 'agents', 'trigger_ai_analysis'],
      result: { userId: 'u1', recordId: 'rec-u1', xiaoai: 'ok', laoke: 'ok' },
      calls: ['laoke', 'saveHealthData', 'trigger_ai_analysis', 'validateUser', 'xiaoai'],
      failed: 'trigger_ai_analysis',
      undone: ['undo:laoke', 'undo:rec-u2:saveHealthData', 'undo:xiaoai'],
    });
  }, 120_000); // a real tsc program per mode over core, circuit-breaker and saga sources: slow on a loaded machine
});

describe('sagaOf', () => {
  it('rejects a class without @Saga and a compensate naming a missing method', () => {
    class Plain {}
    expect(() => sagaOf(new Plain())).toThrow(/not decorated with @Saga/);
    // Applied by hand (legacy call shape): this test file itself is not compiled with decorators.
    class Broken {
      async a() {}
    }
    Step({ compensate: 'nope' })(Broken.prototype, 'a', Object.getOwnPropertyDescriptor(Broken.prototype, 'a')!);
    Saga('broken')(Broken);
    let error: unknown;
    try {
      sagaOf(new Broken());
    } catch (e) {
      error = e;
    }
    expect(isInvalidSagaError(error)).toBe(true);
    expect(String(error)).toMatch(/"nope" does not exist/);
  });

  it('@Saga(name, { version }) stores the version on the definition (default 1)', () => {
    class V2 {
      async a() {}
    }
    Step()(V2.prototype, 'a', Object.getOwnPropertyDescriptor(V2.prototype, 'a')!);
    Saga('versioned', { version: 2 })(V2);
    class V1 {
      async a() {}
    }
    Step()(V1.prototype, 'a', Object.getOwnPropertyDescriptor(V1.prototype, 'a')!);
    Saga('versioned')(V1);
    expect(sagaOf(new V2())).toMatchObject({ name: 'versioned', version: 2 });
    expect(sagaOf(new V1())).toMatchObject({ name: 'versioned', version: 1 });
  });
});
