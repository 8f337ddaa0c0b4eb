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
  // Listened for from the start: the child may exit (its job done) before the checks below end.
  const exited = once(proc, 'exit');
  try {
    const [line] = (await once(proc.stdout!, 'data')) as [Buffer];
    const id = line.toString().trim();
    const result = await queue.job(id).waitUntilFinished<{ from: string; pid: number }>(events, { timeoutMs: 20_000 });
    expect(result).toMatchObject({ from: 'child', pid: proc.pid, data: { n: 7 } });
    await expect
      .poll(() => seen.filter((e) => e.jobId === id).map((e) => e.event))
      .toEqual(['waiting', 'active', 'progress', 'completed']);
    expect(seen.find((e) => e.event === 'progress')).toMatchObject({ progress: 50 });
    const [code] = (await exited) as [number | null];
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
  expect((await queue.getJob(next.jobId))?.data).toBe('x');
});

/** Events in a queue's stream: an entry holds one (`e`) or several (`b`, a JSON array). */
async function eventsInStream(key: string): Promise<number> {
  const entries = (await fx.current.redis.xrange(key, '-', '+')) as [string, string[]][];
  return entries.reduce((n, [, f]) => n + (f[0] === 'b' ? (JSON.parse(f[1]!) as unknown[]).length : 1), 0);
}

it('a tick’s events go in as few entries as maxLen allows, and the stream holds about maxLen events, not entries', async () => {
  const { key, queue } = streamQueue('pack');
  // One publish of 1,000 events (an addBulk's waiting events): entries of at most maxLen / 10 events.
  await queue.addBulk(Array.from({ length: 1_000 }, (_, i) => ({ name: 't', data: i })));
  await expect.poll(() => fx.current.redis.xlen(key)).toBeGreaterThan(0);
  const entries = (await fx.current.redis.xrange(key, '-', '+')) as [string, string[]][];
  expect(entries.every(([, f]) => f[0] === 'b' && (JSON.parse(f[1]!) as unknown[]).length === 10)).toBe(true);
  expect(await eventsInStream(key)).toBe(100);
  // Then ticks of one event each among them: the stream's events are counted, whatever the entries' sizes —
  // at least maxLen stay, and less than one more entry. (Through the transport: its publish is awaited.)
  const transport = queue.eventsTransport();
  const ev = (i: number) => JSON.stringify({ event: 'waiting', jobId: `s${i}` });
  for (let i = 0; i < 300; i++) {
    await transport.publish([ev(i)]);
    if (i % 3 === 0) await transport.publish(Array.from({ length: 40 }, (_, j) => ev(1_000 + j)));
    const held = await eventsInStream(key);
    expect(held).toBeGreaterThanOrEqual(100);
    expect(held).toBeLessThan(110);
  }
});

it('events.maxLen above 1,000,000 is refused, naming the field', () => {
  expect(() =>
    createQueue(`big-${process.pid}`, {
      backend: 'redis',
      redis: fx.current.redis,
      prefix: fx.current.prefix,
      events: { maxLen: 2_000_000 },
    }),
  ).toThrow(/events\.maxLen/);
});

it('several publishers, each with its own entry sizes, short-lived ones too: the stream holds about maxLen events', async () => {
  const name = `pubs-${process.pid}`;
  const key = eventsKey(name, fx.current.prefix);
  const make = () =>
    createQueue(name, {
      backend: 'redis',
      redis: fx.current.redis,
      prefix: fx.current.prefix,
      events: { maxLen: 1_000 },
    });
  const bulk = make();
  const single = make();
  open.push(bulk, single);
  const all = createQueueEvents(single, { blockMs: 200 });
  open.push(all);
  await all.ready;
  let seen = 0;
  all.onEvent(() => seen++);
  // One publish of 5,000 (one script): a subscriber sees what the trim kept, the newest 1,000.
  await bulk.addBulk(Array.from({ length: 5_000 }, (_, i) => ({ name: 't', data: i })));
  await expect.poll(() => seen).toBe(1_000);
  expect(await eventsInStream(key)).toBe(1_000);
  // A subscriber 300 events back, within maxLen: it gets all 300, though the other publisher published since.
  const back = all.lastEventId;
  for (let i = 0; i < 300; i++) await single.add('one', i);
  await expect.poll(() => seen).toBe(1_300);
  await bulk.add('one', 'last');
  await expect.poll(() => seen).toBe(1_301);
  const held = await eventsInStream(key);
  // (At least maxLen; a check per maxLen / 100 events, dropping whole entries of up to 100.)
  expect(held).toBeGreaterThanOrEqual(1_000);
  expect(held).toBeLessThan(1_110);
  const resumed = createQueueEvents(single, { lastEventId: back, blockMs: 200 });
  open.push(resumed);
  let got = 0;
  resumed.onEvent(() => got++);
  await expect.poll(() => got).toBe(301);
  // Short-lived publishers (a cron job, a lambda): each adds a bulk and goes; the stream still holds ~maxLen.
  for (let k = 0; k < 20; k++) {
    const q = make();
    await q.addBulk(Array.from({ length: 1_000 }, (_, i) => ({ name: 't', data: i })));
    await q.close();
  }
  const after = await eventsInStream(key);
  expect(after).toBeGreaterThanOrEqual(1_000);
  expect(after).toBeLessThan(1_110);
});

