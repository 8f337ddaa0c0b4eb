#!/usr/bin/env node
// Runs the pnpm version pinned in package.json's `packageManager`, getting it first when absent.
// `corepack enable` fails its signature check on some machines, so we do not rely on corepack:
// 1. a `pnpm` on PATH with exactly the pinned version;
// 2. otherwise `npm install -g pnpm@<pinned>` (works as root or with a user-writable npm prefix);
// 3. otherwise `npx --yes pnpm@<pinned>` (npm's cache, no global install needed).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export function pinnedPnpmVersion() {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const match = /^pnpm@(\d+\.\d+\.\d+)$/.exec(pkg.packageManager ?? '');
  if (!match) throw new Error(`package.json packageManager must be "pnpm@x.y.z", got ${pkg.packageManager}`);
  return match[1];
}

function versionOf(cmd, args) {
  const r = spawnSync(cmd, [...args, '--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

let cached;
/** @returns {{ cmd: string, args: string[] }} how to invoke the pinned pnpm */
export function resolvePnpm() {
  if (cached) return cached;
  const version = pinnedPnpmVersion();
  if (versionOf('pnpm', []) === version) {
    cached = { cmd: 'pnpm', args: [] };
    return cached;
  }
  console.error(`[ballast] pnpm ${version} not on PATH; installing it with npm -g`);
  const install = spawnSync('npm', ['install', '-g', `pnpm@${version}`], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (install.status === 0 && versionOf('pnpm', []) === version) {
    cached = { cmd: 'pnpm', args: [] };
    return cached;
  }
  console.error(`[ballast] global install failed; falling back to npx pnpm@${version}`);
  const npxArgs = ['--yes', `pnpm@${version}`];
  if (versionOf('npx', npxArgs) !== version) {
    throw new Error(`could not obtain pnpm ${version}: run "npm install -g pnpm@${version}" and retry`);
  }
  cached = { cmd: 'npx', args: npxArgs };
  return cached;
}

/** Runs pnpm with args in the repo root; returns the exit status. */
export function runPnpm(args, options = {}) {
  const { cmd, args: pre } = resolvePnpm();
  const r = spawnSync(cmd, [...pre, ...args], { cwd: root, stdio: 'inherit', ...options });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exit(runPnpm(process.argv.slice(2)));
}
