/**
 * Backends of one demo run: Redis when it answers (else memory, with a notice), RabbitMQ when reachable, the
 * Consul emulator on loopback unless CONSUL_HTTP_ADDR is set, a unique key prefix, and cleanup on exit.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream, readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createLogger,
  createRedis,
  type Logger,
  type RedisClient,
  resolveConsulEndpoint,
  setDefaultLogger,
} from '@ballast/core';

export interface Infra {
  /** Unique per run: every Redis key of this run starts with it. */
  prefix: string;
  redis: RedisClient | undefined;
  redisUrl: string;
  rabbitmqReachable: boolean;
  /** `AMQP_URL`, default the local broker (guest/guest). */
  amqpUrl: string;
  /** Where xiaoke's queue runs: RabbitMQ (seed 002's broker) when it and Redis answer, else Redis, else memory. */
  queueBackend: 'rabbitmq' | 'redis' | 'memory';
  consulUrl: string;
  consulIsEmulator: boolean;
  logger: Logger;
  logFile: string;
  notices: string[];
  close(): Promise<void>;
}

export async function redisAnswers(url: string): Promise<RedisClient | undefined> {
  const redis = createRedis({
    url,
    redisOptions: { lazyConnect: true, connectTimeout: 800, maxRetriesPerRequest: 1, retryStrategy: () => null },
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
    return redis;
  } catch {
    redis.disconnect();
    return undefined;
  }
}

function tcpReachable(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port || 5672), timeout: 800 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}

/**
 * What a service process needs to join a running stack: the supervisor passes it in the environment
 * (`HP_*`, plus `REDIS_URL`, `AMQP_URL`, `CONSUL_HTTP_ADDR`), so a service started by hand joins the same way.
 */
export function infraEnv(infra: Infra, jwtSecret: string): Record<string, string> {
  return {
    HP_PREFIX: infra.prefix,
    HP_LOG_FILE: infra.logFile,
    HP_QUEUE_BACKEND: infra.queueBackend,
    HP_CONSUL_EMULATOR: infra.consulIsEmulator ? '1' : '0',
    HP_JWT_SECRET: jwtSecret,
    REDIS_URL: infra.redisUrl,
    AMQP_URL: infra.amqpUrl,
    CONSUL_HTTP_ADDR: infra.consulUrl,
  };
}

/** The backends of a stack another process started (see `infraEnv`); undefined when none is described. */
export function joinedFromEnv(): { prefix: string; logFile: string; emulator: boolean } | undefined {
  const prefix = process.env.HP_PREFIX;
  if (!prefix) return undefined;
  if (!process.env.CONSUL_HTTP_ADDR)
    throw new Error('HP_PREFIX is set but CONSUL_HTTP_ADDR is not: no registry to join');
  return {
    prefix,
    logFile: process.env.HP_LOG_FILE ?? join(tmpdir(), `${prefix}.log`),
    emulator: process.env.HP_CONSUL_EMULATOR === '1',
  };
}

/**
 * Starts (or, in a service process, joins) the backends of one run. `join`: the stack's prefix, log file and
 * registry come from the supervisor; this process starts no Consul emulator and leaves the run's keys alone.
 */
export async function startInfra(
  options: { verbose?: boolean; join?: { prefix: string; logFile: string; emulator: boolean } } = {},
): Promise<Infra> {
  const notices: string[] = [];
  const joined = options.join;
  const prefix = joined?.prefix ?? `hp-demo-${process.pid}-${randomBytes(3).toString('hex')}`;
  const logFile = joined?.logFile ?? join(tmpdir(), `${prefix}.log`);
  const logger = createLogger({
    name: 'health-platform',
    level: process.env.BALLAST_LOG_LEVEL ?? 'info',
    // Every process of a run appends to one file (O_APPEND: whole lines, never interleaved mid-line).
    ...(options.verbose ? {} : { destination: createWriteStream(logFile, { flags: 'a' }) }),
  });
  setDefaultLogger(logger);

  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const probe = await redisAnswers(redisUrl);
  probe?.disconnect();
  // The probe gives up at once; the run's client reconnects (every 100 ms, up to 1 s apart) for as long as it
  // takes — a Redis restarted mid-run (story step 17) is back in every process within a second of answering.
  // A command sent while it is down is retried on reconnection a few times, then fails (the packages bound
  // their commands anyway).
  const redis = probe
    ? createRedis({
        url: redisUrl,
        redisOptions: { maxRetriesPerRequest: 5, retryStrategy: (times) => Math.min(times * 100, 1_000) },
      })
    : undefined;
  if (redis) {
    let down = false;
    redis.on('error', (e) => {
      // One warning per outage, not one per reconnection attempt.
      if (!down) logger.warn({ err: e }, 'redis error');
      down = true;
    });
    redis.on('ready', () => {
      if (down) logger.info('redis is back');
      down = false;
    });
  } else notices.push(`Redis at ${redisUrl} does not answer: using the in-memory backends (one process)`);

  const amqpUrl = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
  const rabbitmqReachable = await tcpReachable(amqpUrl);

  let consulUrl = process.env.CONSUL_HTTP_ADDR;
  let stopConsul: (() => Promise<void>) | undefined;
  const consulIsEmulator = joined ? joined.emulator : !consulUrl;
  if (!consulUrl && !joined) {
    const { startConsulEmulator } = await import('@ballast/testkit/consul');
    const emulator = await startConsulEmulator();
    consulUrl = emulator.url;
    stopConsul = () => emulator.close();
  } else {
    consulUrl = resolveConsulEndpoint().url; // CONSUL_HTTP_ADDR (+ CONSUL_HTTP_SSL) as the consul CLI reads it
  }

  return {
    prefix,
    redis,
    redisUrl,
    rabbitmqReachable,
    amqpUrl,
    // RabbitMQ needs Redis beside it: the job status store (counts, getJob, pause) every process must see.
    queueBackend:
      (process.env.HP_QUEUE_BACKEND as Infra['queueBackend'] | undefined) ??
      (redis ? (rabbitmqReachable ? 'rabbitmq' : 'redis') : 'memory'),
    consulUrl: consulUrl!,
    consulIsEmulator,
    logger,
    logFile,
    notices,
    async close() {
      if (redis) {
        // The run's keys belong to the process that made the prefix (the supervisor), not to a service.
        if (!joined) await deleteKeys(redis, prefix).catch(() => {});
        redis.disconnect();
      }
      if (!joined) {
        // Config-center's disk caches of every process of the run; on a real Consul, the run's KV prefix.
        for (const f of readdirSync(tmpdir())) {
          if (f.startsWith(`${prefix}.`) && f.endsWith('.config.json')) rmSync(join(tmpdir(), f), { force: true });
        }
        if (!consulIsEmulator) await deleteConsulKeys(consulUrl!, prefix).catch(() => {});
      }
      await stopConsul?.();
    },
  };
}

/** Removes this run's config keys (and their version history) from a real Consul. */
async function deleteConsulKeys(url: string, prefix: string): Promise<void> {
  const { createConsulKv } = await import('@ballast/config-center');
  const kv = createConsulKv({ url });
  await kv.delete(`health-platform/${prefix}/`, { recurse: true });
  await kv.delete(`ballast/config-history/health-platform/${prefix}/`, { recurse: true });
}

/** Removes every key of this run (SCAN, never KEYS). */
export async function deleteKeys(redis: RedisClient, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}
