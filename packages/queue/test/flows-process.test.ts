/**
 * Flows survive a killed worker process (issue 24 §6): a child process takes a flow's child and is SIGKILLed while
 * the child is active. The lease lapses, this process's worker recovers the child as stalled and runs it, and the
 * parent (another queue: another Cluster slot were this a Cluster) runs exactly once with the child's result.
 * The child process imports the built package (`@ballast/queue` dist).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { afterEach, expect, it } from 'vitest';
import { createQueue, createWorker, type Queue } from '../src/index';

const fx = useRedisFixture({ name: 'queue-flows-process' });
const REDIS_URL = process.env.BALLAST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const fixture = fileURLToPath(new URL('./fixtures/flow-child-worker.mjs', import.meta.url));
const open: Queue[] = [];
afterEach(async () => {
  for (const q of open.splice(0)) await q.close();
});

it('a worker process killed while it holds a flow child loses nothing: the child is recovered, the parent runs once', async () => {
  const mk = (name: string) => {
    const q = createQueue(`${name}-${process.pid}`, {
      backend: 'redis',
      redis: fx.current.redis,
      prefix: fx.current.prefix,
    });
    open.push(q);
    return q;
  };
  const parents = mk('flow-parents');
  const children = mk('flow-children');
  const tree = await parents.addFlow({
    name: 'parent',
    data: null,
    children: [{ name: 'child', data: 21, queue: children }],
  });
  const child = tree.children[0]!;
  const proc = spawn(process.execPath, [fixture, REDIS_URL, fx.current.prefix, children.name, '300'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const [line] = (await once(proc.stdout!, 'data')) as [Buffer];
    expect(line.toString().trim()).toBe(`started ${child.id}`);
    expect((await children.getJob(child.id))?.state).toBe('active');
    proc.kill('SIGKILL');
    await once(proc, 'exit');
  } finally {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  }
  let childRuns = 0;
  let parentRuns = 0;
  const done = new Promise<unknown>((resolve) => parents.onCompleted((e) => e.job.id === tree.id && resolve(e.result)));
  const stalled = new Promise<void>((r) => children.onStalled((e) => e.jobId === child.id && r()));
  createWorker(
    children,
    (job) => {
      childRuns++;
      return (job.data as number) * 2;
    },
    { stalledIntervalMs: 100, onError: () => {} },
  );
  createWorker(
    parents,
    async (job) => {
      parentRuns++;
      return job.childrenResults();
    },
    { onError: () => {} },
  );
  await stalled;
  expect(await done).toEqual({ [`${children.name}:${child.id}`]: 42 });
  expect([childRuns, parentRuns]).toEqual([1, 1]);
  expect(await children.getJob(child.id)).toMatchObject({ state: 'completed', stalledCount: 1 });
  expect(await parents.getJob(tree.id)).toMatchObject({ state: 'completed' });
}, 30_000);
