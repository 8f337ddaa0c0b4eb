/**
 * Real data for every panel, on the shared Redis (127.0.0.1:6379) under a prefix of its own: two breakers
 * with calls, a queue with waiting and dead jobs and a flow parent waiting for its child, an event type with a consumer group and dead letters, a saga
 * whose compensation failed (dead-lettered) and one still running, a held lock, two registered instances, and
 * a config with three versions (a secret among the keys). Each action the tests take can succeed once the
 * fixture's `heal()` has mended the failing dependencies.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BreakerRegistry } from '@ballast/circuit-breaker';
import { RedisConfigStore } from '@ballast/config-center';
import { createLogger } from '@ballast/core';
import { RedisBackend } from '@ballast/discovery';
import { createEventBus } from '@ballast/event-bus';
import { createLockManager, RedisLockBackend } from '@ballast/lock';
import { createQueue, createWorker } from '@ballast/queue';
import { createOrchestrator, defineSaga, RedisSagaStore } from '@ballast/saga';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { createDashboard, type Dashboard, type DashboardAction, type DashboardOptions } from '../src/index';
import { buildUi } from '../ui-build';

export const EVENT = 'order.placed';
export const QUEUE = 'reports';
export const CONFIG = 'billing-service';
export const LOCK = 'invoice:42';

const quiet = createLogger({ level: 'silent' });

export interface Fixture {
  prefix: string;
  redis: Redis;
  options: DashboardOptions;
  breakers: BreakerRegistry;
  /** Every action `authorize` was asked about. */
  asked: DashboardAction[];
  /** The queue's flow parent, waiting for its child (due in an hour): state `waiting-children`. */
  flowParent: string;
  /** Saga id whose compensation is dead-lettered; and the one still running. */
  failedSaga: string;
  runningSaga: string;
  /** Mends the refund service (the saga's failing compensation) and the billing consumer. */
  heal(): void;
  close(): Promise<void>;
}

