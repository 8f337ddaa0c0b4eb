/**
 * A parent with more children than Lua's `unpack` takes at once (~8,000 values on Redis's Lua): its dependency
 * set is written in slices, so the flow is added and the parent runs with every child's result.
 */
import { useRedisFixture } from '@ballast/testkit/vitest';
import { afterEach, expect, it } from 'vitest';
import { createQueue, createWorker, type Queue } from '../src/index';

const fx = useRedisFixture({ name: 'queue-flows-large' });
const open: Queue[] = [];
afterEach(async () => {
  for (const q of open.splice(0)) await q.close();
});

it('a flow whose parent has 8,500 children is added, and the parent runs once with all their results', async () => {
  const q = createQueue(`flow-large-${process.pid}`, {
    backend: 'redis',
    redis: fx.current.redis,
    prefix: fx.current.prefix,
  });
  open.push(q);
  const n = 8_500;
  const tree = await q.addFlow({
    name: 'parent',
    data: null,
    children: Array.from({ length: n }, (_, i) => ({ name: 'child', data: i })),
  });
  expect(tree.children).toHaveLength(n);
  const results = new Promise<number>((resolve) =>
    q.onCompleted((e) => e.job.id === tree.id && resolve(e.result as number)),
  );
  createWorker(
    q,
    async (job) => {
      if (job.name === 'child') return job.data as number;
      const all = Object.values(await job.childrenResults()) as number[];
      return all.length === n ? all.reduce((a, b) => a + b, 0) : -all.length;
    },
    { concurrency: 50 },
  );
  expect(await results).toBe((n * (n - 1)) / 2);
}, 60_000);
