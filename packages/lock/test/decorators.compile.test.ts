import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileDecoratorFixture, type DecoratorMode } from '@ballast/testkit';
import ts from 'typescript';
import { describe, expect, it, vi } from 'vitest';

// Each case type-checks a whole program with tsc: seconds of CPU, many more on a loaded 2-core machine.
vi.setConfig({ testTimeout: 90_000 });

const here = dirname(fileURLToPath(import.meta.url));

describe.each(['standard', 'legacy'] as DecoratorMode[])(
  '@WithLock and @WithPermit compiled as %s decorators',
  (mode) => {
    it('type-checks; calls on one key never overlap; a template naming a missing argument is a typed error', async () => {
      const { diagnostics, outFile } = compileDecoratorFixture(
        ts,
        join(here, 'fixtures/decorators'),
        mode,
        join(here, '.compiled'),
      );
      expect(diagnostics).toEqual([]);
      const mod = (await import(/* @vite-ignore */ `${outFile}?t=${Date.now()}`)) as { run(): Promise<unknown> };
      expect(await mod.run()).toEqual({
        results: [1, 2, 3],
        maxActive: 1,
        log: 3,
        rename: 'u1=ann',
        missing: 'INVALID_LOCK_KEY',
        // @WithPermit: at most limit / permits calls at once; the method keeps its name; bad permits are typed.
        permits: {
          results: [1, 2, 3, 4, 5],
          exportMax: 2,
          heavy: [10, 20, 30],
          heavyMax: 1,
          invalid: 'INVALID_PERMITS',
          name: 'export',
        },
      });
    });
  },
);
