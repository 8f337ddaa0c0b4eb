import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSlot } from '../src/keys';
import { defineScript, loadScripts, runScript } from '../src/lua';
import { type Cluster, createRedis, type Redis } from '../src/redis';
import { recordingScripts } from './script-recording';

// The local 3-master Cluster `npm test` starts (scripts/ensure-services.mjs), or BALLAST_REDIS_CLUSTER_NODES —
// the same nodes testkit's useRedisClusterFixture uses (core cannot depend on testkit).
const nodes = process.env.BALLAST_REDIS_CLUSTER_NODES?.split(',').map((n) => n.trim()) ?? [
  '127.0.0.1:7001',
  '127.0.0.1:7002',
  '127.0.0.1:7003',
];
const prefix = `test:core:lua-cluster:${randomUUID().slice(0, 8)}`;
let cluster: Cluster;
const written: string[] = [];

beforeAll(async () => {
  cluster = createRedis({ nodes }) as Cluster;
  await cluster.ping();
});
afterAll(async () => {
  // Keys in different slots: one DEL each (a multi-key DEL across slots is a CROSSSLOT error).
  await Promise.all(written.map((k) => cluster.del(k)));
  cluster.disconnect();
});

const addressOf = (node: Redis) => `${node.options.host}:${node.options.port}`;

/** One key under the prefix per master, each in a slot that master serves. */
function keyPerMaster(masters: readonly Redis[]): Map<string, string> {
  const wanted = new Set(masters.map(addressOf));
  const found = new Map<string, string>();
  for (let i = 0; found.size < wanted.size && i < 10_000; i++) {
    const key = `${prefix}:k${i}`;
    const owner = cluster.slots[hashSlot(key)]?.[0];
    if (owner && wanted.has(owner) && !found.has(owner)) found.set(owner, key);
  }
  return found;
}

describe('runScript on Redis Cluster', () => {
  it('after SCRIPT FLUSH on every master, keys in different slots still run: NOSCRIPT → EVAL reloads each node', async () => {
    const script = defineScript('incrby', `-- ${randomUUID()}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])`);
    const masters = cluster.nodes('master');
    expect(masters.length).toBeGreaterThanOrEqual(2);
    const exists = () => Promise.all(masters.map((m) => m.script('EXISTS', script.sha) as Promise<number[]>));

    await loadScripts(cluster, [script]);
    expect(await exists()).toEqual(masters.map(() => [1]));

    // Other test files' scripts go too: every Ballast caller runs through runScript or reloads on NOSCRIPT.
    await Promise.all(masters.map((m) => m.script('FLUSH')));
    expect(await exists()).toEqual(masters.map(() => [0]));

    const keys = keyPerMaster(masters);
    expect(keys.size).toBe(masters.length);
    const slots = new Set([...keys.values()].map(hashSlot));
    expect(slots.size).toBe(masters.length); // different slots, on different nodes
    written.push(...keys.values());

    for (const key of keys.values()) {
      const { calls, client } = recordingScripts(cluster);
      expect(await runScript(client, script, [key], [5])).toBe(5);
      expect(calls).toEqual(['evalsha:NOSCRIPT', 'eval']);
    }
    // EVAL cached the script on every node it ran on: each master has it again …
    expect(await exists()).toEqual(masters.map(() => [1]));
    // … and from now on one EVALSHA serves each key.
    for (const key of keys.values()) {
      const { calls, client } = recordingScripts(cluster);
      expect(await runScript(client, script, [key], [2])).toBe(7);
      expect(calls).toEqual(['evalsha']);
    }
  });
});
