import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { z } from 'zod';
import { BallastError } from './errors';
import { redactUrl } from './logger';
import { parseOptions } from './options';

export type { ClusterOptions, RedisOptions } from 'ioredis';
export { Cluster, Redis } from 'ioredis';

/**
 * What Ballast calls on a client: connection state and events, scripts, and the commands its packages send.
 * Public signatures take these members only (as redis-semaphore does), never ioredis's classes: a class with
 * private members is nominal, so a client from another copy or major of ioredis (6.x beside the 5.x we build
 * against) would not fit the class, while it does fit the members it shares. `K & keyof …` keeps the type
 * valid on an ioredis that lacks one of them.
 */
type ClientMember =
  | 'status'
  | 'connect'
  | 'quit'
  | 'disconnect'
  | 'ping'
  | 'eval'
  | 'evalsha'
  | 'script'
  | 'call'
  | 'get'
  | 'set'
  | 'del'
  | 'unlink'
  | 'exists'
  | 'incr'
  | 'incrby'
  | 'hget'
  | 'hset'
  | 'hdel'
  | 'hgetall'
  | 'hvals'
  | 'hexists'
  | 'xadd'
  | 'xrange'
  | 'xdel'
  | 'xack'
  | 'xgroup'
  | 'xinfo'
  | 'xreadgroup'
  | 'xautoclaim'
  | 'xclaim'
  | 'xpending'
  | 'xlen'
  | 'xtrim'
  | 'zadd'
  | 'zrem'
  | 'zrange'
  | 'zrangebyscore'
  | 'zcount'
  | 'zcard'
  | 'lpush'
  | 'ltrim'
  | 'lrange'
  | 'llen'
  | 'blpop'
  | 'publish'
  | 'subscribe'
  | 'unsubscribe'
  | 'psubscribe'
  | 'punsubscribe'
  | 'scan'
  | 'keys'
  | 'time'
  | 'info'
  | 'client';

// biome-ignore lint/suspicious/noExplicitAny: an event's listener takes that event's arguments, whatever they are
type Listener = (...args: any[]) => void;

/**
 * Members whose ioredis types name ioredis's classes (events return the client, `duplicate` and `nodes` return
 * clients, `options` holds connector classes): declared here by shape, so they fit any ioredis copy.
 */
interface ClientShape {
  pipeline(): RedisPipeline;
  on(event: string | symbol, listener: Listener): this;
  once(event: string | symbol, listener: Listener): this;
  off(event: string | symbol, listener: Listener): this;
  removeListener(event: string | symbol, listener: Listener): this;
  listenerCount(event: string | symbol): number;
}

/**
 * A pipeline as Ballast uses one: scripts queued, then sent in one write. By shape, because ioredis's own
 * pipeline type lists every command its version knows (6.1's has commands 6.0's lacks).
 */
export interface RedisPipeline {
  evalsha(sha: string, numKeys: number, ...args: (string | number | Buffer)[]): RedisPipeline;
  exec(): Promise<[Error | null, unknown][] | null>;
}

/** A single-node ioredis client (5.x or 6.x), by the members Ballast uses. */
export type RedisNodeClient = Pick<Redis, (ClientMember | 'stream') & keyof Redis> &
  ClientShape & {
    /** A new connection with the same options (SUBSCRIBE and blocking reads take one of their own). */
    duplicate(): RedisNodeClient;
  };
/** An ioredis Cluster client (5.x or 6.x), by the members Ballast uses. */
export type RedisClusterClient = Pick<Cluster, (ClientMember | 'isCluster') & keyof Cluster> &
  ClientShape & {
    duplicate(): RedisClusterClient;
    nodes(role?: 'all' | 'master' | 'slave'): RedisNodeClient[];
  };
/** A single-node client or a Cluster client: everything in Ballast accepts either. */
export type RedisClient = RedisNodeClient | RedisClusterClient;

/** What one parsed `redis://` / `rediss://` URL holds. */
export interface RedisEndpoint {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db: number;
  tls: boolean;
}

