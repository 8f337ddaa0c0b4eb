/**
 * RabbitMQ backend promises of issue 19 §4: priorities a worker's prefetch does not defeat, a partial `addBulk`
 * that says exactly which jobs are queued, a loud word when status and dedupe live in one process's memory.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { captureLogs, FaultProxy } from '@ballast/testkit';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { connect } from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CreateQueueOptions,
  createQueue,
  createWorker,
  isBulkAddIncompleteError,
  MemoryStatusStore,
  type Queue,
  type RabbitBackend,
} from '../src/index';

const URL = process.env.BALLAST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const fx = useRedisFixture({ name: 'queue-rabbit-backend' });
const run = randomUUID().slice(0, 8);
const ctl = (...args: string[]) => execFileSync('rabbitmqctl', ['--quiet', ...args], { encoding: 'utf8' });
let n = 0;
const open: Queue[] = [];
type Acking = { ack(m: unknown, allUpTo?: boolean): void };

/** Counts the `basic.ack` frames amqplib's channels send (and those with `multiple`) until `stop()`. */
async function countAcks() {
  // The prototype every amqplib channel acks through (a confirm channel's class extends it).
  const conn = await connect(URL);
  const proto = Object.getPrototypeOf(Object.getPrototypeOf(await conn.createConfirmChannel())) as Acking;
  await conn.close();
  const Channel = { prototype: proto };
  const original = Channel.prototype.ack;
  const counted = { frames: 0, multiple: 0 };
  Channel.prototype.ack = function (this: unknown, m: unknown, allUpTo?: boolean) {
    counted.frames++;
    if (allUpTo) counted.multiple++;
    return original.call(this, m, allUpTo);
  };
  return {
    counted,
    stop: () => {
      Channel.prototype.ack = original;
    },
  };
}

/** Messages ready in `queue` on the broker, read on a connection of its own. */
async function readyIn(queue: string): Promise<number> {
  const conn = await connect(URL);
  try {
    return (await (await conn.createChannel()).checkQueue(queue)).messageCount;
  } finally {
    await conn.close();
  }
}

afterEach(async () => {
  for (const q of open.splice(0)) {
    await (q.backend as RabbitBackend).deleteQueues().catch(() => {});
    await q.close();
  }
});

function newQueue(options: Partial<CreateQueueOptions> = {}): Queue {
  const q = createQueue(`backend.${run}.${n++}`, {
    url: URL,
    redis: fx.current.redis,
    prefix: fx.current.prefix,
    ...options,
    backend: 'rabbitmq',
  });
  open.push(q);
  return q;
}

