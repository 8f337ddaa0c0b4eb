/**
 * The queue contract on the local RabbitMQ (and its Redis status store), plus the broker-specific promise:
 * connections closed by the broker mid-run → the worker reconnects and every job still completes.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { connect } from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type CreateQueueOptions, createQueue, createWorker, type Queue, type RabbitBackend } from '../src/index';
import { queueContract } from './queue.contract';

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

queueContract('rabbitmq (memory status)', { create: () => ({ newQueue: (o) => newQueue(o), abandon }) });
queueContract('rabbitmq (redis status)', { create: () => ({ newQueue: (o) => newQueue(o, true), abandon }) });

describe('RabbitMQ backend specifics', () => {
  // The broker closes every connection of a vhost of this test's own: connections of other tests and
  // processes on the shared broker (other vhost) are left alone.
  const vhost = `ballast-queue-test-${run}`;
  const ctl = (...args: string[]) => execFileSync('rabbitmqctl', ['--quiet', ...args], { stdio: 'ignore' });
  beforeAll(() => {
    ctl('add_vhost', vhost);
    ctl('set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*');
  }, 60_000);
  afterAll(() => {
    ctl('delete_vhost', vhost);
  }, 60_000);

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
