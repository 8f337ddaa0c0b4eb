import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it, vi } from 'vitest';

// Each case type-checks a whole program with tsc: seconds of CPU, many more on a loaded 2-core machine.
vi.setConfig({ testTimeout: 90_000 });

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, 'fixtures/decorators');

/**
 * Type-checks `<mode>/fixture.ts` under `<mode>/tsconfig.json` (each mode its own fixture and config) and emits
 * its JS with that mode's decorator transform.
 */
function compile(mode: 'standard' | 'legacy'): { diagnostics: string[]; js: string; outFile: string } {
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
  const source = program.getSourceFile(join(fixtures, mode, 'fixture.ts'));
  if (!source) throw new Error(`${mode}/fixture.ts is not in the program of ${configPath}`);
  program.emit(source, (name, text) => {
    if (name.endsWith('.js')) writeFileSync(outFile, text);
  });
  return { diagnostics, js: readFileSync(outFile, 'utf8'), outFile };
}

async function load<M>(outFile: string): Promise<M> {
  return (await import(/* @vite-ignore */ `${outFile}?t=${Date.now()}`)) as M;
}

describe('createMethodDecorator compiled as TS 5 standard decorators (standard/fixture.ts)', () => {
  it('type-checks and runs: instance, async, static, private and stacked methods keep `this` and know the class', async () => {
    const { diagnostics, js, outFile } = compile('standard');
    expect(diagnostics).toEqual([]);
    expect(js).toContain('__esDecorate(');
    expect(js).not.toContain('__decorate(');
    const mod = await load<{ run(): Promise<string[]>; calls: string[] }>(outFile);
    expect(await mod.run()).toEqual(['hi, ann', 'hi, bob', 'PSST CY!']);
    expect(mod.calls).toEqual([
      'static:standard:Greeter.create:static',
      'sync:standard:Greeter.greet',
      'async:standard:Greeter.greetLater',
      'sync:standard:Greeter.greet',
      'stacked:standard:Greeter.shout',
      'private:standard:Greeter.#whisper',
    ]);
  });
});

describe('createMethodDecorator compiled with experimentalDecorators, NestJS-style (legacy/fixture.ts)', () => {
  it('type-checks and runs beside class, property and legacy method decorators', async () => {
    const { diagnostics, js, outFile } = compile('legacy');
    expect(diagnostics).toEqual([]);
    expect(js).toContain('__decorate(');
    expect(js).toContain('__metadata("design:paramtypes", [String])'); // emitDecoratorMetadata, as NestJS needs
    expect(js).toContain('__metadata("design:type", Object)'); // …for the injected property too
    expect(js).not.toContain('__esDecorate(');
    const mod = await load<{
      run(): Promise<string[]>;
      calls: string[];
      metadata: string[];
      identity: Record<string, unknown>;
    }>(outFile);
    // Reflect-metadata set below, between and above our wrappers all reaches the method on the prototype.
    expect(mod.identity).toEqual({
      path: 'x',
      roles: ['admin'],
      paramtypes: [String, Boolean],
      name: 'find',
      length: 2,
    });
    expect(mod.metadata).toEqual([
      'inject:PUNCTUATION@punctuation',
      'roles:greet=admin:function',
      'injectable:GreeterService',
    ]);
    expect(await mod.run()).toEqual(['hi, ann', 'hi, bob']);
    expect(mod.calls).toEqual([
      'static:legacy:GreeterService.create:static',
      'sync:legacy:GreeterService.greet',
      'async:legacy:GreeterService.greetLater',
      'sync:legacy:GreeterService.greet',
    ]);
  });
});
