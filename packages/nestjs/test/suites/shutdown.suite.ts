import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createDiscovery } from '@ballast/discovery';
import { createEventBus } from '@ballast/event-bus';
import { lockKeys } from '@ballast/lock';
import { createQueue } from '@ballast/queue';
import { createRedisFixture, defaultRedisUrl, type RedisFixture } from '@ballast/testkit';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';

const here = fileURLToPath(new URL('.', import.meta.url));
const repo = join(here, '../../../..');

interface Line {
  msg: string;
  time: number;
  event?: string;
  step?: string;
  jobId?: string;
  registration?: string;
  nest?: string;
  at: number;
}

/**
 * Bundles the fixture app into `<nestDir>/.compiled` (so `@nestjs/*`, left external, resolve to the Nest of
 * that directory) with @ballast/* from source, as the packages' tests run.
 */
async function bundle(nestDir: string): Promise<string> {
  const out = join(nestDir, '.compiled', `shutdown-app-${randomUUID().slice(0, 8)}.cjs`);
  mkdirSync(join(nestDir, '.compiled'), { recursive: true });
  await build({
    entryPoints: [join(here, '../fixtures/shutdown-app.ts')],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'silent',
    loader: { '.lua': 'text' },
    external: ['@nestjs/*', 'reflect-metadata', 'rxjs', 'class-transformer', 'class-validator'],
    plugins: [
      {
        name: 'ballast-source',
        setup(b) {
          b.onResolve({ filter: /^@ballast\/[a-z-]+$/ }, (a) => ({
            path: join(repo, 'packages', a.path.slice('@ballast/'.length), 'src/index.ts'),
          }));
        },
      },
    ],
  });
  return out;
}

function run(file: string, env: Record<string, string>) {
  const child = spawn(process.execPath, [file], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Line[] = [];
  const waiters: { pred: (l: Line) => boolean; resolve: (l: Line) => void }[] = [];
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += String(d);
  });
  createInterface({ input: child.stdout! }).on('line', (text) => {
    let line: Line;
    try {
      line = { ...(JSON.parse(text) as Line), at: performance.now() };
    } catch {
      return;
    }
    lines.push(line);
    for (const w of [...waiters]) {
      if (w.pred(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: string | null; at: number }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, at: performance.now() })),
  );
  const waitFor = (pred: (l: Line) => boolean) =>
    new Promise<Line>((resolve, reject) => {
      const found = lines.find(pred);
      if (found) return resolve(found);
      waiters.push({ pred, resolve });
      void exited.then(() =>
        reject(new Error(`child exited first; stderr: ${stderr}\nlines: ${JSON.stringify(lines)}`)),
      );
    });
  return { child, lines, exited, waitFor, stderr: () => stderr };
}

/** SIGTERM to a real Nest app while a task is in flight: shutdown order, drain, release, deregister, exit code. */
export function describeShutdown(expectedMajor: number, nestDir: string): void {
  describe(`graceful shutdown of a Nest ${expectedMajor} app on SIGTERM`, () => {
    let fx: RedisFixture;
    let file: string;
    const children: ChildProcess[] = [];

    beforeAll(async () => {
      fx = await createRedisFixture({ name: `nestjs-shutdown-v${expectedMajor}` });
      file = await bundle(nestDir);
    });
    afterAll(async () => {
      for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
      rmSync(file, { force: true });
      await fx.close();
    });

    it('stops intake, lets the in-flight task finish, releases locks, deregisters, closes, and exits 0', async () => {
      const prefix = `${fx.prefix}:ok`;
      const app = run(file, {
        REDIS_URL: defaultRedisUrl(),
        PREFIX: prefix,
        TASK_MS: '1500',
        SHUTDOWN_TIMEOUT_MS: '10000',
      });
      children.push(app.child);
      const ready = await app.waitFor((l) => l.event === 'ready');
      expect(Number(ready.nest!.split('.')[0])).toBe(expectedMajor);
      await app.waitFor((l) => l.event === 'task started');
      await app.waitFor((l) => l.event === 'handler started');

      const discovery = createDiscovery({ redis: fx.redis, prefix });
      const id = ready.registration!;
      const registered = async () =>
        (await discovery.backend.query('shutdown-app')).instances.map((i) => i.id).includes(id);
      expect(await registered()).toBe(true);
      expect(await fx.redis.exists(lockKeys(prefix, 'leader').owners)).toBe(1);

      const sent = performance.now();
      app.child.kill('SIGTERM');
      const exit = await app.exited;

      expect(app.stderr()).toBe('');
      expect(exit).toMatchObject({ code: 0, signal: null });
      expect(exit.at - sent).toBeLessThan(10_000);
      // By the lines' own timestamps: a write to a full pipe can be retried after later lines (seen under load).
      const order = [...app.lines]
        .sort((a, b) => a.time - b.time)
        .filter((l) => l.event?.endsWith('finished') || l.msg === 'ballast shutdown step')
        .map((l) => l.event ?? l.step);
      // The task and the event handler, both in flight at SIGTERM, finish between intake stop and drain end.
      expect(order.slice(0, 1)).toEqual(['stop-intake']);
      expect(order.slice(1, 3).sort()).toEqual(['handler finished', 'task finished']);
      expect(order.slice(3)).toEqual(['drain', 'release-locks', 'deregister', 'close-connections']);

      const queue = createQueue('work', { backend: 'redis', redis: fx.redis, prefix });
      expect((await queue.getJob(ready.jobId!))?.state).toBe('completed');
      await queue.close();
      expect(await fx.redis.exists(lockKeys(prefix, 'leader').owners)).toBe(0);
      expect(await registered()).toBe(false);
      // The event handled during the drain was acknowledged: nothing pending, nothing undelivered.
      const bus = createEventBus({ redis: fx.redis, prefix, source: 'test', events: { 'order.placed': z.unknown() } });
      expect(await bus.groups('order.placed')).toMatchObject([{ name: 'shutdown-app', pending: 0, lag: 0 }]);
      await bus.close();
      await discovery.close();
    });

    it('a task that outlives shutdownTimeoutMs: the drain step times out and the process exits 1 within the bound', async () => {
      const prefix = `${fx.prefix}:stuck`;
      const app = run(file, {
        REDIS_URL: defaultRedisUrl(),
        PREFIX: prefix,
        TASK_MS: '60000',
        SHUTDOWN_TIMEOUT_MS: '800',
      });
      children.push(app.child);
      await app.waitFor((l) => l.event === 'task started');
      const sent = performance.now();
      app.child.kill('SIGTERM');
      const exit = await app.exited;
      expect(exit).toMatchObject({ code: 1, signal: null });
      expect(exit.at - sent).toBeLessThan(5_000);
      const timedOut = app.lines.find((l) => l.msg === 'ballast shutdown step timeout');
      expect(timedOut).toMatchObject({ step: 'drain', err: { code: 'SHUTDOWN_TIMEOUT' } });
      expect(app.lines.some((l) => l.event === 'task finished')).toBe(false);
    });
  });
}