export class InvalidRedisUrlError extends BallastError {
  static readonly code = 'INVALID_REDIS_URL';
  constructor(url: string, reason: string) {
    super(new.target.code, `Invalid Redis URL "${redactUrl(url)}": ${reason}`);
  }
}

/**
 * Parses `redis://[user[:password]@]host[:port][/db]` (`rediss://` for TLS). A bare `host:port` is accepted
 * as `redis://host:port`. User and password are URL-decoded (ACL users: `redis://app:s3cr%40t@host`).
 */
export function parseRedisUrl(input: string): RedisEndpoint {
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(input) ? input : `redis://${input}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidRedisUrlError(input, 'not a URL');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new InvalidRedisUrlError(input, `scheme must be redis:// or rediss://, got ${url.protocol}//`);
  }
  if (!url.hostname) throw new InvalidRedisUrlError(input, 'no host');
  const port = url.port ? Number(url.port) : 6379;
  const dbText = url.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : Number(dbText);
  if (!Number.isInteger(db) || db < 0)
    throw new InvalidRedisUrlError(input, `database must be a number, got "${dbText}"`);
  const endpoint: RedisEndpoint = {
    // IPv6 literals come back bracketed from URL: ioredis wants them bare.
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port,
    db,
    tls: url.protocol === 'rediss:',
  };
  if (url.username) endpoint.username = decodeURIComponent(url.username);
  if (url.password) endpoint.password = decodeURIComponent(url.password);
  return endpoint;
}

const connectionSchema = z
  .object({
    /** `redis://…` or `rediss://…`; several comma-separated `host:port` after the scheme mean a Cluster. */
    url: z.string().min(1).optional(),
    /** Cluster seed nodes (URLs or `host:port`); when set, a `Cluster` client is created. */
    nodes: z.array(z.string().min(1)).min(1).optional(),
    /** Name shown by `CLIENT LIST`. */
    connectionName: z.string().optional(),
    /** Extra ioredis options (single node, or `redisOptions` of each Cluster node). */
    redisOptions: z.custom<RedisOptions>((v) => v === undefined || (typeof v === 'object' && v !== null)).optional(),
    /** Extra ioredis Cluster options. */
    clusterOptions: z
      .custom<ClusterOptions>((v) => v === undefined || (typeof v === 'object' && v !== null))
      .optional(),
  })
  .strict()
  .refine((o) => o.url !== undefined || o.nodes !== undefined, {
    message: 'give url or nodes',
    path: ['url'],
    params: { expected: 'a Redis URL (or nodes for a Cluster)' },
  });

export type RedisConnectionOptions = z.input<typeof connectionSchema>;

function endpointOptions(e: RedisEndpoint): RedisOptions {
  const o: RedisOptions = { host: e.host, port: e.port, db: e.db };
  if (e.username !== undefined) o.username = e.username;
  if (e.password !== undefined) o.password = e.password;
  if (e.tls) o.tls = {};
  return o;
}

/** Splits `redis://a:1,b:2` into node URLs; a single URL comes back as one. */
function splitNodes(url: string): string[] {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^@/]*@)?([^/]*)(\/.*)?$/i.exec(url);
  if (!m?.[3]?.includes(',')) return [url];
  const [, scheme, auth = '', hosts, path = ''] = m;
  return hosts!.split(',').map((h) => `${scheme}${auth}${h.trim()}${path}`);
}

/**
 * Creates an ioredis client from a URL or options.
 *
 * @example
 * createRedis('redis://127.0.0.1:6379');                       // single node
 * createRedis('rediss://app:secret@redis.internal:6380/2');     // TLS, ACL user, db 2
 * createRedis({ nodes: ['10.0.0.1:7000', '10.0.0.2:7000'] });   // Cluster
 * createRedis('redis://10.0.0.1:7000,10.0.0.2:7000');          // Cluster, URL form
 */
