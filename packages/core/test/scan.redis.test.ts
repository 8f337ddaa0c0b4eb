/** `scanKeys` against the real Redis and the local 3-master Cluster: every matching key, on every master. */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, createRedis, type Redis } from '../src/redis';
import { globEscape, scanKeys } from '../src/scan';

const nodes = process.env.BALLAST_REDIS_CLUSTER_NODES?.split(',').map((n) => n.trim()) ?? [
  '127.0.0.1:7001',
  '127.0.0.1:7002',
  '127.0.0.1:7003',
];
const prefix = `test:core:scan:${randomUUID().slice(0, 8)}`;
let redis: Redis;
let cluster: Cluster;

beforeAll(async () => {
  redis = createRedis({ url: 'redis://127.0.0.1:6379' }) as Redis;
  cluster = createRedis({ nodes }) as Cluster;
  await Promise.all([redis.ping(), cluster.ping()]);
});
afterAll(async () => {
  for (const c of [redis, cluster] as const) {
    const keys = new Set<string>();
    for await (const k of scanKeys(c, `${prefix}*`)) keys.add(k);
    await Promise.all([...keys].map((k) => c.del(k)));
    c.disconnect();
  }
});

describe.each([
  ['standalone', () => redis],
  ['cluster', () => cluster],
] as const)('scanKeys (%s)', (_, client) => {
  it('yields every matching key across pages (and masters), and no other', async () => {
    const c = client();
    const base = `${prefix}:${_}`;
    // More keys than one SCAN page (COUNT 50 below), spread over many slots: on the Cluster every master holds some.
    const wanted = Array.from({ length: 300 }, (_, i) => `${base}:{t${i}}:owners`);
    await Promise.all(wanted.map((k) => c.set(k, '1')));
    await c.set(`${base}:{t1}:other`, '1');
    const seen = new Set<string>();
    for await (const k of scanKeys(c, `${globEscape(base)}:*:owners`, { count: 50 })) seen.add(k);
    expect([...seen].sort()).toEqual([...wanted].sort());
  });

  it('filters by type', async () => {
    const c = client();
    const base = `${prefix}:${_}:typed`;
    await c.set(`${base}:s`, '1');
    await c.hset(`${base}:h`, 'f', '1');
    const seen: string[] = [];
    for await (const k of scanKeys(c, `${globEscape(base)}:*`, { type: 'hash' })) seen.push(k);
    expect(seen).toEqual([`${base}:h`]);
  });
});

it('globEscape makes glob characters literal', () => {
  expect(globEscape('a*b?c[d]e\\f')).toBe('a\\*b\\?c\\[d\\]e\\\\f');
});
