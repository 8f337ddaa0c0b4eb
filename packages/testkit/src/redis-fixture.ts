import { randomUUID } from 'node:crypto';
import { type Cluster, createRedis, globEscape, type Redis } from '@ballast/core';

export interface RedisFixture {
  /** A connected client for the test file. */
  readonly redis: Redis;
  /** Unique per fixture: give it to the code under test as its key prefix. */
  readonly prefix: string;
  /** `key('a', 1)` → `<prefix>:a:1`. */
  key(...parts: (string | number)[]): string;
  /** A further connection (blocking reads, pub/sub), closed with the fixture. */
  duplicate(): Redis;
  /** Deletes every key under the prefix; returns how many. */
  cleanup(): Promise<number>;
  /** `cleanup()` then disconnect every connection. */
  close(): Promise<void>;
}

export interface RedisFixtureOptions {
  /** Default `BALLAST_REDIS_URL` or `redis://127.0.0.1:6379`. */
  url?: string;
  /** Readable part of the prefix, e.g. the test file's name. */
  name?: string;
}

/**
 * `text` as a literal in a Redis glob (`SCAN MATCH`, `KEYS`): `*`, `?`, `[`, `]` and `\` escaped, so a prefix
 * made from a test's name (`orders[1]`, `a*b`) matches exactly its own keys and never another file's.
 */
export function escapeGlob(text: string): string {
  return globEscape(text);
}

export function defaultRedisUrl(): string {
  return process.env.BALLAST_REDIS_URL ?? 'redis://127.0.0.1:6379';
}

/**
 * A connection plus a unique key prefix (`test:<name>:<uuid>`), so test files run in parallel against one
 * real Redis without seeing each other's keys, and leave nothing behind.
 */
export async function createRedisFixture(options: RedisFixtureOptions = {}): Promise<RedisFixture> {
  const redis = createRedis(options.url ?? defaultRedisUrl()) as Redis;
  await redis.ping();
  const prefix = `test:${(options.name ?? 't').replace(/[{}\s]/g, '_')}:${randomUUID().slice(0, 8)}`;
  const extra: Redis[] = [];
  const cleanup = async () => {
    let deleted = 0;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${escapeGlob(prefix)}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
    return deleted;
  };
  return {
    redis,
    prefix,
    key: (...parts) => [prefix, ...parts].join(':'),
    duplicate() {
      const d = redis.duplicate();
      extra.push(d);
      return d;
    },
    cleanup,
    async close() {
      try {
        await cleanup();
      } finally {
        await disconnected([...extra, redis]);
      }
    },
  };
}

/**
 * Disconnects every client and resolves once each has ended (ioredis reports `end` only after its socket
 * closed, so `status` right after `disconnect()` can still read `ready`). Bounded: a client that never says
 * `end` within 2 s is left to finish on its own.
 */
function disconnected(clients: readonly (Redis | Cluster)[]): Promise<void> {
  const ends = clients.map((c) =>
    c.status === 'end'
      ? undefined
      : new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 2_000);
          timer.unref();
          c.once('end', () => {
            clearTimeout(timer);
            resolve();
          });
        }),
  );
  for (const c of clients) c.disconnect();
  return Promise.all(ends).then(() => undefined);
}

/** The local 3-master Cluster `npm test` starts, or `BALLAST_REDIS_CLUSTER_NODES` (comma-separated host:port). */
export function defaultClusterNodes(): string[] {
  const env = process.env.BALLAST_REDIS_CLUSTER_NODES;
  return env ? env.split(',').map((n) => n.trim()) : ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003'];
}

export interface RedisClusterFixture {
  readonly cluster: Cluster;
  /** `test:<name>:<uuid>`: unique per fixture; every key under it is deleted on every master at close. */
  readonly prefix: string;
  readonly nodes: readonly string[];
  close(): Promise<void>;
}

/** A prefix for a Cluster fixture, known before it connects (tests build key names at collection time). */
export function clusterFixturePrefix(name = 't'): string {
  return `test:${name.replace(/[{}\s]/g, '_')}:${randomUUID().slice(0, 8)}`;
}

/**
 * A Redis Cluster client plus a unique key prefix; `close()` deletes the prefix's keys on every master (a
 * key's slot decides its node, so one SCAN on one node would miss most of them) and disconnects.
 */
export async function createRedisClusterFixture(
  options: { name?: string; nodes?: readonly string[]; prefix?: string } = {},
): Promise<RedisClusterFixture> {
  const nodes = options.nodes ?? defaultClusterNodes();
  const cluster = createRedis({ nodes: [...nodes] }) as Cluster;
  await cluster.ping();
  const prefix = options.prefix ?? clusterFixturePrefix(options.name);
  return {
    cluster,
    prefix,
    nodes,
    async close() {
      try {
        await Promise.all(
          cluster.nodes('master').map(async (node) => {
            let cursor = '0';
            do {
              const [next, keys] = await node.scan(cursor, 'MATCH', `${escapeGlob(prefix)}*`, 'COUNT', 1000);
              cursor = next;
              if (keys.length > 0) await Promise.all(keys.map((k) => node.unlink(k)));
            } while (cursor !== '0');
          }),
        );
      } finally {
        await disconnected([cluster]);
      }
    },
  };
}

/**
 * Wraps an ioredis client so the commands it sends are counted (every ioredis command goes through
 * `sendCommand`): "no Redis call on this path" assertions count one client's commands, not the server's,
 * which other test files running in parallel also talk to.
 */
export function countCommands<C extends object>(client: C): { client: C; sent(): number } {
  let sent = 0;
  const proxy = new Proxy(client, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop === 'sendCommand' && typeof value === 'function') {
        return (...args: unknown[]) => {
          sent++;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return value;
    },
  });
  return { client: proxy, sent: () => sent };
}
