/**
 * Backends of one demo run: Redis when it answers (else memory, with a notice), RabbitMQ when reachable, the
 * Consul emulator on loopback unless CONSUL_HTTP_ADDR is set, a unique key prefix, and cleanup on exit.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
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
import { startConsulEmulator } from '@ballast/testkit/consul';

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

async function redisAnswers(url: string): Promise<RedisClient | undefined> {
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

export async function startInfra(options: { verbose?: boolean } = {}): Promise<Infra> {
  const notices: string[] = [];
  const prefix = `hp-demo-${process.pid}-${randomBytes(3).toString('hex')}`;
  const logFile = join(tmpdir(), `${prefix}.log`);
  const logger = createLogger({
    name: 'health-platform',
    level: process.env.BALLAST_LOG_LEVEL ?? 'info',
    ...(options.verbose ? {} : { destination: createWriteStream(logFile) }),
  });
  setDefaultLogger(logger);

  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redis = await redisAnswers(redisUrl);
  if (redis) redis.on('error', (e) => logger.warn({ err: e }, 'redis error'));
  else notices.push(`Redis at ${redisUrl} does not answer: using the in-memory backends (one process)`);

  const amqpUrl = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
  const rabbitmqReachable = await tcpReachable(amqpUrl);

  let consulUrl = process.env.CONSUL_HTTP_ADDR;
  let stopConsul: (() => Promise<void>) | undefined;
  const consulIsEmulator = !consulUrl;
  if (!consulUrl) {
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
    queueBackend: redis ? (rabbitmqReachable ? 'rabbitmq' : 'redis') : 'memory',
    consulUrl,
    consulIsEmulator,
    logger,
    logFile,
    notices,
    async close() {
      if (redis) {
        await deleteKeys(redis, prefix).catch(() => {});
        redis.disconnect();
      }
      await stopConsul?.();
    },
  };
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
