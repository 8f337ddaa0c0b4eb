#!/usr/bin/env node
// Packaging check for every published package: pack it as it would be published (pnpm pack rewrites
// workspace:* ranges), then publint (exports/files/fields) and are-the-types-wrong (types resolve for
// node10, node16 CJS + ESM and bundlers). Run after the build.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { resolvePnpm } from './pnpm.mjs';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const packDir = join(root, '.pack');
const { cmd, args: pre } = resolvePnpm();
const run = (args, cwd) => spawnSync(cmd, [...pre, ...args], { cwd, stdio: 'inherit' }).status === 0;

rmSync(packDir, { recursive: true, force: true });
mkdirSync(packDir);
const failures = [];
for (const dir of readdirSync(join(root, 'packages'))) {
  const pkgDir = join(root, 'packages', dir);
  let pkg;
  try {
    pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  } catch {
    continue;
  }
  if (pkg.private) continue;
  console.log(`\n[packages] ${pkg.name}`);
  const before = new Set(readdirSync(packDir));
  if (!run(['pack', '--pack-destination', packDir], pkgDir)) {
    failures.push(`${pkg.name}: pack`);
    continue;
  }
  const tarball = readdirSync(packDir).find((f) => !before.has(f));
  if (!run(['exec', 'publint', 'run', pkgDir, '--strict'], root)) failures.push(`${pkg.name}: publint`);
  failures.push(...(await errorNames(pkg.name, pkgDir)));
  if (!run(['exec', 'attw', join(packDir, tarball), '--format', 'table-flipped'], root)) {
    failures.push(`${pkg.name}: are-the-types-wrong`);
  }
}
rmSync(packDir, { recursive: true, force: true });

/**
 * Built error classes must be named as they are exported, the class (`TimeoutError.name`) and its instances
 * (`err.name`), in the ESM and the CJS build. Bundling renames a class that refers to itself in its body
 * (`var TimeoutError = class _TimeoutError`): our classes read their code through `new.target` instead, and
 * BallastError also undoes the prefix on instances of other people's bundled subclasses. Classes whose
 * constructor refuses these probe arguments are skipped.
 */
async function errorNames(name, pkgDir) {
  const problems = [];
  const builds = [
    ['esm', join(pkgDir, 'dist/index.js'), (f) => import(pathToFileURL(f).href)],
    ['cjs', join(pkgDir, 'dist/index.cjs'), (f) => createRequire(import.meta.url)(f)],
  ];
  let checked = 0;
  for (const [format, file, load] of builds) {
    if (!existsSync(file)) continue;
    const mod = await load(file);
    for (const [key, value] of Object.entries(mod)) {
      if (typeof value !== 'function' || !(value.prototype instanceof Error)) continue;
      let instance;
      try {
        instance = Reflect.construct(value, ['probe', 'probe', 'probe']);
      } catch {
        continue;
      }
      checked++;
      if (instance.name !== key) problems.push(`${name}: ${format} ${key} instances are named "${instance.name}"`);
      if (value.name !== key)
        problems.push(`${name}: ${format} class ${key} is named "${value.name}" (self-reference?)`);
    }
  }
  console.log(`[packages] ${name}: ${checked} built error classes name themselves as exported`);
  return problems;
}

if (failures.length > 0) {
  console.error(`\n[packages] problems:\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
console.log('\n[packages] every package packs cleanly, publint and attw find no problem');
