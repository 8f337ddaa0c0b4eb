#!/usr/bin/env node
// `npm run chaos [-- --long] [-- <scenario>]`: the reliability scenarios (reliability/), short mode by default.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolvePnpm } from './pnpm.mjs';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const { cmd, args: pre } = resolvePnpm();
const pnpm = (...args) => spawnSync(cmd, [...pre, ...args], { cwd: root, stdio: 'inherit' }).status ?? 1;
if (!existsSync(join(root, 'node_modules', '.pnpm')) && pnpm('install', '--frozen-lockfile') !== 0) process.exit(1);
if (spawnSync(process.execPath, [join(root, 'scripts/ensure-services.mjs')], { stdio: 'inherit' }).status) {
  process.exit(1);
}
process.exit(pnpm('--filter', '@ballast/reliability', 'run', 'chaos', ...process.argv.slice(2)));
