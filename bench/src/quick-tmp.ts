import { createLogger, createRedis, type Redis } from '@ballast/core';
import { createEventBus } from '@ballast/event-bus';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
const N = Number(process.env.N ?? 50000);
const redis = createRedis('redis://127.0.0.1:6379') as Redis;
const raw = createRedis({ url: 'redis://127.0.0.1:6379', redisOptions: { enableAutoPipelining: true } }) as Redis;
const prefix = `bp:quick:${randomUUID().slice(0, 6)}:`;
const bus = createEventBus({ redis, prefix, source: 'bench', events: { 'bench.tick': z.object({ n: z.number() }) }, logger: createLogger({ level: 'silent' }), commandTimeoutMs: 60000 });
const data = Array.from({ length: N }, (_, n) => ({ n }));
for (let r = 0; r < Number(process.env.R ?? 3); r++) {
  let t = performance.now();
  await Promise.all(data.map((d) => bus.publish('bench.tick', d)));
  const b = performance.now() - t;
  t = performance.now();
  await Promise.all(data.map((d) => raw.xadd(prefix + 'raw', '*', 'event_id', randomUUID(), 'event_type', 'bench.tick', 'source_service', 'bench', 'timestamp', new Date().toISOString(), 'data', JSON.stringify(d), 'metadata', '{}')));
  const w = performance.now() - t;
  console.log(`ballast ${(N / b * 1000).toFixed(0)}/s raw ${(N / w * 1000).toFixed(0)}/s ratio ${(w / b).toFixed(2)}`);
  await redis.del(prefix + 'raw', `${prefix}events:{bench.tick}`, `${prefix}events:all`);
}
await bus.close(); redis.disconnect(); raw.disconnect();
