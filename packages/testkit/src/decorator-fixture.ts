import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as TS from 'typescript';

export type DecoratorMode = 'standard' | 'legacy';

export interface CompiledFixture {
  /** Type errors under the mode's tsconfig, `file:line: message`; empty when it type-checks. */
  diagnostics: string[];
  /** The emitted module, ready for `import()`. */
  outFile: string;
}

/**
 * Reads a tsconfig.json (following `extends`) as the compiler would; throws with the compiler's message when it
 * cannot. For tests that run the real TypeScript compiler: type-level assertions, decorator fixtures.
 *
 * @param ts the `typescript` module (a peer)
 */
export function readTsconfig(ts: typeof TS, configPath: string): TS.ParsedCommandLine {
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
  return parsed;
}

/**
 * Type-checks `<dir>/fixture.ts` under `<dir>/<mode>/tsconfig.json` with the real TypeScript compiler and
 * emits it with that mode's decorator transform (TS 5 standard, or `experimentalDecorators` as NestJS uses),
 * to `<outDir>/<mode>/fixture.mjs`. Proves one decorator implementation in both compiler modes.
 *
 * @param ts the `typescript` module (a peer: pass `(await import('typescript')).default`)
 */
export function compileDecoratorFixture(
  ts: typeof TS,
  dir: string,
  mode: DecoratorMode,
  outDir: string,
): CompiledFixture {
  const configPath = join(dir, mode, 'tsconfig.json');
  const parsed = readTsconfig(ts, configPath);
  const program = ts.createProgram(parsed.fileNames, { ...parsed.options, sourceMap: false, declaration: false });
  const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file ? `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}: ` : '';
    return `${where}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
  const modeDir = join(outDir, mode);
  mkdirSync(modeDir, { recursive: true });
  const outFile = join(modeDir, 'fixture.mjs');
  const source = program.getSourceFile(join(dir, 'fixture.ts'));
  if (!source) throw new Error(`${join(dir, 'fixture.ts')} is not part of the program of ${configPath}`);
  const result = program.emit(source, (name, text) => {
    if (name.endsWith('.js')) writeFileSync(outFile, text);
  });
  if (result.emitSkipped) throw new Error(`emit skipped for ${mode}`);
  return { diagnostics, outFile };
}
