import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileDecoratorFixture, type DecoratorMode } from '@ballast/testkit';
import ts from 'typescript';
import { describe, expect, it, vi } from 'vitest';

// Each case type-checks a whole program with tsc: seconds of CPU, many more on a loaded 2-core machine.
vi.setConfig({ testTimeout: 90_000 });

const here = dirname(fileURLToPath(import.meta.url));

describe.each(['standard', 'legacy'] as DecoratorMode[])('@Task compiled as %s decorators', (mode) => {
  it('type-checks; a call enqueues with its priority; a worker runs the original method in priority order', async () => {
    const { diagnostics, outFile } = compileDecoratorFixture(
      ts,
      join(here, 'fixtures/decorators'),
      mode,
      join(here, '.compiled'),
    );
    expect(diagnostics).toEqual([]);
    const mod = (await import(/* @vite-ignore */ `${outFile}?t=${Date.now()}`)) as { run(): Promise<unknown> };
    expect(await mod.run()).toEqual({
      names: ['Scheduler.notAsync', 'Scheduler.scheduleMedicalResource', 'cleanup'],
      jobName: 'cleanup',
      waiting: { high: 2, low: 1 },
      done: ['u1:a', 'u2:b', 'cleanup'],
      result: 'u1@a',
      notATask: 'NOT_A_TASK',
    });
  });
});