export function createRedis(input: string | RedisConnectionOptions): Redis | Cluster {
  const options = parseOptions(connectionSchema, typeof input === 'string' ? { url: input } : input, 'createRedis');
  const nodes = options.nodes ?? splitNodes(options.url!);
  const extra: RedisOptions = { ...options.redisOptions };
  if (options.connectionName !== undefined) extra.connectionName = options.connectionName;
  if (options.nodes === undefined && nodes.length === 1) {
    return new Redis({ ...endpointOptions(parseRedisUrl(nodes[0]!)), ...extra });
  }
  const endpoints = nodes.map(parseRedisUrl);
  const first = endpoints[0]!;
  const nodeOptions: RedisOptions = { ...extra };
  if (first.username !== undefined) nodeOptions.username = first.username;
  if (first.password !== undefined) nodeOptions.password = first.password;
  if (first.tls) nodeOptions.tls = {};
  return new Cluster(
    endpoints.map((e) => ({ host: e.host, port: e.port })),
    { ...options.clusterOptions, redisOptions: { ...nodeOptions, ...options.clusterOptions?.redisOptions } },
  );
}

/** True when `client` is a Cluster client. */
export function isCluster(client: RedisClient): client is RedisClusterClient {
  return (client as RedisClusterClient).isCluster === true;
}

/** Clients whose socket is corked until the end of the current tick. */
const corked = new WeakSet<RedisNodeClient>();

/**
 * Write coalescing: call it right before sending a command. The client's socket is corked until the end of
 * the current tick (`process.nextTick`, which runs after the promise continuations of this tick), so every
 * command sent on `client` in between — ten lock holders each releasing as their replies arrive — leaves in
 * ONE socket write instead of one write each, and the server reads them in one go too. Unlike a pipeline
 * there is nothing to build or unpack: each command is sent, replied to and settled exactly as without it.
 * Writes are only deferred to the end of the tick. Corks nest, so callers sharing a client need not agree.
 * No-op on a Cluster (one socket per node) and while the client is not connected (ioredis queues then).
 */
export function coalesceWrites(client: RedisClient): void {
  if (isCluster(client) || client.status !== 'ready' || corked.has(client)) return;
  const stream = client.stream;
  if (!stream || stream.destroyed) return;
  stream.cork();
  corked.add(client);
  process.nextTick(() => {
    corked.delete(client);
    stream.uncork();
  });
}

/**
 * A connection of a package's own (a blocking reader, a subscriber) duplicated from the user's client, with the
 * offline queue on whatever the client says. A client made with `enableOfflineQueue: false` (its plain
 * duplicates inherit it) refuses every command sent before it is connected: the first command of a fresh
 * duplicate failed as if Redis were down, a SUBSCRIBE that failed so was never retried, and a blocking
 * connection made anew after each failure never got a read through. On the user's own client the options stay
 * theirs; commands on this connection are still bounded by the package's `commandTimeoutMs`.
 *
 * `role: 'subscriber'` also keeps its commands queued across reconnections (`maxRetriesPerRequest: null`):
 * ioredis re-subscribes on every reconnect with a SUBSCRIBE whose promise nobody holds — when the connection
 * dropped again before its reply and the retries ran out, that promise rejected unhandled (a crash under
 * Node's default `--unhandled-rejections=throw`) and the channel was left unsubscribed for good.
 *
 * @example
 * const subscriber = duplicateClient(redis, 'subscriber');
 * await subscriber.subscribe('news');
 */
export function duplicateClient<C extends RedisClient>(client: C, role: 'reader' | 'subscriber' = 'reader'): C {
  const keep = role === 'subscriber' ? { maxRetriesPerRequest: null } : {};
  if (isCluster(client)) {
    const cluster = client as unknown as Cluster;
    const redisOptions = { ...cluster.options.redisOptions, ...keep };
    return cluster.duplicate([], { enableOfflineQueue: true, redisOptions }) as unknown as C;
  }
  return (client as unknown as Redis).duplicate({ enableOfflineQueue: true, ...keep }) as unknown as C;
}
