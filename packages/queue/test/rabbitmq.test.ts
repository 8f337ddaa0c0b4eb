/**
 * The queue contract on the local RabbitMQ (and its Redis status store), plus the broker-specific promise:
 * connections closed by the broker mid-run → the worker reconnects and every job still completes.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { connect } from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type CreateQueueOptions,
  createQueue,
  createWorker,
  isUnsupportedOperationError,
  type Queue,
  type RabbitBackend,
} from '../src/index';
import { queueContract } from './queue.contract';
import { rabbitmqctl } from './rabbitmqctl';

const URL = process.env.BALLAST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const fx = useRedisFixture({ name: 'queue-rabbit' });
const run = randomUUID().slice(0, 8);
let n = 0;
const open: Queue[] = [];

afterEach(async () => {
  for (const q of open.splice(0)) {
    await (q.backend as RabbitBackend).deleteQueues().catch(() => {});
    await q.close();
  }
});

function newQueue(options: Partial<CreateQueueOptions> = {}, redisStatus = false): Queue {
  const q = createQueue(`test.queue.${run}.${n++}`, {
    ...options,
    backend: 'rabbitmq',
    url: URL,
    ...(redisStatus ? { redis: fx.current.redis, prefix: fx.current.prefix } : {}),
  });
  open.push(q);
  return q;
}

/** A consumer on its own connection takes `count` jobs, then its connection dies: the broker requeues them. */
async function abandon(q: Queue, count: number): Promise<string[]> {
  const conn = await connect(URL);
  const ch = await conn.createChannel();
  await ch.prefetch(count);
  const ids: string[] = [];
  await new Promise<void>((resolve) => {
    void ch.consume(q.name, (msg) => {
      if (!msg) return;
      ids.push(String(msg.properties.messageId));
      if (ids.length === count) resolve();
    });
  });
  await conn.close();
  return ids;
}

/**
 * A queue with Redis status holding one job, and a copy of that job's message as the broker holds it (peeked on
 * a confirm channel of `conn` and put back, so its first delivery is flagged redelivered).
 */
async function queueWithCopy() {
  const name = `test.queue.${run}.${n++}`;
  const q = createQueue(name, { backend: 'rabbitmq', url: URL, redis: fx.current.redis, prefix: fx.current.prefix });
  open.push(q);
  const { id } = await q.add('t', { n: 1 });
  const conn = await connect(URL);
  const ch = await conn.createConfirmChannel();
  const original = await ch.get(name, { noAck: false });
  if (!original) throw new Error('the job was not on the queue');
  ch.nack(original, false, true);
  /** Puts the copy on the queue again: a second message of the same job. */
  const sendCopy = async () => {
    ch.sendToQueue(name, original.content, original.properties);
    await ch.waitForConfirms();
  };
  return { q, name, id, conn, sendCopy };
}

queueContract('rabbitmq (memory status)', { create: () => ({ newQueue: (o) => newQueue(o), abandon }) });
queueContract('rabbitmq (redis status)', { create: () => ({ newQueue: (o) => newQueue(o, true), abandon }) });
// Quorum queues (a cluster's replicated type): one queue per priority level, delays and the DLQ the same.
queueContract('rabbitmq quorum (redis status)', {
  create: () => ({ newQueue: (o) => newQueue({ ...o, queueType: 'quorum' }, true), abandon }),
});

// Flows need a parent parked until its children complete, with their results beside it: a broker has no job store
// to park it in (the Redis status store tracks states, it does not hold jobs back). Refused before anything is sent.
it('addFlow is refused with UnsupportedOperationError naming RabbitMQ; nothing is published', async () => {
  for (const redisStatus of [false, true]) {
    const q = newQueue({}, redisStatus);
    await expect(
      q.addFlow({ name: 'parent', data: null, children: [{ name: 'child', data: null }] }),
    ).rejects.toSatisfy((e) => isUnsupportedOperationError(e) && e.backend === 'RabbitMQ' && e.operation === 'addFlow');
    await expect(q.job('x').getDependencies()).rejects.toSatisfy(isUnsupportedOperationError);
    expect((await q.counts()).waiting).toBe(0);
  }
});

