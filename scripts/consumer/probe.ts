// The typed probe of the consumer check: what issue 17 found failing in a fresh project, written as a user
// writes it, with the user's own zod and ioredis (whichever peer version the check installed).

import { createConfig } from '@ballast/config-center';
import { createRedis } from '@ballast/core';
import { createEventBus } from '@ballast/event-bus';
import { createLockManager } from '@ballast/lock';
import { Cluster, Redis } from 'ioredis';
import { Redis as OtherRedis } from 'ioredis-other';
import { z } from 'zod';

const redis = new Redis({ lazyConnect: true });
const bus = createEventBus({
  redis, // the user's ioredis, 5.x or 6.x (TS2322 with ioredis 6 before)
  source: 'probe',
  events: { 'order.placed': z.object({ orderId: z.string(), amount: z.number() }) }, // the user's zod
});
await bus.subscribe('order.placed', async (e) => {
  const amount: number = e.data.amount; // `unknown` with another zod 4.x before
  const id: string = e.data.orderId;
  void amount;
  void id;
});
// @ts-expect-error data is checked against the user's schema
await bus.publish('order.placed', { orderId: 'o1', amount: 'ten' });

const locks = createLockManager({ redis: new Cluster([{ host: '127.0.0.1', port: 7001 }], { lazyConnect: true }) });
void locks;
// A client of another copy of ioredis than the one Ballast's declarations resolve (see check-consumer.mjs).
const other = new OtherRedis({ lazyConnect: true });
createEventBus({ redis: other, source: 'probe', events: {} });
createLockManager({ redis: other });
const fromUrl = createLockManager({ redis: createRedis('redis://127.0.0.1:6379') });
void fromUrl;

const config = await createConfig({ schema: z.object({ db: z.object({ max: z.number().default(10) }) }), sources: [] });
const max: number = config.get('db.max');
void max;
