/**
 * Loads a file of src/legacy/ compiled with `experimentalDecorators` (legacy, NestJS-style decorators).
 * tsx runs the rest of the example with TS 5 standard decorators and one tsconfig, so this one file is
 * transpiled by TypeScript with tsconfig.legacy.json's decorator setting into `.compiled/` and imported
 * from there (its package imports resolve through this package's node_modules).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

const here = dirname(fileURLToPath(import.meta.url));

export async function importLegacy<T>(name: string): Promise<T> {
  const sourcePath = join(here, 'legacy', `${name}.ts`);
  const { outputText } = ts.transpileModule(readFileSync(sourcePath, 'utf8'), {
    fileName: sourcePath,
    compilerOptions: {
      experimentalDecorators: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      useDefineForClassFields: false,
    },
  });
  const outDir = join(here, '..', '.compiled');
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, `${name}.mjs`);
  // Concurrent demo runs (tests) may compile at once: write aside, then rename (atomic).
  const tmp = `${out}.${process.pid}.tmp`;
  writeFileSync(tmp, outputText);
  renameSync(tmp, out);
  return (await import(pathToFileURL(out).href)) as T;
}
