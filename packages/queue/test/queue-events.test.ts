/**
 * Queue events reach every process (issue 24 §1): a child process adds and runs a job on Redis; this process,
 * which has no worker, sees its waiting, active, progress and completed events and waits for its result.
 * The child imports the built package (`@ballast/queue` dist), as a service would.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { FakeClock } from '@ballast/testkit';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { afterEach, expect, it } from 'vitest';
import {
  createQueue,
  createQueueEvents,
  createWorker,
  eventsKey,
  type Queue,
  type QueueEvent,
  type QueueEvents,
} from '../src/index';

const fx = useRedisFixture({ name: 'queue-events' });
const REDIS_URL = process.env.BALLAST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const child = fileURLToPath(new URL('./fixtures/events-child.mjs', import.meta.url));
const open: (Queue | QueueEvents)[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});

it('a process without workers sees the events of a job another process added and ran', async () => {
  const name = `cross-${process.pid}`;
  const queue = createQueue(name, { backend: 'redis', redis: fx.current.redis, prefix: fx.current.prefix });
  const events = createQueueEvents(queue, { blockMs: 500 });
  open.push(events, queue);
  await events.ready;
  const seen: QueueEvent[] = [];
  events.onEvent((e) => seen.push(e));
  const proc = spawn(process.execPath, [child, REDIS_URL, fx.current.prefix, name], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const [line] = (await once(proc.stdout!, 'data')) as [Buffer];
    const id = line.toString().trim();
    const result = await queue.job(id).waitUntilFinished<{ from: string; pid: number }>(events, { timeoutMs: 20_000 });
    expect(result).toMatchObject({ from: 'child', pid: proc.pid, data: { n: 7 } });
    await expect
      .poll(() => seen.filter((e) => e.jobId === id).map((e) => e.event))
      .toEqual(['waiting', 'active', 'progress', 'completed']);
    expect(seen.find((e) => e.event === 'progress')).toMatchObject({ progress: 50 });
    const [code] = (await once(proc, 'exit')) as [number | null];
    expect(code).toBe(0);
  } finally {
    if (proc.exitCode === null) proc.kill('SIGKILL');
  }
}, 30_000);

it('the stream is capped near maxLen, and a subscriber resumes after lastEventId', async () => {
  const queue = createQueue(`cap-${process.pid}`, {
    backend: 'redis',
    redis: fx.current.redis,
    prefix: fx.current.prefix,
    events: { maxLen: 100 },
  });
  open.push(queue);
  const first = createQueueEvents(queue, { blockMs: 200 });
  open.push(first);
  await first.ready;
  let got = 0;
  first.onEvent(() => got++);
  await queue.add('before', 'a');
  await expect.poll(() => got).toBe(1);
  const last = first.lastEventId;
  await queue.add('after', 'x');
  const resumed = createQueueEvents(queue, { lastEventId: last, blockMs: 200 });
  open.push(resumed);
  const next = await new Promise<QueueEvent>((r) => resumed.onEvent(r));
  expect(next).toMatchObject({ event: 'waiting' });
  // One publish of 1,000 events: MAXLEN ~ trims whole macro nodes, at most maxLen plus one node (100) stays.
  await queue.addBulk(Array.from({ length: 1_000 }, (_, i) => ({ name: 't', data: i })));
  const key = `${fx.current.prefix}:queue:{cap-${process.pid}}:events`;
  await expect.poll(() => fx.current.redis.xlen(key)).toBeGreaterThan(0);
  expect(await fx.current.redis.xlen(key)).toBeLessThanOrEqual(200);
  expect((await queue.getJob(next.jobId))?.data).toBe('x');
});

it('maxAgeMs trims events older than that on the server clock (XTRIM MINID), newer ones stay', async () => {
  const name = `age-${process.pid}`;
  const key = `${fx.current.prefix}:queue:{${name}}:events`;
  // An event published a minute ago (server time): the stream's ids are the server's milliseconds.
  const [sec] = await fx.current.redis.time();
  await fx.current.redis.xadd(key, `${Number(sec) * 1000 - 60_000}-0`, 'e', '{"event":"waiting","jobId":"old"}');
  const queue = createQueue(name, {
    backend: 'redis',
    redis: fx.current.redis,
    prefix: fx.current.prefix,
    events: { maxAgeMs: 30_000 },
  });
  open.push(queue);
  const { id } = await queue.add('t', 1);
  await expect.poll(() => fx.current.redis.xlen(key)).toBe(1);
  const entries = (await fx.current.redis.xrange(key, '-', '+')) as [string, string[]][];
  expect(JSON.parse(entries[0]![1][1]!)).toMatchObject({ event: 'waiting', jobId: id });
});

it('memory: maxAgeMs drops events older than that on the queue clock', async () => {
  const clock = new FakeClock();
  const queue = createQueue(`mem-age-${process.pid}`, { clock, events: { maxAgeMs: 1_000 } });
  open.push(queue);
  const transport = queue.eventsTransport();
  await queue.add('t', 'old');
  await expect.poll(async () => (await transport.read('0', 0)).length).toBe(1);
  await clock.advance(1_500);
  const { id } = await queue.add('t', 'new');
  await expect.poll(async () => (await transport.read('0', 0)).map(([, e]) => JSON.parse(e).jobId)).toEqual([id]);
});

it('stalled recovery publishes stalled (and dead past maxStalledCount) for every subscriber', async () => {
  const queue = createQueue(`stall-${process.pid}`, {
    backend: 'redis',
    redis: fx.current.redis,
    prefix: fx.current.prefix,
    events: true,
  });
  const events = createQueueEvents(queue, { blockMs: 200 });
  open.push(events, queue);
  await events.ready;
  const seen: QueueEvent[] = [];
  events.onEvent((e) => seen.push(e));
  const { id } = await queue.add('t', null);
  // A worker that took the job and died: its 50 ms lease is never renewed.
  await queue.backend.fetch(Date.now(), 1, 'dead-worker', 50);
  const w = createWorker(queue, () => 'ok', { stalledIntervalMs: 100, maxStalledCount: 0, onError: () => {} });
  try {
    await expect
      .poll(() => seen.filter((e) => e.jobId === id).map((e) => e.event))
      .toEqual(['waiting', 'stalled', 'dead']);
    expect(seen.find((e) => e.event === 'stalled')).toMatchObject({ outcome: 'dead' });
    expect(seen.find((e) => e.event === 'dead')).toMatchObject({ error: { code: 'JOB_STALLED' } });
  } finally {
    await w.close();
  }
});

it('entries of the stream that are not queue events (not JSON, not an object) are skipped, the rest delivered', async () => {
  const name = `foreign-${process.pid}`;
  const queue = createQueue(name, {
    backend: 'redis',
    redis: fx.current.redis,
    prefix: fx.current.prefix,
    events: true,
  });
  const events = createQueueEvents(queue, { blockMs: 200 });
  open.push(events, queue);
  await events.ready;
  const seen: QueueEvent[] = [];
  events.onEvent((e) => seen.push(e));
  const key = eventsKey(name, fx.current.prefix);
  // Written by something else sharing the stream: a non-JSON text, JSON null, a number, then a real event.
  for (const e of ['not json', 'null', '42']) await fx.current.redis.xadd(key, '*', 'e', e);
  const last = await fx.current.redis.xadd(key, '*', 'e', JSON.stringify({ event: 'waiting', jobId: 'j1' }));
  await expect.poll(() => seen.length).toBe(1);
  expect(seen).toEqual([{ event: 'waiting', jobId: 'j1', id: last }]);
  expect(events.lastEventId).toBe(last);
});
