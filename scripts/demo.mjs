#!/usr/bin/env node
// `npm run demo [-- --once]`: installs and builds when needed, starts local Redis (unless the demo runs its own)
// and RabbitMQ when they are installed (the demo falls back to in-memory backends, and says so, when they are not), then runs the
// health-platform example: every service, the scripted story, and the dashboard until Ctrl-C.
// `--once` runs the story and exits 0 only if every step behaved as expected.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolvePnpm } from './pnpm.mjs';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const { cmd, args: pre } = resolvePnpm();
const pnpm = (...args) => spawnSync(cmd, [...pre, ...args], { cwd: root, stdio: 'inherit' }).status ?? 1;
const must = (status) => {
  if (status !== 0) process.exit(status);
};

if (!existsSync(join(root, 'node_modules', '.pnpm'))) must(pnpm('install', '--frozen-lockfile'));
const unbuilt = readdirSync(join(root, 'packages')).some(
  (d) => existsSync(join(root, 'packages', d, 'package.json')) && !existsSync(join(root, 'packages', d, 'dist')),
);
if (unbuilt || process.env.BALLAST_DEMO_BUILD === '1') must(pnpm('-r', '--filter', './packages/*', 'run', 'build'));
// The demo starts a Redis of its own (a private redis-server it may restart) when redis-server is installed and
// REDIS_URL names none; only otherwise does it need the local one.
const ownRedis = !process.env.REDIS_URL && spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
for (const service of ownRedis ? ['rabbitmq'] : ['redis', 'rabbitmq']) {
  const r = spawnSync(process.execPath, [join(root, 'scripts/ensure-services.mjs'), service], { stdio: 'inherit' });
  if (r.status !== 0) console.log(`[demo] ${service} is not available: the demo uses its in-memory backend instead`);
}
process.exit(
  pnpm('--filter', '@ballast/example-health-platform', 'exec', 'tsx', 'src/demo.ts', ...process.argv.slice(2)),
);