describe('RabbitMQ backend (issue 19 §4)', () => {
  it.each(['classic', 'quorum'] as const)(
    '%s: a high-priority job added while low ones wait overtakes them (prefetch = concurrency)',
    async (queueType) => {
      const q = newQueue({ queueType });
      const order: string[] = [];
      let release!: () => void;
      const gate = new Promise<void>((r) => {
        release = r;
      });
      createWorker(
        q,
        async (job) => {
          order.push(job.data as string);
          if (job.data === 'low0') await gate;
        },
        { concurrency: 1, onError: () => {} },
      );
      await q.addBulk(
        ['low0', 'low1', 'low2', 'low3'].map((d) => ({ name: 't', data: d, options: { priority: 'low' } })),
      );
      await expect.poll(() => order).toEqual(['low0']);
      await q.add('t', 'high', { priority: 'high' });
      release();
      await expect.poll(() => order.length).toBe(5);
      expect(order).toEqual(['low0', 'high', 'low1', 'low2', 'low3']);
    },
  );

  it.each(['classic', 'quorum'] as const)(
    '%s: jobs added while paused wait in the broker, not in a worker buffer: on resume the highest priority starts first',
    async (queueType) => {
      const q = newQueue({ queueType });
      const started: string[] = [];
      let all!: () => void;
      const done = new Promise<void>((r) => {
        all = r;
      });
      const worker = createWorker(
        q,
        async (job) => {
          started.push(job.data as string);
          if (started.length === 4) all();
        },
        { concurrency: 2 },
      );
      // The worker consumes before the pause: the broker would send it the first two jobs ahead (prefetch 2).
      await (q.backend as RabbitBackend).whenConnected();
      await q.pause();
      for (const [p, name] of [
        ['low', 'low'],
        ['medium', 'medium'],
        ['high', 'high-1'],
        ['high', 'high-2'],
      ] as const) {
        await q.add('t', name, { priority: p });
      }
      await expect.poll(async () => (await q.counts()).waiting, { timeout: 10_000 }).toBe(4);
      expect(started).toEqual([]);
      await q.resume();
      await done;
      await worker.close();
      expect(started.slice(0, 2).sort()).toEqual(['high-1', 'high-2']);
      expect(started.slice(2)).toEqual(['medium', 'low']);
    },
  );

  /** Resumes the queue (`resume`) right after a fetch read "paused" from the store, at the moment `when` says. */
  class ResumeOnRead extends MemoryStatusStore {
    resume: (() => void) | undefined;
    constructor(readonly when: 'read' | 'stand-down') {
      super();
    }
    override async isPaused(): Promise<boolean> {
      const paused = await super.isPaused();
      const resume = this.resume;
      if (paused && resume) {
        this.resume = undefined;
        // `read`: before the fetch has taken in what it read; `stand-down`: while it cancels its consumer (a
        // broker round trip away, after this turn of the event loop).
        if (this.when === 'read') queueMicrotask(resume);
        else setImmediate(resume);
      }
      return paused;
    }
  }

  it.each(['read', 'stand-down'] as const)(
    'a resume that races a fetch (at its %s) runs the waiting jobs at once, not after blockMs',
    async (when) => {
      const store = new ResumeOnRead(when);
      const q = newQueue({ redis: undefined, statusStore: store });
      let ran!: () => void;
      const done = new Promise<void>((r) => {
        ran = r;
      });
      const worker = createWorker(q, () => ran(), { concurrency: 5, blockMs: 60_000 });
      await (q.backend as RabbitBackend).whenConnected();
      await q.pause();
      store.resume = () => void q.resume();
      // Its delivery wakes the worker, whose fetch reads "paused" and stands down; the resume lands meanwhile.
      await q.add('t', 1);
      await done;
      expect(store.resume).toBeUndefined();
      await worker.close();
    },
    10_000,
  );

  it('deliveries a pause gave back to the broker are not stalls when they come again', async () => {
    const q = newQueue({ redis: undefined, statusStore: new MemoryStatusStore() });
    const b = q.backend as RabbitBackend;
    await b.startConsuming(5, 1);
    const added = await q.addBulk(Array.from({ length: 3 }, (_, i) => ({ name: 't', data: i })));
    // At least one delivery is in the backend's buffer.
    await b.createWaiter().wait(10_000);
    await q.pause();
    expect((await b.fetch(Date.now(), 5, 'x', 30_000)).jobs).toEqual([]);
    await q.resume();
    const fetched: string[] = [];
    const waiter = b.createWaiter();
    while (fetched.length < 3) {
      await waiter.wait(10_000);
      for (const job of (await b.fetch(Date.now(), 5, 'x', 30_000)).jobs) fetched.push(job.id);
    }
    expect(fetched.sort()).toEqual(added.map((a) => a.id).sort());
    expect(await b.recoverStalled()).toEqual([]);
    for (const a of added) expect((await q.getJob(a.id))?.stalledCount).toBe(0);
  });

  it('addBulk that the broker takes only in part says exactly which jobs are queued', async () => {
    const q = newQueue();
    await (q.backend as RabbitBackend).whenConnected();
    // The broker refuses (nacks) publishes past 3 messages in the queue.
    const pattern = `^${q.name.replaceAll('.', '\\.')}$`;
    ctl(
      'set_policy',
      '-p',
      '/',
      '--apply-to',
      'queues',
      `maxlen-${q.name}`,
      pattern,
      '{"max-length":3,"overflow":"reject-publish"}',
    );
    try {
      const jobs = Array.from({ length: 5 }, (_, i) => ({ name: 't', data: i, options: { jobId: `${q.name}-${i}` } }));
      const error = await q.addBulk(jobs).catch((e: unknown) => e);
      expect(isBulkAddIncompleteError(error)).toBe(true);
      if (!isBulkAddIncompleteError(error)) return;
      expect(error.queued.length + error.failed.length).toBe(5);
      expect(error.queued).toHaveLength(3);
      for (const j of error.queued) expect((await q.getJob(j.id))?.state).toBe('waiting');
      for (const j of error.failed) expect(await q.getJob(j.id)).toBeUndefined();
      const conn = await connect(URL);
      const ch = await conn.createChannel();
      const onBroker: string[] = [];
      for (let m = await ch.get(q.name); m; m = await ch.get(q.name)) onBroker.push(String(m.properties.messageId));
      await conn.close();
      expect(onBroker.sort()).toEqual(error.queued.map((j) => j.id).sort());
    } finally {
      ctl('clear_policy', '-p', '/', `maxlen-${q.name}`);
    }
  });

  it('the acks of jobs finished together go as one multiple ack; the broker holds nothing after close', async () => {
    const q = newQueue({ redis: undefined, statusStore: new MemoryStatusStore(), deadLetter: true });
    const acks = await countAcks();
    try {
      let settled = 0;
      const all = new Promise<void>((r) => {
        const hit = () => ++settled === 300 && r();
        q.onCompleted(hit);
        q.onDead(hit);
      });
      const worker = createWorker(
        q,
        async (job) => {
          if ((job.data as number) % 7 === 0) throw new Error('dead on its only attempt');
        },
        { concurrency: 50, onError: () => {} },
      );
      await q.addBulk(Array.from({ length: 300 }, (_, i) => ({ name: 't', data: i, options: { attempts: 1 } })));
      await all;
      await worker.close();
      const counts = await q.counts();
      expect(counts.completed).toBe(300 - 43);
      expect(counts.dead).toBe(43);
      // One frame per job before (257 acks); runs of jobs finished in one tick now share one.
      expect(acks.counted.multiple).toBeGreaterThan(0);
      expect(acks.counted.frames).toBeLessThan(200);
    } finally {
      acks.stop();
    }
    // Every delivery was settled: had a multiple ack skipped one, the broker would requeue it on close.
    const name = q.name;
    const dlq = (q.backend as RabbitBackend).dlq;
    await q.close();
    open.splice(open.indexOf(q), 1);
    try {
      expect(await readyIn(name)).toBe(0);
      await expect.poll(() => readyIn(dlq)).toBe(43);
    } finally {
      const conn = await connect(URL);
      const ch = await conn.createChannel();
      for (const x of [name, dlq]) await ch.deleteQueue(x);
      await conn.close();
    }
  });

  it('a job still running keeps its delivery while later ones are acked: a connection loss sends it back', async () => {
    const target = new globalThis.URL(URL);
    const proxy = await FaultProxy.start({ target: { host: target.hostname, port: Number(target.port || 5672) } });
    try {
      const q = newQueue({ url: `amqp://${target.username}:${target.password}@127.0.0.1:${proxy.port}` });
      const runs = new Map<string, number>();
      let release!: () => void;
      const gate = new Promise<void>((r) => {
        release = r;
      });
      createWorker(
        q,
        async (job) => {
          runs.set(job.data as string, (runs.get(job.data as string) ?? 0) + 1);
          if (job.data === 'slow' && runs.get('slow') === 1) await gate;
        },
        { concurrency: 10, onError: () => {} },
      );
      // The oldest delivery of the channel stays unsettled while the nine after it finish and are acked.
      await q.add('t', 'slow');
      await expect.poll(() => runs.get('slow')).toBe(1);
      const fast = await q.addBulk(Array.from({ length: 9 }, (_, i) => ({ name: 't', data: `fast${i}` })));
      await expect.poll(async () => (await q.counts()).completed).toBe(9);
      // Their acks reached the broker; the slow job's delivery is the one it still holds for us.
      await expect
        .poll(() => ctl('list_queues', 'name', 'messages_unacknowledged').includes(`${q.name}\t1`), {
          timeout: 10_000,
        })
        .toBe(true);
      proxy.cut();
      // The broker requeues it (a multiple ack past it would have settled it unrun): it runs again.
      await expect.poll(() => runs.get('slow'), { timeout: 10_000 }).toBe(2);
      release();
      for (let i = 0; i < 9; i++) expect(runs.get(`fast${i}`)).toBe(1);
      for (const a of fast) expect((await q.getJob(a.id))?.state).toBe('completed');
    } finally {
      await proxy.close();
    }
  });

  it('a message that is not a job goes to the DLQ at once: it is not held unacked, and batching goes on', async () => {
    const logs = captureLogs();
    const q = newQueue({ redis: undefined, statusStore: new MemoryStatusStore(), logger: logs.logger });
    const b = q.backend as RabbitBackend;
    await b.whenConnected();
    const conn = await connect(URL);
    const ch = await conn.createConfirmChannel();
    ch.sendToQueue(q.name, Buffer.from('{not json'), { priority: 9, messageId: 'garbage' });
    await ch.waitForConfirms();
    await conn.close();
    const acks = await countAcks();
    try {
      let completed = 0;
      const all = new Promise<void>((r) => q.onCompleted(() => ++completed === 200 && r()));
      const worker = createWorker(q, async () => {}, { concurrency: 20, onError: () => {} });
      await q.addBulk(Array.from({ length: 200 }, (_, i) => ({ name: 't', data: i })));
      await all;
      await worker.close();
      expect(acks.counted.multiple).toBeGreaterThan(0);
    } finally {
      acks.stop();
    }
    expect(logs.lines.some((l) => String(l.msg).includes('not a job was dead-lettered'))).toBe(true);
    await expect.poll(() => readyIn(b.dlq)).toBe(1);
    await expect.poll(() => ctl('list_queues', 'name', 'messages_unacknowledged').includes(`${q.name}\t0`)).toBe(true);
  });

  it('a status store failing while a fetch takes deliveries gives them back: they run after, none held', async () => {
    class Flaky extends MemoryStatusStore {
      failures = 2;
      override async move(...args: Parameters<MemoryStatusStore['move']>) {
        if (args[1].state === 'active' && this.failures > 0) {
          this.failures--;
          throw new Error('status store down');
        }
        return super.move(...args);
      }
    }
    const store = new Flaky();
    const q = newQueue({ redis: undefined, statusStore: store });
    const errors: unknown[] = [];
    let completed = 0;
    const all = new Promise<void>((r) => q.onCompleted(() => ++completed === 30 && r()));
    const added = await q.addBulk(Array.from({ length: 30 }, (_, i) => ({ name: 't', data: i })));
    const worker = createWorker(q, async () => {}, { concurrency: 5, onError: (e) => errors.push(e) });
    await all;
    await worker.close();
    expect(store.failures).toBe(0);
    expect(errors.map((e) => (e as Error).message)).toContain('status store down');
    for (const a of added) {
      const job = await q.getJob(a.id);
      expect(job?.state).toBe('completed');
      expect(job?.stalledCount).toBe(0); // given back, not stalled
    }
    // (Acks go out at the end of the tick: polled.)
    await expect
      .poll(() => ctl('list_queues', 'name', 'messages_ready', 'messages_unacknowledged').includes(`${q.name}\t0\t0`))
      .toBe(true);
  });

  it('without a redis status store: one warning per process that status and dedupe are per process', async () => {
    const logs = captureLogs();
    const warned = () => logs.atLeast(40).filter((l) => String(l.msg).includes('without a `redis` status store'));
    newQueue({ redis: undefined, logger: logs.logger });
    newQueue({ redis: undefined, logger: logs.logger });
    expect(warned()).toHaveLength(1);
    // An explicit store (memory included: a choice) is not warned about.
    newQueue({ redis: undefined, statusStore: new MemoryStatusStore(), logger: logs.logger });
    expect(warned()).toHaveLength(1);
  });
});
