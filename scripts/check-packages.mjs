#!/usr/bin/env node
// Packaging check for every published package: pack it as it would be published (pnpm pack rewrites
// workspace:* ranges), then publint (exports/files/fields) and are-the-types-wrong (types resolve for
// node10, node16 CJS + ESM and bundlers). Run after the build.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
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
  if (!run(['exec', 'attw', join(packDir, tarball), '--format', 'table-flipped'], root)) {
    failures.push(`${pkg.name}: are-the-types-wrong`);
  }
}
rmSync(packDir, { recursive: true, force: true });
if (failures.length > 0) {
  console.error(`\n[packages] problems:\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
console.log('\n[packages] every package packs cleanly, publint and attw find no problem');
