import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it, vi } from 'vitest';

// Each case type-checks a whole program with tsc: seconds of CPU, many more on a loaded 2-core machine.
vi.setConfig({ testTimeout: 90_000 });

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, 'fixtures/decorators');

/** Type-checks the fixture under `<mode>/tsconfig.json` and emits its JS with that mode's decorator transform. */
function compile(mode: 'standard' | 'legacy'): { diagnostics: string[]; outFile: string } {
  const configPath = join(fixtures, mode, 'tsconfig.json');
  const parsed = ts.getParsedCommandLineOfConfigFile(
    configPath,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  if (!parsed) throw new Error(`cannot read ${configPath}`);
  const program = ts.createProgram(parsed.fileNames, { ...parsed.options, sourceMap: false, declaration: false });
  const diagnostics = ts
    .getPreEmitDiagnostics(program)
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  const outDir = join(here, '.compiled', mode);
  mkdirSync(outDir, { recursive: true });
  const outFile = join(outDir, 'fixture.mjs');
  const source = program.getSourceFile(join(fixtures, 'fixture.ts'))!;
  program.emit(source, (name, text) => {
    if (name.endsWith('.js')) writeFileSync(outFile, text);
  });
  return { diagnostics, outFile };
}

describe.each(['standard', 'legacy'] as const)('createMethodDecorator compiled as %s decorators', (mode) => {
  it('type-checks and runs: wraps instance, async and static methods, keeps `this`, knows the class', async () => {
    const { diagnostics, outFile } = compile(mode);
    expect(diagnostics).toEqual([]);
    // The two modes really are different transforms.
    const js = readFileSync(outFile, 'utf8');
    expect(js).toContain(mode === 'standard' ? '__esDecorate(' : '__decorate(');
    expect(js).not.toContain(mode === 'standard' ? '__decorate(' : '__esDecorate(');
    const mod = (await import(/* @vite-ignore */ `${outFile}?t=${Date.now()}`)) as {
      run(): Promise<string[]>;
      calls: string[];
    };
    expect(await mod.run()).toEqual(['hi, ann', 'hi, bob']);
    expect(mod.calls).toEqual([
      `static:${mode}:Greeter.create:static`,
      `sync:${mode}:Greeter.greet`,
      `async:${mode}:Greeter.greetLater`,
      `sync:${mode}:Greeter.greet`,
    ]);
  });
});