/** A Redis queue publishing events with maxLen 100, and its stream's key. */
function streamQueue(tag: string) {
  const name = `${tag}-${process.pid}`;
  const queue = createQueue(name, {
    backend: 'redis',
    redis: fx.current.redis,
    prefix: fx.current.prefix,
    events: { maxLen: 100 },
  });
  open.push(queue);
  return { key: eventsKey(name, fx.current.prefix), queue };
}

/** A queue (maxLen 100) whose stream holds 100 single-event entries after 150 publishes through its transport. */
async function fullStream(tag: string) {
  const { key, queue } = streamQueue(tag);
  const transport = queue.eventsTransport();
  const ev = (i: number) => JSON.stringify({ event: 'waiting', jobId: `s${i}` });
  for (let i = 0; i < 150; i++) await transport.publish([ev(i)]);
  expect(await eventsInStream(key)).toBe(100);
  return { key, queue, transport, ev };
}

it('the count is read off the stream: outside XTRIM, XDEL or DEL do not put the cap out of step; big events go alone', async () => {
  const { key, queue, transport, ev } = await fullStream('count');
  // Trimmed by something else to 10: publishing fills it back to maxLen, not less.
  await fx.current.redis.xtrim(key, 'MAXLEN', 10);
  for (let i = 0; i < 150; i++) await transport.publish([ev(i)]);
  expect(await eventsInStream(key)).toBe(100);
  // The stream deleted: the next publish keeps its own events (a subscriber sees them), nothing stale counts.
  await fx.current.redis.del(key);
  const sub = createQueueEvents(queue, { lastEventId: '0', blockMs: 200 });
  open.push(sub);
  let got = 0;
  sub.onEvent(() => got++);
  await transport.publish(Array.from({ length: 50 }, (_, i) => ev(i)));
  await expect.poll(() => got).toBe(50);
  expect(await eventsInStream(key)).toBe(50);
  // One tick of two 40 KB events and two small ones: an entry holds at most ~64 KB of events, so the first big
  // one goes alone (`e`) and the second with the small ones (`b`).
  const big = (jobId: string) => JSON.stringify({ event: 'completed', jobId, result: 'x'.repeat(40_000) });
  const small = (jobId: string) => JSON.stringify({ event: 'waiting', jobId });
  const last = await fx.current.redis.xrevrange(key, '+', '-', 'COUNT', 1);
  await queue.eventsTransport().publish([big('b1'), big('b2'), small('s1'), small('s2')]);
  const added = (await fx.current.redis.xrange(key, `(${last[0]![0]}`, '+')) as [string, string[]][];
  expect(added.map(([, f]) => [f[0], f[0] === 'b' ? f[3] : '1'])).toEqual([
    ['e', '1'],
    ['b', '3'],
  ]);
  expect(await eventsInStream(key)).toBe(54);
});