describe('RabbitMQ backend specifics', () => {
  // The broker closes every connection of a vhost of this test's own: connections of other tests and
  // processes on the shared broker (other vhost) are left alone.
  const vhost = `ballast-queue-test-${run}`;
  const ctl = rabbitmqctl;
  beforeAll(() => {
    ctl('add_vhost', vhost);
    ctl('set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*');
  }, 60_000);
  afterAll(() => {
    ctl('delete_vhost', vhost);
  }, 120_000);

  it('a redelivered message of a job already completed is acked unrun (its worker died before the ack)', async () => {
    const status = { redis: fx.current.redis, prefix: fx.current.prefix };
    const name = `test.queue.${run}.${n++}`;
    const first = createQueue(name, { backend: 'rabbitmq', url: URL, ...status });
    const { id } = await first.add('t', { n: 1 });
    // A copy of the message as the broker holds it: the one a worker that died before its ack never acked.
    const conn = await connect(URL);
    const ch = await conn.createConfirmChannel();
    const original = await ch.get(name, { noAck: false });
    if (!original) throw new Error('the job was not on the queue');
    ch.nack(original, false, true);
    const runs: string[] = [];
    const done = new Promise<void>((r) => first.onCompleted(() => r()));
    const w1 = createWorker(first, async (job) => void runs.push(job.id), { concurrency: 1, onError: () => {} });
    await done;
    // (The peek above made its first delivery a redelivery: counted as a stall once.)
    const stalledBefore = (await first.getJob(id))?.stalledCount;
    await w1.close();
    await first.close();
    // The copy goes to a consumer that dies: the broker requeues it, flagged redelivered.
    ch.sendToQueue(name, original.content, original.properties);
    await ch.waitForConfirms();
    await conn.close();
    const second = createQueue(name, { backend: 'rabbitmq', url: URL, ...status });
    open.push(second);
    await abandon(second, 1);
    // One at a time: the job queued behind the copy is delivered only once the copy was acked.
    const { id: next } = await second.add('t', { n: 2 });
    const nextDone = new Promise<void>((r) => second.onCompleted((e) => e.job.id === next && r()));
    const w2 = createWorker(second, async (job) => void runs.push(job.id), { concurrency: 1, onError: () => {} });
    await nextDone;
    await w2.close();
    // Acked unrun: the handler ran once for the job, which is still completed and was not counted as stalled again.
    expect(runs).toEqual([id, next]);
    const job = await second.getJob(id);
    expect(job?.state).toBe('completed');
    expect(job?.stalledCount).toBe(stalledBefore);
  });

  it('the broker hands a worker what it holds (concurrency + prefetch) through one consumer', async () => {
    const q = newQueue();
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let started = 0;
    const w = createWorker(
      q,
      async () => {
        started++;
        await gate;
      },
      { concurrency: 2, prefetch: 1, onError: () => {} },
    );
    await q.addBulk(Array.from({ length: 10 }, (_, i) => ({ name: 't', data: i })));
    await expect.poll(() => started).toBe(2);
    try {
      const args = ['--quiet', 'list_consumers', '-p', '/', 'queue_name', 'prefetch_count'];
      const consumers = execFileSync('rabbitmqctl', args, { encoding: 'utf8', timeout: 20_000 });
      expect(consumers.split('\n').filter((l) => l.startsWith(`${q.name}\t`))).toEqual([`${q.name}\t3`]);
      const conn = await connect(URL);
      try {
        const ch = await conn.createChannel();
        await expect.poll(async () => (await ch.checkQueue(q.name)).messageCount).toBe(7);
      } finally {
        await conn.close();
      }
    } finally {
      release();
    }
    await expect.poll(async () => (await q.counts()).completed).toBe(10);
    await w.close();
  });

  it('consuming started before the first connection is up registers one consumer', async () => {
    const q = newQueue();
    // Right after createQueue: the connection's setup and this call both want a consumer on its channel.
    await (q.backend as RabbitBackend).startConsuming(3, 1);
    const conn = await connect(URL);
    try {
      const ch = await conn.createChannel();
      expect((await ch.checkQueue(q.name)).consumerCount).toBe(1);
    } finally {
      await conn.close();
    }
  });

  it('two messages of one job (a publish retried after a lost confirm) are both acked; the job runs once', async () => {
    // The copy a publisher sends again when the broker took the first but its confirm was lost with the connection.
    const { q, name, id, conn, sendCopy } = await queueWithCopy();
    await sendCopy();
    const runs: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const done = new Promise<void>((r) => q.onCompleted(() => r()));
    // Prefetch 2: both messages are delivered to this worker while the first is still running.
    const w = createWorker(
      q,
      async (job) => {
        runs.push(job.id);
        await gate;
      },
      { concurrency: 2, onError: () => {} },
    );
    await expect.poll(() => runs.length).toBe(1);
    release();
    await done;
    await w.close();
    await q.close();
    // Nothing left on the broker: a copy held but never acked would be requeued when the worker's connection closed.
    const left = await conn.createChannel();
    expect((await left.checkQueue(name)).messageCount).toBe(0);
    await conn.close();
    expect(runs).toEqual([id]);
    expect((await q.getJob(id))?.state).toBe('completed');
  });

  it('a second message of a job already finished is acked unrun, redelivered or not', async () => {
    const { q, id, conn, sendCopy } = await queueWithCopy();
    const runs: string[] = [];
    const first = new Promise<void>((r) => q.onCompleted(() => r()));
    const w = createWorker(q, async (job) => void runs.push(job.id), { concurrency: 1, onError: () => {} });
    await first;
    // A fresh (not redelivered) copy after the job completed, then a job behind it: delivered one at a time.
    await sendCopy();
    await conn.close();
    const { id: next } = await q.add('t', { n: 2 });
    await expect.poll(async () => (await q.getJob(next))?.state).toBe('completed');
    await w.close();
    expect(runs).toEqual([id, next]);
  });

  it('reconnects after the broker closes every connection and finishes every job', async () => {
    const q = createQueue(`test.queue.${run}.reconnect`, { backend: 'rabbitmq', url: `${URL}/${vhost}` });
    open.push(q);
    const total = 60;
    const seen = new Set<number>();
    let closed = false;
    let done: () => void = () => {};
    const all = new Promise<void>((r) => {
      done = r;
    });
    q.onCompleted(() => {
      if (seen.size === total) done();
    });
    createWorker(
      q,
      async (job) => {
        if (!closed && seen.size >= 10) {
          closed = true;
          ctl('close_all_connections', '--vhost', vhost, 'test');
        }
        seen.add(job.data as number);
        await new Promise((r) => setTimeout(r, 2));
      },
      { concurrency: 5, onError: () => {} },
    );
    await q.addBulk(Array.from({ length: total }, (_, i) => ({ name: 't', data: i })));
    await all;
    expect(closed).toBe(true);
    expect((q.backend as RabbitBackend).connectionGeneration).toBeGreaterThanOrEqual(2);
    expect(seen.size).toBe(total);
    await expect.poll(async () => (await q.counts()).completed, { timeout: 10_000 }).toBe(total);
  }, 30_000);
});
