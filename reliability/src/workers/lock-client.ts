/**
 * A client process of the lock scenario: acquires the one resource, enters the critical section, works a
 * little, then writes through `fencedSet` with its fencing token. The parent SIGSTOPs the holder for longer
 * than the TTL: the lease expires, another client gets in (an overlap, without fencing), and the stopped one
 * wakes up still inside — its write must be rejected by the fencing check.
 */
import { createLogger, createRedis, isAbortedError, type Redis } from '@ballast/core';
import { createLockManager, fencedSet, isStaleFencingTokenError } from '@ballast/lock';
import { auditedScriptClient, type LockWorkerConfig } from '../shared/lock';
import { announceReady, runWorker, workerConfig } from '../worker-runtime';

const config = workerConfig<LockWorkerConfig>();
const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

runWorker(async (stop) => {
  const redis = createRedis(config.redisUrl) as Redis;
  const audited = auditedScriptClient(redis, config.keys, config.client);
  const locks = createLockManager({
    redis,
    prefix: `${config.prefix}lock`,
    ttlMs: config.ttlMs,
    maxRetryDelayMs: Math.max(20, Math.floor(config.ttlMs / 4)),
    logger: createLogger({ level: 'silent' }),
  });
  await redis.ping();
  announceReady();
  const k = config.keys;
  for (let i = 0; i < 1_000_000 && !stop.aborted; i++) {
    let lease: Awaited<ReturnType<typeof locks.acquire>>;
    try {
      lease = await locks.acquire(config.resource, { signal: stop });
    } catch (error) {
      if (isAbortedError(error)) break;
      throw error;
    }
    try {
      const inside = await redis.incr(k.inside);
      await redis.hincrby(k.stats, 'sections', 1);
      if (inside > 1) await redis.hincrby(k.stats, 'overlaps', 1);
      await redis.set(k.holder, String(process.pid));
      await delay(config.workMs);
      if (lease.signal.aborted) {
        // The watchdog noticed the loss in time: a careful client stops here. Pauses land after this check too.
        await redis.hincrby(k.stats, 'lostBeforeWrite', 1);
      } else {
        try {
          await fencedSet(audited, k.resource, `${config.client}:${lease.fencingToken}`, lease.fencingToken);
        } catch (error) {
          if (!isStaleFencingTokenError(error)) throw error;
        }
      }
    } finally {
      await redis.decr(k.inside);
      await lease.release().catch(() => {});
    }
  }
  await locks.close();
  redis.disconnect();
}, config.lifetimeMs);
