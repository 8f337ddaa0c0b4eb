/**
 * Loads a file of src/legacy/ compiled with `experimentalDecorators` (legacy, NestJS-style decorators).
 * tsx runs the rest of the example with TS 5 standard decorators and one tsconfig, so this one file is
 * transpiled by TypeScript with tsconfig.legacy.json's decorator setting into `.compiled/` and imported
 * from there (its package imports resolve through this package's node_modules).
 */
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

const mtime = (path: string) => {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
};

export async function importLegacy<T>(name: string): Promise<T> {
  const sourcePath = join(here, 'legacy', `${name}.ts`);
  const outDir = join(here, '..', '.compiled');
  const out = join(outDir, `${name}.mjs`);
  // Compiled once per change of the source: every process of the demo would otherwise load TypeScript (~1 s CPU).
  if (mtime(out) < Math.max(mtime(sourcePath), mtime(fileURLToPath(import.meta.url)))) {
    await compile(sourcePath, outDir, out);
  }
  return (await import(pathToFileURL(out).href)) as T;
}

async function compile(sourcePath: string, outDir: string, out: string): Promise<void> {
  const { default: ts } = await import('typescript');
  const { outputText } = ts.transpileModule(readFileSync(sourcePath, 'utf8'), {
    fileName: sourcePath,
    compilerOptions: {
      experimentalDecorators: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      useDefineForClassFields: false,
    },
  });
  mkdirSync(outDir, { recursive: true });
  // Concurrent demo runs (tests) may compile at once: write aside, then rename (atomic).
  const tmp = `${out}.${process.pid}.tmp`;
  writeFileSync(tmp, outputText);
  renameSync(tmp, out);
}
