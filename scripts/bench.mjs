#!/usr/bin/env node
// `npm run bench -- <suite> [--json] [--time ms] [--iterations n] [--filter text]`
// Installs and builds when needed, makes sure Redis answers, then runs the suite: our packages beside the
// peers in one process against the same local Redis.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolvePnpm } from './pnpm.mjs';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const { cmd, args: pre } = resolvePnpm();
const pnpm = (...args) => {
  const r = spawnSync(cmd, [...pre, ...args], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

if (!existsSync(join(root, 'bench', 'node_modules'))) pnpm('install', '--frozen-lockfile');
const unbuilt = readdirSync(join(root, 'packages')).some(
  (d) => existsSync(join(root, 'packages', d, 'package.json')) && !existsSync(join(root, 'packages', d, 'dist')),
);
if (unbuilt || process.env.BALLAST_BENCH_BUILD === '1') pnpm('-r', '--filter', './packages/*', 'run', 'build');
if (spawnSync(process.execPath, [join(root, 'scripts/ensure-services.mjs'), 'redis'], { stdio: 'inherit' }).status) {
  process.exit(1);
}
pnpm('--filter', '@ballast/bench', 'exec', 'tsx', 'src/cli.ts', ...process.argv.slice(2));
