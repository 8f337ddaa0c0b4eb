/**
 * queue: jobs with mixed priorities (high/medium/low) added to @ballast/queue while worker processes are
 * SIGKILLed at random about every second and restarted. Redis backend: the queue lives in a redis-server
 * started for the run (`--appendonly yes --appendfsync always`, its own port), SIGKILLed and restarted on the
 * same port and dir mid-run (the AOF reloads). RabbitMQ backend: a throwaway vhost, every connection on it
 * closed by `rabbitmqctl close_all_connections` mid-run. Holds when every job took effect or sits in the DLQ
 * (0 lost), nothing is left waiting/delayed/active (0 stuck); duplicates and stalled recoveries are counted.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createLogger, createRedis, type Redis } from '@ballast/core';
import { createQueue, type PriorityName, type Queue } from '@ballast/queue';
import { spawnWorker, stopAll, type WorkerHandle } from '../child';
import { type KillTally, killAtRandom } from '../kill-loop';
import { Checks, type Ledger } from '../ledger';
import { type RedisServer, startRedisServer } from '../redis-server';
import { deleteByPrefix } from '../redis-util';
import { delay, type Scenario, type ScenarioContext, waitUntil } from '../scenario';
import { jobId, QUEUE_JOB, type QueueJobData, type QueueWorkerConfig } from '../shared/queue';

const run = promisify(execFile);

export type QueueBackendName = 'redis' | 'rabbitmq';

export interface QueueCounts {
  jobs: number;
  workers: number;
  /** Adding pace, jobs per second (so kills land while work is in flight). */
  addRate: number;
  /** Redis restarts / RabbitMQ close_all_connections during the run. */
  outages: number;
  /** Bound of the whole run. */
  timeoutMs: number;
  /** Negative control: workers complete every n-th job without its effect (the ledger must count them lost). */
  dropEvery?: number;
}

export const queueCounts: Record<'short' | 'long', QueueCounts> = {
  short: { jobs: 1_200, workers: 3, addRate: 300, outages: 1, timeoutMs: 75_000 },
  long: { jobs: 100_000, workers: 3, addRate: 3_000, outages: 5, timeoutMs: 20 * 60_000 },
};

const LOCK_MS = 2_000;
const STALLED_INTERVAL_MS = 500;
/** High, so a job whose worker was killed repeatedly is retried, not parked: any dead job is counted apart. */
const MAX_STALLED = 10;
const BATCH = 50;
const PRIORITY_NAMES: readonly PriorityName[] = ['high', 'medium', 'low'];
const AMQP_BASE = process.env.BALLAST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

async function rabbitmqctl(...args: string[]): Promise<void> {
  await run('rabbitmqctl', args, { timeout: 60_000 });
}