it('the running number put back by something else (lower, not a number) or entries without one lose no event within maxLen', async () => {
  const { key, transport, ev } = await fullStream('hint');
  // Set back to 5: the old entries' numbers are above the new ones' for a while — kept (not cut as if old by
  // maxLen) until the numbering passes them: never fewer than maxLen, a bounded excess (here up to 245), then
  // maxLen again.
  await fx.current.redis.set(`${key}:c`, '5');
  for (let i = 0; i < 300; i++) {
    await transport.publish([ev(i)]);
    const held = await eventsInStream(key);
    expect(held).toBeGreaterThanOrEqual(100);
    expect(held).toBeLessThanOrEqual(300);
  }
  expect(await eventsInStream(key)).toBe(100);
  // Not a number: publishing goes on (the number is taken from the last entry).
  await fx.current.redis.set(`${key}:c`, 'abc');
  for (let i = 0; i < 10; i++) await transport.publish([ev(i)]);
  expect(await eventsInStream(key)).toBe(100);
  // Entries without a number (an older publisher, something else): kept while they are within maxLen.
  for (let i = 0; i < 30; i++) await fx.current.redis.xadd(key, '*', 'e', ev(i));
  await fx.current.redis.del(`${key}:c`);
  for (let i = 0; i < 5; i++) {
    await transport.publish([ev(i)]);
    expect(await eventsInStream(key)).toBeGreaterThanOrEqual(100);
  }
  for (let i = 0; i < 200; i++) await transport.publish([ev(i)]);
  expect(await eventsInStream(key)).toBe(100);
});

it('a subscriber resumes inside an entry of several events: from the event after lastEventId, none twice', async () => {
  const name = `resume-${process.pid}`;
  const queue = createQueue(name, {
    backend: 'redis',
    redis: fx.current.redis,
    prefix: fx.current.prefix,
    events: true,
  });
  open.push(queue);
  const all = createQueueEvents(queue, { blockMs: 200 });
  open.push(all);
  await all.ready;
  const seen: QueueEvent[] = [];
  all.onEvent((e) => seen.push(e));
  // Three ticks of 5 waiting events: three entries.
  for (let t = 0; t < 3; t++)
    await queue.addBulk(Array.from({ length: 5 }, (_, i) => ({ name: 't', data: t * 5 + i })));
  await expect.poll(() => seen.length).toBe(15);
  expect(await fx.current.redis.xlen(eventsKey(name, fx.current.prefix))).toBe(3);
  // Ids: `<entry>:<index>`, increasing.
  expect(seen.map((e) => e.id.split(':')[1])).toEqual([
    '0',
    '1',
    '2',
    '3',
    '4',
    '0',
    '1',
    '2',
    '3',
    '4',
    '0',
    '1',
    '2',
    '3',
    '4',
  ]);
  for (const at of [0, 2, 4, 7, 14]) {
    const resumed = createQueueEvents(queue, { lastEventId: seen[at]!.id, blockMs: 200 });
    open.push(resumed);
    const got: string[] = [];
    resumed.onEvent((e) => got.push(e.id));
    const rest = seen.slice(at + 1).map((e) => e.id);
    if (rest.length > 0) await expect.poll(() => got.length).toBe(rest.length);
    // One more tick: it comes after, and nothing before lastEventId came again.
    await queue.add('more', at);
    await expect.poll(() => got.length).toBe(rest.length + 1);
    expect(got.slice(0, rest.length)).toEqual(rest);
    expect(resumed.lastEventId).toBe(got.at(-1));
    resumed.close();
  }
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
  // Written by something else sharing the stream: a non-JSON text, JSON null, a number, an event named after an
  // Object.prototype member, an entry of several holding an array, then a real event.
  for (const e of ['not json', 'null', '42', '{"event":"constructor","jobId":"x"}']) {
    await fx.current.redis.xadd(key, '*', 'e', e);
  }
  const several = await fx.current.redis.xadd(key, '*', 'b', '[[{"event":"waiting","jobId":"nested"}],7]', 'n', '2');
  const last = await fx.current.redis.xadd(key, '*', 'e', JSON.stringify({ event: 'waiting', jobId: 'j1' }));
  await expect.poll(() => seen.length).toBe(2);
  // (`constructor` is no event of ours: onEvent has it, no typed listener — and the reader goes on.)
  expect(seen).toEqual([
    { event: 'constructor', jobId: 'x', id: expect.any(String) },
    { event: 'waiting', jobId: 'j1', id: last },
  ]);
  expect(several).toBeTruthy();
  expect(events.lastEventId).toBe(last);
});
