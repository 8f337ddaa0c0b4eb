/**
 * RabbitMQ delays and publishes that cannot be lost (issue 19 §1): delay queues that never expire and stay a
 * fixed set, `mandatory` publishes re-declaring what vanished, topology re-declared after a reconnection, delayed
 * jobs surviving a connection loss. Everything runs in a vhost of this file's own (queues counted there), on the
 * shared local broker; connections are cut through a TCP proxy of the test's own.
 */
import { randomUUID } from 'node:crypto';
import { FaultProxy } from '@ballast/testkit';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { connect } from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type CreateQueueOptions,
  createQueue,
  createWorker,
  DELAY_TIERS,
  type Queue,
  type RabbitBackend,
} from '../src/index';
import { rabbitmqctl } from './rabbitmqctl';

const BROKER = process.env.BALLAST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const fx = useRedisFixture({ name: 'queue-rabbit-delays' });
const run = randomUUID().slice(0, 8);
const vhost = `ballast-queue-delays-${run}`;
const URL = `${BROKER}/${vhost}`;
const ctl = rabbitmqctl;
let n = 0;
const open: Queue[] = [];

beforeAll(() => {
  ctl('add_vhost', vhost);
  ctl('set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*');
}, 60_000);
afterAll(() => {
  ctl('delete_vhost', vhost);
}, 120_000);
afterEach(async () => {
  for (const q of open.splice(0)) {
    await (q.backend as RabbitBackend).deleteQueues().catch(() => {});
    await q.close();
  }
});

function newQueue(options: Partial<CreateQueueOptions> = {}): Queue {
  const q = createQueue(`delays.${run}.${n++}`, {
    url: URL,
    redis: fx.current.redis,
    prefix: fx.current.prefix,
    ...options,
    backend: 'rabbitmq',
  });
  open.push(q);
  return q;
}

/** Queues of this vhost whose name starts with `prefix`, with their arguments (as rabbitmqctl prints them). */
function queuesOf(prefix: string): { name: string; args: string }[] {
  return ctl('list_queues', '-p', vhost, 'name', 'arguments')
    .split('\n')
    .map((l) => l.split('\t'))
    .filter(([name]) => name?.startsWith(prefix))
    .map(([name, args]) => ({ name: name!, args: args ?? '' }));
}

/** Deletes every delay queue of `q` on the broker, as an `x-expires` would. */
async function expireDelayQueues(q: Queue): Promise<number> {
  const delays = queuesOf(`${q.name}.delay`);
  const conn = await connect(URL);
  try {
    const ch = await conn.createChannel();
    for (const { name } of delays) await ch.deleteQueue(name);
  } finally {
    await conn.close();
  }
  return delays.length;
}

/** A `FaultProxy` to the broker (cut: a connection loss; down/up: a broker away) and the AMQP URL through it. */
async function brokerProxy(): Promise<{ proxy: FaultProxy; url: string }> {
  const target = new globalThis.URL(BROKER);
  const proxy = await FaultProxy.start({ target: { host: target.hostname, port: Number(target.port || 5672) } });
  return { proxy, url: `amqp://${target.username}:${target.password}@127.0.0.1:${proxy.port}/${vhost}` };
}