export async function runQueue(ctx: ScenarioContext, backend: QueueBackendName, counts: QueueCounts): Promise<Ledger> {
  const started = Date.now();
  const id = randomUUID().slice(0, 8);
  const prefix = `chaos:queue:${id}`;
  const queueName = `chaos-${backend}-${id}`;
  const ledger = createRedis(ctx.redisUrl) as Redis;
  const ledgerKey = `${prefix}:ledger`;
  const stalledKey = `${prefix}:stalled`;
  const workers: WorkerHandle[] = [];
  const checks = new Checks();
  const logger = createLogger({ level: 'silent' });
  let incarnation = 0;
  const tally: KillTally = { kills: 0, restartFailures: 0 };
  let outages = 0;
  let addRetries = 0;
  let aofMissing = 0;

  // The system under test's home: a private AOF Redis, or a throwaway vhost.
  let server: RedisServer | undefined;
  let serverDir: string | undefined;
  let vhost: string | undefined;
  let queueRedisUrl = ctx.redisUrl;
  let amqpUrl: string | undefined;
  let queue: Queue<QueueJobData> | undefined;
  let queueRedis: Redis | undefined;
  const aofArgs = ['--appendonly', 'yes', '--appendfsync', 'always'];
  let chaosOn = true;
  let kill: Promise<void> = Promise.resolve();

  try {
    if (backend === 'redis') {
      serverDir = mkdtempSync(join(tmpdir(), 'ballast-chaos-queue-'));
      server = await startRedisServer({ dir: serverDir, args: aofArgs });
      queueRedisUrl = `redis://127.0.0.1:${server.port}`;
    } else {
      vhost = `ballast-chaos-${id}`;
      await rabbitmqctl('add_vhost', vhost);
      await rabbitmqctl('set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*');
      amqpUrl = `${AMQP_BASE}/${encodeURIComponent(vhost)}`;
    }
    queueRedis = createRedis(queueRedisUrl) as Redis;
    // Connection errors while the Redis is down are expected; ioredis reconnects by itself.
    queueRedis.on('error', () => {});
    queue =
      backend === 'redis'
        ? createQueue<QueueJobData>(queueName, { backend: 'redis', redis: queueRedis, prefix, logger })
        : createQueue<QueueJobData>(queueName, {
            backend: 'rabbitmq',
            url: amqpUrl!,
            redis: queueRedis,
            prefix,
            logger,
          });

    const start = (): WorkerHandle => {
      const config: QueueWorkerConfig = {
        backend,
        queueName,
        prefix,
        queueRedisUrl,
        ledgerRedisUrl: ctx.redisUrl,
        ledgerKey,
        stalledKey,
        concurrency: 16,
        lockMs: LOCK_MS,
        stalledIntervalMs: STALLED_INTERVAL_MS,
        maxStalledCount: MAX_STALLED,
        lifetimeMs: counts.timeoutMs + 30_000,
      };
      if (amqpUrl) config.amqpUrl = amqpUrl;
      if (counts.dropEvery) config.dropEvery = counts.dropEvery;
      const w = spawnWorker({
        script: 'queue-worker.ts',
        name: `q${incarnation++}`,
        config,
        lifetimeMs: config.lifetimeMs,
      });
      workers.push(w);
      return w;
    };

    await Promise.all(Array.from({ length: counts.workers }, () => start().ready));
    ctx.log(`queue/${backend}: ${counts.workers} workers up; adding ${counts.jobs} jobs`);

    kill = killAtRandom({
      workers,
      start,
      random: ctx.random,
      gapMs: 500,
      jitterMs: 1_000,
      maxKills: Math.ceil(counts.timeoutMs / 500),
      keepGoing: () => chaosOn && Date.now() - started < counts.timeoutMs,
      tally,
    });

    // One outage of the backend: the Redis SIGKILLed and restarted on its port and dir (AOF reload), or every
    // connection on the vhost closed by the broker.
    const outage = async (lastAdded: number) => {
      if (server && serverDir) {
        const port = server.port;
        server.process.kill('SIGKILL');
        await server.stop();
        await delay(300 + ctx.random() * 700);
        server = await startRedisServer({ port, dir: serverDir, args: aofArgs });
        // The last add acknowledged before the kill must be back from the AOF (appendfsync always).
        if (lastAdded >= 0 && !(await queue!.getJob(jobId(lastAdded)))) aofMissing++;
      } else if (vhost) {
        await rabbitmqctl('close_all_connections', '--vhost', vhost, 'chaos');
      }
      outages++;
      ctx.log(`queue/${backend}: outage ${outages} done`);
    };

    // Adding: jobs with ids j<n> (an add retried after an outage is deduplicated by id), priority at random.
    const outageAt = new Set(
      Array.from(
        { length: counts.outages },
        (_, i) => Math.floor(((i + 1) * counts.jobs) / (counts.outages + 1) / BATCH) * BATCH,
      ),
    );
    const outagesRunning: Promise<void>[] = [];
    const priorities: Record<string, number> = { high: 0, medium: 0, low: 0 };
    const perBatchMs = (BATCH / counts.addRate) * 1_000;
    for (let from = 0; from < counts.jobs; from += BATCH) {
      if (outageAt.has(from)) outagesRunning.push(outage(from - 1));
      const t0 = Date.now();
      const batch = [];
      for (let n = from; n < Math.min(from + BATCH, counts.jobs); n++) {
        const priority = PRIORITY_NAMES[Math.floor(ctx.random() * 3)]!;
        priorities[priority] = (priorities[priority] ?? 0) + 1;
        batch.push({
          name: QUEUE_JOB,
          data: { n },
          options: {
            jobId: jobId(n),
            priority,
            attempts: 5,
            backoff: { initialMs: 50, maxMs: 500, factor: 2, jitter: 'full' as const },
            timeoutMs: 10_000,
          },
        });
      }
      for (let attempt = 1; ; attempt++) {
        try {
          await queue.addBulk(batch);
          break;
        } catch (error) {
          if (attempt >= 30 || Date.now() - started > counts.timeoutMs) throw error;
          addRetries++;
          await delay(200);
        }
      }
      const left = perBatchMs - (Date.now() - t0);
      if (left > 0) await delay(left);
    }
    await Promise.all(outagesRunning);
    ctx.log(`queue/${backend}: added ${counts.jobs}; waiting for workers (kills so far: ${tally.kills})`);

    const deadIds = async () => new Set((await queue!.listDead(0, counts.jobs)).map((j) => j.id));
    // Kills go on while the backlog is worked off, until most of it is done; then the run must converge.
    await waitUntil(
      async () => (await ledger.hlen(ledgerKey)) >= counts.jobs * 0.9,
      Math.max(0, counts.timeoutMs - (Date.now() - started)),
      250,
    );
    chaosOn = false;
    await kill;
    const settled = await waitUntil(
      async () => {
        const c = await queue!.counts();
        return c.waiting + c.delayed + c.active === 0;
      },
      Math.max(15_000, counts.timeoutMs - (Date.now() - started)),
      250,
    );
    checks.check(settled, 'the run did not settle in time (jobs still waiting, delayed or active)');
    // Unsettled: what the broker holds while the workers are still up (ready vs unacknowledged by a consumer).
    const broker =
      !settled && vhost
        ? await run(
            'rabbitmqctl',
            ['--quiet', 'list_queues', '-p', vhost, 'name', 'messages_ready', 'messages_unacknowledged', 'consumers'],
            { timeout: 30_000 },
          )
            .then((r) => r.stdout.trim().replace(/\s+/g, ' '))
            .catch((error: Error) => `list_queues failed: ${error.message}`)
        : '';
    await stopAll(workers);

    // The tally.
    const effects = await ledger.hgetall(ledgerKey);
    const stalled = await ledger.hgetall(stalledKey);
    const dead = await deadIds();
    const c = await queue.counts();
    let processed = 0;
    let duplicated = 0;
    let lost = 0;
    let deadByDesign = 0;
    let deadAfterEffect = 0;
    for (let n = 0; n < counts.jobs; n++) {
      const times = Number(effects[jobId(n)] ?? 0);
      if (times > 0) {
        processed++;
        duplicated += times - 1;
        if (dead.has(jobId(n))) deadAfterEffect++;
      } else if (dead.has(jobId(n))) {
        deadByDesign++;
      } else {
        lost++;
      }
    }
    const stuck = c.waiting + c.delayed + c.active + c.failed;
    // When the run fails, say where the missing jobs are, so a rare failure can be told apart: a status the
    // workers never reached (message missing on the broker, or held by a live consumer) or one left behind.
    let whereStuck = '';
    if (lost > 0 || stuck > 0) {
      const sample: string[] = [];
      for (let n = 0; n < counts.jobs && sample.length < 8; n++) {
        if (Number(effects[jobId(n)] ?? 0) > 0 || dead.has(jobId(n))) continue;
        const job = await queue.getJob(jobId(n)).catch(() => undefined);
        sample.push(
          job
            ? `${jobId(n)} ${job.state} attempts=${job.attemptsMade} stalled=${job.stalledCount}`
            : `${jobId(n)} no record`,
        );
      }
      whereStuck = ` [counts ${JSON.stringify(c)}; without effect: ${sample.join(', ')}${broker ? `; broker before workers stopped: ${broker}` : ''}]`;
    }
    checks.check(lost === 0, `${lost} jobs lost (no effect, not in the DLQ)${whereStuck}`);
    checks.check(stuck === 0, `${stuck} jobs stuck (neither completed nor dead)${whereStuck}`);
    checks.check(tally.kills > 0, 'no worker was killed: the scenario proved nothing');
    checks.check(outages === counts.outages, `${outages} of ${counts.outages} backend outages happened`);
    checks.check(aofMissing === 0, `${aofMissing} acknowledged adds missing after the Redis restart (AOF)`);
    checks.check(tally.restartFailures === 0, `${tally.restartFailures} worker restarts failed`);
    return {
      scenario: backend === 'redis' ? 'queue-redis' : 'queue-rabbitmq',
      mode: ctx.mode,
      produced: counts.jobs,
      processed,
      lost,
      duplicated,
      durationMs: Date.now() - started,
      details: {
        kills: tally.kills,
        workers: counts.workers,
        outages,
        high: priorities.high ?? 0,
        medium: priorities.medium ?? 0,
        low: priorities.low ?? 0,
        stalledRecovered: Number(stalled.waiting ?? 0),
        stalledDead: Number(stalled.dead ?? 0),
        deadByDesign,
        deadAfterEffect,
        stuck,
        addRetries,
        ...(backend === 'redis' ? { aofMissing } : {}),
      },
      failures: checks.failures,
    };
  } finally {
    chaosOn = false;
    await kill.catch(() => {});
    await stopAll(workers, 2_000);
    await queue?.close().catch(() => {});
    if (queueRedis) {
      if (backend === 'rabbitmq') await deleteByPrefix(queueRedis, prefix).catch(() => 0);
      queueRedis.disconnect();
    }
    if (vhost) await rabbitmqctl('delete_vhost', vhost).catch(() => {});
    await server?.stop();
    if (serverDir) rmSync(serverDir, { recursive: true, force: true });
    await deleteByPrefix(ledger, prefix);
    ledger.disconnect();
  }
}