export async function seed(): Promise<Fixture> {
  const prefix = `dash-test-${randomUUID().slice(0, 8)}`;
  const redis = new Redis('redis://127.0.0.1:6379');
  const closers: (() => Promise<unknown> | unknown)[] = [];
  const broken = { refund: true, billing: true };

  // Breakers: payments fails half its calls, inventory is healthy.
  const breakers = new BreakerRegistry({ timeoutMs: 1_000, logger: quiet });
  closers.push(() => breakers.close());
  for (let i = 0; i < 6; i++) {
    await breakers.get('inventory').execute(async () => i);
    await breakers
      .get('payments')
      .execute(async () => {
        if (i % 2) throw new Error('payment gateway 503');
      })
      .catch(() => {});
  }

  // Queue: three jobs die (one attempt each), two wait.
  const queue = createQueue<{ n: number }>(QUEUE, { backend: 'redis', redis, prefix });
  closers.push(() => queue.close());
  for (let n = 0; n < 3; n++) await queue.add('render', { n }, { attempts: 1 });
  let left = 3;
  const dead = new Promise<void>((resolve) => queue.onDead(() => --left === 0 && resolve()));
  const worker = createWorker(
    queue,
    {
      render: async (job) => {
        throw new Error(`renderer crashed on ${job.data.n}`);
      },
    },
    { concurrency: 1, onError: () => {} },
  );
  await dead;
  await worker.close();
  await queue.pause(); // what waits keeps waiting: a replayed job stays visible
  await queue.add('render', { n: 10 }, { priority: 'high' });
  await queue.add('render', { n: 11 }, { priority: 'low' });
  // A flow whose parent waits for its child (delayed an hour, so the waiting count stays two).
  const flow = await queue.addFlow({
    name: 'bundle',
    data: { n: 20 },
    children: [{ name: 'render', data: { n: 21 }, options: { delayMs: 3_600_000 } }],
  });
  await queue.upsertScheduler(
    'nightly-report',
    { pattern: '0 0 3 * * *', tz: 'Asia/Shanghai' },
    {
      name: 'render',
      data: { n: 99 },
    },
  );

  // Event stream: the billing group dead-letters two orders.
  const bus = createEventBus({
    redis,
    prefix,
    source: 'dashboard-test',
    events: { [EVENT]: z.object({ orderId: z.string() }) },
    logger: quiet,
  });
  closers.push(() => bus.close());
  const sub = await bus.subscribe(
    EVENT,
    async () => {
      if (broken.billing) throw new Error('billing database down');
    },
    { group: 'billing', maxDeliveries: 1 },
  );
  let letters = 2;
  const lettered = new Promise<void>((resolve) => sub.onDeadLetter(() => --letters === 0 && resolve()));
  await bus.publish(EVENT, { orderId: 'o-1' });
  await bus.publish(EVENT, { orderId: 'o-2' });
  await lettered;

  // Sagas: checkout fails at ship; refunding the charge fails too, so it is dead-lettered.
  type Checkout = { orderId: string; charged?: boolean };
  const checkout = defineSaga<Checkout>('checkout', {
    steps: [
      { name: 'reserve', retry: false, run: async () => ({}), compensate: async () => {} },
      {
        name: 'charge',
        retry: false,
        run: async () => ({ charged: true }),
        compensate: async () => {
          if (broken.refund) throw new Error('refund service down');
        },
      },
      {
        name: 'ship',
        retry: false,
        run: async () => {
          throw new Error('no courier');
        },
      },
    ],
  });
  const hold = defineSaga<{ orderId: string }>('hold', {
    steps: [
      {
        name: 'wait-for-stock',
        retry: false,
        run: (_c, info) =>
          new Promise((_, reject) => info.signal.addEventListener('abort', () => reject(info.signal.reason))),
        compensate: async () => {},
      },
    ],
  });
  const store = new RedisSagaStore({ redis, prefix });
  const sagas = createOrchestrator({
    store,
    sagas: [checkout, hold],
    compensationMaxRetries: 0,
    sweepIntervalMs: 0,
    logger: quiet,
  });
  closers.push(() => sagas.close());
  const failedSaga = `checkout-${randomUUID().slice(0, 6)}`;
  await sagas.run(checkout, { orderId: 'o-7' }, { sagaId: failedSaga }).catch(() => {});
  const runningSaga = `hold-${randomUUID().slice(0, 6)}`;
  // Left running: close() halts it (its lease left to a sweeper that never comes; the keys are deleted).
  void sagas.run(hold, { orderId: 'o-8' }, { sagaId: runningSaga }).catch(() => {});

  // A lock held by this process for a minute.
  const lockBackend = new RedisLockBackend({ redis, prefix });
  const locks = createLockManager({ backend: lockBackend, prefix, logger: quiet });
  const lease = await locks.acquire(LOCK, { ttlMs: 60_000 });
  closers.push(async () => {
    await lease.release();
    await locks.close();
  });

  // Discovery: two instances of one service, one failing its check.
  const discovery = new RedisBackend({ redis, prefix });
  closers.push(() => discovery.close());
  await discovery.register({ id: 'users-1', name: 'users', address: '10.0.0.1', port: 8080, tags: ['v2'], meta: {} });
  await discovery.register({
    id: 'users-2',
    name: 'users',
    address: '10.0.0.2',
    port: 8080,
    tags: ['v2'],
    meta: {},
    status: 'critical',
  });

  // Config: three versions; v2 raised the pool, v3 turned a flag on.
  const config = new RedisConfigStore({ redis, name: CONFIG, prefix });
  closers.push(() => config.close());
  await config.commit(0, { 'pool.max': 10, 'db.password': 'hunter2' }, { at: Date.now(), message: 'initial' });
  await config.commit(1, { 'pool.max': 50, 'db.password': 'hunter2' }, { at: Date.now(), message: 'more connections' });
  await config.commit(
    2,
    { 'pool.max': 50, 'db.password': 'hunter2', 'feature.fastCheckout': true },
    { at: Date.now(), message: 'fast checkout' },
  );

  const asked: DashboardAction[] = [];
  const options: DashboardOptions = {
    basePath: '/ops/ballast',
    title: 'Ballast · test',
    breakers,
    queues: [queue],
    buses: [{ name: 'orders', bus, types: [EVENT] }],
    sagas,
    locks: { backend: lockBackend, resources: [LOCK, 'invoice:43'], manager: locks },
    // The client's outlier detection, as a test double: users-2 was ejected from picking.
    discovery: {
      backend: discovery,
      services: ['users'],
      client: { ejected: (s) => (s === 'users' ? ['users-2'] : []) },
    },
    config: { name: CONFIG, store: config },
    liveIntervalMs: 250,
    // Operators may do anything but delete dead letters (the refusal the tests look for).
    authorize: (req, action) => {
      asked.push(action);
      return req.headers['x-test-user'] !== 'intern' && action.name !== 'stream.dlq.delete';
    },
  };

  return {
    prefix,
    redis,
    options,
    breakers,
    asked,
    flowParent: flow.id,
    failedSaga,
    runningSaga,
    heal() {
      broken.refund = false;
      broken.billing = false;
    },
    async close() {
      for (const close of closers.reverse()) await close();
      const keys = await redis.keys(`*${prefix}*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    },
  };
}

/** The dashboard of `options` on a local port, the UI bundle built from source as the package build does. */
export async function serve(
  options: DashboardOptions,
): Promise<{ origin: string; dashboard: Dashboard; server: Server }> {
  (globalThis as { __BALLAST_DASHBOARD_UI__?: string }).__BALLAST_DASHBOARD_UI__ ??= buildUi();
  const dashboard = createDashboard(options);
  const server = createServer((req, res) =>
    dashboard(req, res, () => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('the host app');
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { origin: `http://127.0.0.1:${port}`, dashboard, server };
}
