/**
 * The built `ballast` bin against a real Redis (127.0.0.1:6379, a prefix of its own per run): queue counts,
 * jobs and the dead-letter queue, an event type's groups and DLQ, a config's history, diff and rollback —
 * output as tables and as JSON, destructive commands guarded (dry run, --yes, no terminal), exit codes.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { RedisConfigStore } from '@ballast/config-center';
import { createEventBus } from '@ballast/event-bus';
import { createQueue, createWorker, type Queue, type RabbitBackend } from '@ballast/queue';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { bin, binRunner } from './bin';

// Every test spawns the bin a few times: on a loaded 2-core machine a spawn takes seconds.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

const prefix = `cli-test-${randomUUID().slice(0, 8)}`;
let redis: Redis;
const { ballast, json } = binRunner(prefix);

beforeAll(() => {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: build @ballast/cli first (npm test builds every package)`);
  redis = new Redis('redis://127.0.0.1:6379');
});

afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

describe('ballast queue', () => {
  const name = 'reports';
  beforeAll(async () => {
    const queue = createQueue<{ n: number }>(name, { backend: 'redis', redis, prefix });
    for (let n = 0; n < 3; n++) await queue.add('render', { n }, { attempts: 1, priority: 'high' });
    // Three jobs die: a worker fails every job with n < 3 (one attempt each); the low one stays waiting.
    let left = 3;
    const dead = new Promise<void>((resolve) => queue.onDead(() => --left === 0 && resolve()));
    const worker = createWorker(
      queue,
      {
        render: async (job) => {
          if (job.data.n < 3) throw new Error(`boom ${job.data.n}`);
        },
      },
      { concurrency: 1, onError: () => {} },
    );
    await dead;
    await queue.pause();
    await worker.close();
    await queue.close();
  });

  it('counts jobs by state', async () => {
    const counts = await json('queue', 'counts', name);
    expect(counts.dead).toBe(3);
    const table = await ballast('queue', 'counts', name);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/dead\s*│\s*3/);
  });

  it('lists dead jobs with their errors, and pages with a cursor', async () => {
    const page = await json('queue', 'dead', 'list', name, '--limit', '2');
    expect(page.jobs.map((j: { error: { message: string } }) => j.error.message).sort()).toEqual(['boom 0', 'boom 1']);
    expect(page.cursor).toBeTruthy();
    const next = await json('queue', 'dead', 'list', name, '--limit', '2', '--cursor', page.cursor);
    expect(next.jobs.map((j: { error: { message: string } }) => j.error.message)).toEqual(['boom 2']);
    expect(next.cursor).toBeNull();
  });

  it('guards replay: dry run changes nothing, no terminal and no --yes refuses with exit 4', async () => {
    const dry = await ballast('queue', 'dead', 'replay', name, '--all', '--dry-run', '--json');
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.out).jobs).toHaveLength(3);
    const unasked = await ballast('queue', 'dead', 'replay', name, '--all');
    expect(unasked.code).toBe(4);
    expect(unasked.err).toContain('--yes');
    expect((await json('queue', 'counts', name)).dead).toBe(3);
  });

  it('replays one dead job by id and refuses an id that is not dead (exit 3)', async () => {
    const [first] = (await json('queue', 'dead', 'list', name)).jobs;
    expect(await json('queue', 'dead', 'replay', name, first.id, '--yes')).toEqual({ replayed: 1 });
    const again = await ballast('queue', 'dead', 'replay', name, first.id, '--yes');
    expect(again.code).toBe(3);
    expect(again.err).toContain(first.id);
    expect(await json('queue', 'dead', 'replay', name, '--all', '--yes')).toEqual({ replayed: 2 });
    const counts = await json('queue', 'counts', name);
    expect([counts.dead, counts.waiting]).toEqual([0, 3]);
  });

  it('lists jobs in a state, and pauses and resumes the queue', async () => {
    const waiting = await json('queue', 'jobs', name, '--state', 'waiting');
    expect(waiting).toHaveLength(3);
    expect(await json('queue', 'resume', name)).toEqual({ queue: name, paused: false });
    expect(await json('queue', 'pause', name)).toEqual({ queue: name, paused: true });
    const bad = await ballast('queue', 'jobs', name, '--state', 'sleeping');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--state');
  });

  it('counts and lists flow parents waiting for their children (waiting-children)', async () => {
    const assemblies = createQueue('assemblies', { backend: 'redis', redis, prefix });
    const tree = await assemblies.addFlow({ name: 'assemble', data: null, children: [{ name: 'part', data: 1 }] });
    await assemblies.close();
    const table = await ballast('queue', 'counts', 'assemblies');
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/waiting-children\s*│\s*1/);
    expect(table.out).toMatch(/waiting\s*│\s*1/);
    const parents = await json('queue', 'jobs', 'assemblies', '--state', 'waiting-children');
    expect(parents.map((j: { id: string; state: string }) => [j.id, j.state])).toEqual([[tree.id, 'waiting-children']]);
    const listed = await ballast('queue', 'jobs', 'assemblies', '--state', 'waiting-children');
    expect(listed.out).toContain(tree.id);
    expect((await ballast('queue', 'jobs', '--help')).out).toContain('waiting-children');
  });
});

describe('ballast bus', () => {
  const type = 'order.placed';
  beforeAll(async () => {
    const bus = createEventBus({
      redis,
      prefix,
      source: 'cli-test',
      events: { [type]: z.object({ orderId: z.string() }) },
    });
    const sub = await bus.subscribe(
      type,
      async () => {
        throw new Error('payment service down');
      },
      { group: 'billing', maxDeliveries: 1 },
    );
    let left = 2;
    const dead = new Promise<void>((resolve) => sub.onDeadLetter(() => --left === 0 && resolve()));
    await bus.publish(type, { orderId: 'o-1' });
    await bus.publish(type, { orderId: 'o-2' });
    await dead;
    await bus.close();
  });

  it('shows groups with pending and lag, and the DLQ', async () => {
    const groups = await json('bus', 'groups', type);
    expect(groups.map((g: { name: string }) => g.name)).toContain('billing');
    const letters = await json('bus', 'dlq', 'list', type);
    expect(letters).toHaveLength(2);
    expect(letters[0].group).toBe('billing');
  });

  it('replays one dead letter by id (to its group only), and refuses an unknown id (exit 3)', async () => {
    const [first] = await json('bus', 'dlq', 'list', type);
    const replayed = await json('bus', 'dlq', 'replay', type, first.id, '--yes');
    expect(replayed.replayed).toHaveLength(1);
    expect(await json('bus', 'dlq', 'list', type)).toHaveLength(1);
    const missing = await ballast('bus', 'dlq', 'replay', type, '0-1', '--yes');
    expect(missing.code).toBe(3);
  });
});

describe('ballast config', () => {
  const name = 'billing-service';
  beforeAll(async () => {
    const store = new RedisConfigStore({ redis, name, prefix });
    await store.commit(0, { 'pool.max': 10, 'db.password': 'hunter2' }, { at: Date.now(), message: 'initial' });
    await store.commit(1, { 'pool.max': 50, 'db.password': 'hunter2', 'feature.x': true }, { at: Date.now() });
    await store.close();
  });

  it('shows the current entries with secrets redacted unless asked', async () => {
    const shown = await json('config', 'show', name);
    expect(shown).toEqual({ version: 2, entries: { 'pool.max': 50, 'db.password': '<redacted>', 'feature.x': true } });
    expect((await json('config', 'show', name, '--show-secrets')).entries['db.password']).toBe('hunter2');
    const table = await ballast('config', 'show', name);
    expect(table.out).not.toContain('hunter2');
  });

  it('lists history, diffs two versions and rolls back as a new version', async () => {
    expect((await json('config', 'history', name)).map((r: { version: number }) => r.version)).toEqual([2, 1]);
    expect(await json('config', 'diff', name, '1', '2')).toEqual([
      { key: 'feature.x', change: 'added', to: true },
      { key: 'pool.max', change: 'changed', from: 10, to: 50 },
    ]);
    const rolled = await json('config', 'rollback', name, '1', '--yes', '-m', 'too many connections');
    expect(rolled.version).toBe(3);
    expect(rolled.rollbackOf).toBe(1);
    expect((await json('config', 'show', name)).entries).toEqual({ 'pool.max': 10, 'db.password': '<redacted>' });
    const [latest] = await json('config', 'history', name);
    expect([latest.rollbackOf, latest.message]).toEqual([1, 'too many connections']);
    expect((await ballast('config', 'diff', name, '7')).code).toBe(3);
  });
});

describe('ballast queue on RabbitMQ (--amqp)', () => {
  const amqp = process.env.BALLAST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
  const name = `cli-rabbit-${randomUUID().slice(0, 8)}`;
  let queue: Queue<{ n: number }>;
  beforeAll(async () => {
    queue = createQueue<{ n: number }>(name, { backend: 'rabbitmq', url: amqp, redis, prefix });
    await queue.add('render', { n: 0 }, { attempts: 1 });
    await queue.add('render', { n: 1 }, { attempts: 1 });
    let left = 2;
    const dead = new Promise<void>((resolve) => queue.onDead(() => --left === 0 && resolve()));
    const worker = createWorker(
      queue,
      {
        render: async (job) => {
          throw new Error(`boom ${job.data.n}`);
        },
      },
      { concurrency: 1, onError: () => {} },
    );
    await dead;
    await worker.close();
  });
  afterAll(async () => {
    await (queue.backend as RabbitBackend).deleteQueues().catch(() => {});
    await queue.close();
  });

  it('counts and lists dead jobs from the status store, and replays them through the broker', async () => {
    expect((await json('--amqp', amqp, 'queue', 'counts', name)).dead).toBe(2);
    const page = await json('--amqp', amqp, 'queue', 'dead', 'list', name);
    expect(page.jobs.map((j: { error: { message: string } }) => j.error.message).sort()).toEqual(['boom 0', 'boom 1']);
    expect((await json('--amqp', amqp, 'queue', 'dead', 'replay', name, '--all', '--yes')).replayed).toBe(2);
    const counts = await json('--amqp', amqp, 'queue', 'counts', name);
    expect([counts.dead, counts.waiting]).toEqual([0, 2]);
  });
});

describe('bad days', () => {
  it('names an unreachable Redis and exits 1 within the timeout', async () => {
    const t0 = Date.now();
    const r = await ballast('--redis', 'redis://127.0.0.1:1', '--timeout', '1000', 'queue', 'counts', 'x');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/Redis at redis:\/\/127\.0\.0\.1:1 is unreachable: .*ECONNREFUSED/);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('exits 2 on an unknown command or a bad option', async () => {
    expect((await ballast('queue', 'explode')).code).toBe(2);
    expect((await ballast('queue', 'jobs', 'x', '--limit', '-3')).code).toBe(2);
  });
});