export const scenario: Scenario = {
  name: 'queue',
  description:
    'queue on Redis (AOF Redis restarted) and RabbitMQ (connections closed): workers SIGKILLed ~1/s → 0 lost, 0 stuck, stalled recovered',
  run: async (ctx) => {
    const base = queueCounts[ctx.mode];
    const counts = { ...base, jobs: Math.max(BATCH, Math.round(base.jobs * (ctx.scale ?? 1))) };
    const redis = await runQueue(ctx, 'redis', counts);
    const rabbit = await runQueue(ctx, 'rabbitmq', counts);
    return combine(ctx, [redis, rabbit]);
  },
};

/** One ledger for the registry's single `queue` row: sums, each backend's details prefixed. */
function combine(ctx: ScenarioContext, parts: Ledger[]): Ledger {
  const details: Record<string, number | string> = {};
  for (const p of parts) {
    const tag = p.scenario.replace('queue-', '');
    for (const [k, v] of Object.entries(p.details)) details[`${tag}.${k}`] = v;
  }
  return {
    scenario: 'queue',
    mode: ctx.mode,
    produced: parts.reduce((s, p) => s + p.produced, 0),
    processed: parts.reduce((s, p) => s + p.processed, 0),
    lost: parts.reduce((s, p) => s + p.lost, 0),
    duplicated: parts.reduce((s, p) => s + p.duplicated, 0),
    durationMs: parts.reduce((s, p) => s + p.durationMs, 0),
    details,
    failures: parts.flatMap((p) => p.failures.map((f) => `${p.scenario}: ${f}`)),
  };
}
