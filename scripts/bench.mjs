#!/usr/bin/env node
// `npm run bench -- <suite> [--json] [--time ms] [--iterations n] [--filter text]`
// Installs when needed, builds when any package's dist/ is missing or older than its src/, makes sure the
// servers the suite talks to answer (Redis always; RabbitMQ for `queue` and `all`), then runs the suite: our
// packages beside the peers in one process against the same local servers.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolvePnpm } from './pnpm.mjs';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');

/** Newest modification time (ms) of the files under `dir`, recursively; 0 when there are none. */
function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/** Oldest modification time (ms) of the files directly in `dir` (a build writes them all); 0 when none. */
function oldestMtime(dir) {
  let oldest = Number.POSITIVE_INFINITY;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isFile()) oldest = Math.min(oldest, statSync(join(dir, entry.name)).mtimeMs);
  }
  return Number.isFinite(oldest) ? oldest : 0;
}

/**
 * Packages whose build is missing or stale: no dist/, or a file under src/ (or package.json) changed after
 * dist/ was written. An mtime comparison: cheap enough to run before every bench.
 */
export function staleBuilds(packagesDir = join(root, 'packages')) {
  const stale = [];
  for (const name of readdirSync(packagesDir)) {
    const dir = join(packagesDir, name);
    if (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'src'))) continue;
    const dist = join(dir, 'dist');
    const builtAt = existsSync(dist) ? oldestMtime(dist) : 0;
    const changedAt = Math.max(newestMtime(join(dir, 'src')), statSync(join(dir, 'package.json')).mtimeMs);
    if (builtAt === 0 || changedAt > builtAt) stale.push(name);
  }
  return stale;
}

const VALUED_FLAGS = new Set(['--time', '--iterations', '--warmup', '--filter']);

/** The suite named on the command line: the first argument that is neither a flag nor a flag's value. */
export function suiteArg(args) {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a.startsWith('-')) {
      if (VALUED_FLAGS.has(a)) i++;
      continue;
    }
    return a;
  }
  return undefined;
}

/** The servers `scripts/ensure-services.mjs` must bring up for `suite`. */
export function servicesFor(suite) {
  return suite === 'queue' || suite === 'all' ? ['redis', 'rabbitmq'] : ['redis'];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { cmd, args: pre } = resolvePnpm();
  const pnpm = (...args) => {
    const r = spawnSync(cmd, [...pre, ...args], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) process.exit(r.status ?? 1);
  };
  const args = process.argv.slice(2);

  if (!existsSync(join(root, 'bench', 'node_modules'))) pnpm('install', '--frozen-lockfile');
  const stale = staleBuilds();
  if (stale.length > 0 || process.env.BALLAST_BENCH_BUILD === '1') {
    if (stale.length > 0) console.log(`[bench] build missing or older than src/: ${stale.join(', ')}; building`);
    pnpm('-r', '--filter', './packages/*', 'run', 'build');
  }
  const services = servicesFor(suiteArg(args));
  const ensure = spawnSync(process.execPath, [join(root, 'scripts/ensure-services.mjs'), ...services], {
    stdio: 'inherit',
  });
  if (ensure.status !== 0) process.exit(1);
  pnpm('--filter', '@ballast/bench', 'exec', 'tsx', 'src/cli.ts', ...args);
}
