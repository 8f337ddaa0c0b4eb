import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileDecoratorFixture, type DecoratorMode } from '@ballast/testkit';
import ts from 'typescript';
import { describe, expect, it, vi } from 'vitest';

// Each case type-checks a whole program with tsc: seconds of CPU, many more on a loaded 2-core machine.
vi.setConfig({ testTimeout: 120_000 });

const here = dirname(fileURLToPath(import.meta.url));

describe.each(['standard', 'legacy'] as DecoratorMode[])('Ballast decorators stacked on each other (%s)', (mode) => {
  it('@Timeout({ passSignal }) above and below @WithLock, @Task, @OnEvent, @Step and the policy decorators', async () => {
    const { diagnostics, outFile } = compileDecoratorFixture(
      ts,
      join(here, 'fixtures/stacking'),
      mode,
      join(here, '.compiled'),
    );
    expect(diagnostics).toEqual([]);
    const mod = (await import(/* @vite-ignore */ `${outFile}?t=${Date.now()}`)) as { run(): Promise<unknown> };
    expect(await mod.run()).toEqual({
      identity: ['timedLock/2', 'timedTask/2', 'timedEvent/3', 'family/2'],
      lock: ['a', 'b'],
      lockTimeout: 'TIMEOUT',
      lateRuns: 0,
      tasks: ['taskTimed', 'timedTask'],
      subscriptions: 2,
      family: ['ok', 'fallback'],
      steps: ['reserve', 'charge'],
      sagaSeen: ['reserve:o1:signal', 'charge:o1:signal'],
      seen: [
        'eventTimed:e@x.io:signal',
        'family:false:signal',
        'family:true:signal',
        'family:true:signal',
        'lockTimed:b:signal',
        'taskTimed:t2:signal',
        'timedEvent:e@x.io:signal',
        'timedLock:a:signal',
        // Run by the worker from the job's data: the enqueuing call's signal was not stored as `{}`.
        'timedTask:t1:undefined',
      ],
    });
  });
});