describe('RabbitMQ delays (issue 19 §1)', () => {
  it('a delayed job added after the delay queues vanished (as an x-expires deletes them) still runs', async () => {
    const q = newQueue();
    const ran: string[] = [];
    createWorker(q, async (job) => void ran.push(job.id), { concurrency: 2, onError: () => {} });
    const a = await q.add('t', 'a', { delayMs: 200 });
    await expect.poll(() => ran).toContain(a.id);
    // The process still believes its delay queues exist; on the broker they are gone.
    expect(await expireDelayQueues(q)).toBeGreaterThan(0);
    const b = await q.add('t', 'b', { delayMs: 200 });
    await expect.poll(() => ran, { timeout: 5_000 }).toContain(b.id);
    expect((await q.getJob(b.id))?.state).toBe('completed');
  });

  it('200 failing jobs with the default backoff declare at most the fixed set of delay queues', async () => {
    const q = newQueue();
    let retrying = 0;
    const all = new Promise<void>((r) => q.onRetrying(() => ++retrying === 200 && r()));
    const w = createWorker(
      q,
      async () => {
        throw new Error('boom');
      },
      { concurrency: 50, onError: () => {} },
    );
    await q.addBulk(Array.from({ length: 200 }, (_, i) => ({ name: 't', data: i })));
    await all;
    await w.close();
    const queues = queuesOf(q.name);
    // The queue, its DLQ and the delay tiers; per-delay queues made ~180 here.
    expect(queues.length).toBeLessThanOrEqual(DELAY_TIERS + 2);
    // None can expire (an expired queue takes the messages still in it along).
    expect(queues.filter((x) => x.args.includes('x-expires'))).toEqual([]);
  });

  it('a job waiting in a delay queue survives a broker connection loss', async () => {
    const { proxy, url } = await brokerProxy();
    try {
      const q = newQueue({ url });
      const ran: string[] = [];
      createWorker(q, async (job) => void ran.push(job.id), { concurrency: 2, onError: () => {} });
      const { id } = await q.add('t', 1, { delayMs: 600 });
      proxy.cut();
      await expect.poll(() => (q.backend as RabbitBackend).connectionGeneration).toBeGreaterThanOrEqual(2);
      await expect.poll(() => ran, { timeout: 5_000 }).toEqual([id]);
    } finally {
      await proxy.close();
    }
  });

  it('topology deleted while the connection was down is declared again on reconnecting', async () => {
    const { proxy, url } = await brokerProxy();
    try {
      const q = newQueue({ url });
      createWorker(q, async () => {}, { concurrency: 1, onError: () => {} });
      await q.add('t', 1, { delayMs: 50 });
      const before = queuesOf(q.name)
        .map((x) => x.name)
        .sort();
      expect(before.length).toBe(DELAY_TIERS + 2);
      proxy.down();
      const conn = await connect(URL);
      try {
        const ch = await conn.createChannel();
        for (const name of before) await ch.deleteQueue(name);
        proxy.up();
        await expect.poll(() => (q.backend as RabbitBackend).connectionGeneration).toBeGreaterThanOrEqual(2);
        await (q.backend as RabbitBackend).whenConnected();
        // A passive declare of each: one that is missing closes the channel and rejects.
        for (const name of before) await ch.checkQueue(name);
      } finally {
        await conn.close().catch(() => {});
      }
    } finally {
      await proxy.close();
    }
  });

  it('a publish into a queue deleted behind our back is returned, re-declared and delivered, not lost', async () => {
    const q = newQueue();
    await q.add('t', 0);
    const conn = await connect(URL);
    await (await conn.createChannel()).deleteQueue(q.name);
    await conn.close();
    // No consumer to notice: the publish itself comes back unroutable (mandatory) and declares the queue again.
    const { id } = await q.add('t', 1);
    const ran: unknown[] = [];
    createWorker(q, async (job) => void ran.push(job.data), { concurrency: 1, onError: () => {} });
    await expect.poll(async () => (await q.getJob(id))?.state).toBe('completed');
    expect(ran).toEqual([1]);
  });

  it('a publish into a queue deleted behind our back (consumer running) is re-declared and run, not lost', async () => {
    const q = newQueue();
    const ran: unknown[] = [];
    createWorker(q, async (job) => void ran.push(job.data), { concurrency: 1, onError: () => {} });
    await q.add('t', 0);
    await expect.poll(() => ran).toEqual([0]);
    // The broker cancels the worker's consumer with the queue; a publish to it would be acked and dropped.
    const conn = await connect(URL);
    await (await conn.createChannel()).deleteQueue(q.name);
    await conn.close();
    const { id } = await q.add('t', 1);
    await expect.poll(async () => (await q.getJob(id))?.state).toBe('completed');
    expect(ran).toEqual([0, 1]);
  });
});
