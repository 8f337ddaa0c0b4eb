import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileDecoratorFixture, type DecoratorMode } from '@ballast/testkit';
import ts from 'typescript';
import { describe, expect, it, vi } from 'vitest';

// Each case type-checks a whole program with tsc: seconds of CPU, many more on a loaded 2-core machine.
vi.setConfig({ testTimeout: 90_000 });

const here = dirname(fileURLToPath(import.meta.url));

describe.each(['standard', 'legacy'] as DecoratorMode[])('@OnEvent compiled as %s decorators', (mode) => {
  it('type-checks, and registerHandlers subscribes every decorated method (stacked, inherited, two of one type) bound to the instance', async () => {
    const { diagnostics, outFile } = compileDecoratorFixture(
      ts,
      join(here, 'fixtures/decorators'),
      mode,
      join(here, '.compiled'),
    );
    expect(diagnostics).toEqual([]);
    const mod = (await import(/* @vite-ignore */ `${outFile}?t=${Date.now()}`)) as { run(): Promise<string[]> };
    expect(await mod.run()).toEqual(['4', 'alert:hi', 'audit:info', 'u/user.login:b@x.io', 'u/user.registered:a@x.io']);
  });
});
