#!/usr/bin/env node
// `npm test`: everything CI proves, from a fresh clone on a machine with only Node and npm.
//   pnpm (pinned) → install --frozen-lockfile → build → packaging check → Redis + RabbitMQ up → consumer check →
//   lint → typecheck → vitest (every package, one root config) → a plain "N passed, N failed" line.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolvePnpm } from './pnpm.mjs';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const started = Date.now();
const timings = [];

function step(name, fn) {
  const t0 = Date.now();
  console.log(`\n━━ ${name}`);
  const ok = fn();
  const secs = (Date.now() - t0) / 1000;
  timings.push(`${name}: ${secs.toFixed(1)} s`);
  if (!ok) {
    console.error(`\n✖ ${name} failed after ${secs.toFixed(1)} s`);
    process.exit(1);
  }
}

const { cmd, args: pre } = resolvePnpm();
const pnpm = (...args) => spawnSync(cmd, [...pre, ...args], { cwd: root, stdio: 'inherit' }).status === 0;
const node = (...args) => spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' }).status === 0;

step('install (pnpm --frozen-lockfile)', () => pnpm('install', '--frozen-lockfile'));
step('build', () => pnpm('-r', '--filter', './packages/*', 'run', 'build'));
step('packaging check (publint + attw)', () => node('scripts/check-packages.mjs'));
step('services (Redis, Redis Cluster, Redlock masters, RabbitMQ, Chromium)', () => node('scripts/ensure-services.mjs'));
// After the services: the consumer check's smoke run calls the real Redis.
step('consumer check (tarballs outside the workspace, npm + pnpm, lowest + highest peers, README blocks)', () =>
  node('scripts/check-consumer.mjs'),
);
step('lint (biome)', () => pnpm('exec', 'biome', 'check', '.'));
step('typecheck', () => pnpm('-r', 'run', 'typecheck'));

const report = join(root, '.vitest-report.json');
rmSync(report, { force: true });
const t0 = Date.now();
console.log('\n━━ tests (vitest)');
const vitest = spawnSync(
  cmd,
  [...pre, 'exec', 'vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`],
  { cwd: root, stdio: 'inherit' },
);
timings.push(`tests: ${((Date.now() - t0) / 1000).toFixed(1)} s`);

let summary = 'tests: no report written';
if (existsSync(report)) {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  const skipped = r.numPendingTests + r.numTodoTests;
  summary = `vitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ''}`;
}
console.log(`\n${timings.join(' · ')} · total ${((Date.now() - started) / 1000).toFixed(1)} s`);
console.log(summary);
process.exit(vitest.status ?? 1);
