/**
 * xiaoke-service (seed 002), written with TS 5 standard decorators: analysis tasks on the priority queue
 * (`@Task`), per-user work under `@WithLock('user:{userId}')`, a health checker that flips degraded mode
 * in its own config-center config, and `POST /diagnose` for the consultation saga.
 */
import { randomUUID } from 'node:crypto';
import { createHealthChecker } from '@ballast/discovery';
import { type EventEnvelope, OnEvent } from '@ballast/event-bus';
import { WithLock } from '@ballast/lock';
import {
  createQueue,
  createWorker,
  type Job,
  type Priority,
  type Queue,
  type RabbitBackend,
  Task,
  type TaskData,
  taskHandlers,
} from '@ballast/queue';
import { createXiaokeConfig } from '../config';
import type { Bus, Ctx } from '../context';
import { HttpError, Router, requireFields } from '../http';
import { diagnoseBy } from './knowledge';

export interface AnalysisData {
  /** The job id, given by the caller (`jobId`), so the handler can name its job. */
  taskId: string;
  userId: string;
  recordId: string;
  metrics: Record<string, number>;
  /** How long the analysis takes (default 60 ms): the story makes one long enough to kill its worker meanwhile. */
  workMs?: number;
  /** The analysis fails on every attempt (bad input): the job ends in the queue's dead-letter list. */
  fail?: boolean;
}

let xiaokeQueue: Queue<TaskData> | undefined;

export class XiaokeAgent {
  readonly running = new Map<string, number>();
  maxConcurrentPerUser = 0;
  maxConcurrent = 0;
  #active = 0;
  readonly cancelled = new Set<string>();
  readonly done: { jobId: string; userId: string; degraded: boolean }[] = [];

  constructor(
    readonly bus: Bus,
    readonly isDegraded: () => boolean,
    readonly record: (kind: string, text: string, data?: Record<string, unknown>) => void,
  ) {}

  /**
   * Seed 002: `@async_task(queue=…, priority=HIGH)` + `@with_lock("user:{user_id}")`. Calling it enqueues;
   * the worker runs the body under the per-user lock.
   */
  @Task({ queue: () => xiaokeQueue!, name: 'analyze_health_data', priority: 'high' })
  // A short lease the watchdog keeps extending: a worker process killed mid-job frees the user within 3 s.
  @WithLock('user:{userId}', { ttlMs: 3_000 })
  async analyze(data: AnalysisData): Promise<unknown> {
    const job = { id: data.taskId };
    if (this.cancelled.has(job.id)) {
      this.record('task-skipped', `task ${job.id} was cancelled by a compensation`);
      return { score: 0 };
    }
    const mine = (this.running.get(data.userId) ?? 0) + 1;
    this.running.set(data.userId, mine);
    this.maxConcurrentPerUser = Math.max(this.maxConcurrentPerUser, mine);
    this.maxConcurrent = Math.max(this.maxConcurrent, ++this.#active);
    try {
      await new Promise((r) => setTimeout(r, Math.min(10_000, data.workMs ?? 60)));
      if (data.fail) throw new Error(`analysis ${job.id} failed: the model rejected the metrics (data.fail)`);
      const degraded = this.isDegraded();
      const values = Object.values(data.metrics ?? {});
      const score = degraded ? 50 : Math.round(values.reduce((a, b) => a + b, 0) / Math.max(1, values.length));
      await this.bus.publish(
        'recommendation.generated',
        {
          recommendationId: `rcm-${job.id}`,
          items: degraded
            ? ['rest well (degraded mode: simplified analysis)']
            : ['walk 30 min daily', 'sleep before 23:00'],
          degraded,
        },
        { userId: data.userId },
      );
      this.done.push({ jobId: job.id, userId: data.userId, degraded });
      this.record('analysis-done', `analysis ${job.id} for ${data.userId} done${degraded ? ' (degraded)' : ''}`, {
        jobId: job.id,
      });
      return { score };
    } finally {
      this.#active--;
      this.running.set(data.userId, (this.running.get(data.userId) ?? 1) - 1);
    }
  }

  @OnEvent('system.alert', { group: 'xiaoke-service.alerts' })
  async onAlert(event: EventEnvelope<{ severity: string; message: string }>): Promise<void> {
    if (event.data.severity === 'critical')
      this.record('alert-seen', `xiaoke noted a critical alert: ${event.data.message}`);
  }
}

/**
 * xiaoke's analysis queue. Seed 002's broker is RabbitMQ: the queue runs there when it answers (job status in Redis,
 * so every process sees counts and pause), else on Redis, else in memory. On RabbitMQ the broker's queue name
 * carries the run's prefix, so concurrent runs (CI, a second terminal) share no broker queue; xiaoke's close()
 * deletes them. The gateway's process opens a handle of its own for the dashboard (no worker: it consumes nothing).
 */
export function createXiaokeQueue(ctx: Ctx): Queue<TaskData> {
  const { queueBackend, redis, prefix, amqpUrl } = ctx.infra;
  return createQueue<TaskData>(queueBackend === 'rabbitmq' ? `xiaoke-analysis.${prefix}` : 'xiaoke-analysis', {
    ...(queueBackend === 'rabbitmq'
      ? { backend: 'rabbitmq' as const, url: amqpUrl, redis: redis!, prefix }
      : queueBackend === 'redis'
        ? { backend: 'redis' as const, redis: redis!, prefix }
        : {}),
    defaultJobOptions: { attempts: 2, backoff: 100, timeoutMs: 10_000 },
    logger: ctx.log,
  });
}

/**
 * xiaoke's scheduled work: a weekly health digest, a job scheduler (`upsertScheduler`). RabbitMQ keeps no
 * schedulers (the queue package refuses them there), so they live on a queue of their own on Redis (memory in one
 * process), as the queue's README advises. The gateway opens a handle of its own for the dashboard.
 */
export function createDigestQueue(ctx: Ctx): Queue<{ kind: string }> {
  const { redis, prefix } = ctx.infra;
  return createQueue<{ kind: string }>('xiaoke-digest', {
    ...(redis ? { backend: 'redis' as const, redis, prefix } : {}),
    logger: ctx.log,
  });
}

/** The digest scheduler's id, as the dashboard lists it. */
export const DIGEST_SCHEDULER = 'weekly-health-digest';

export async function startXiaokeService(ctx: Ctx) {
  const config = await createXiaokeConfig(ctx.configPlace);
  const bus = ctx.bus('xiaoke-service');
  const record = (kind: string, text: string, data?: Record<string, unknown>) =>
    ctx.activity.add('xiaoke-service', kind, text, data);
  const agent = new XiaokeAgent(bus, () => config.degraded, record);
  await bus.registerHandlers(agent);

  const { queueBackend } = ctx.infra;
  const queue = createXiaokeQueue(ctx);
  xiaokeQueue = queue;
  const startOrder: { id: string; priority: number; userId: string }[] = [];
  // The @Task methods as handlers (the package's taskHandlers), each start noted for the priority check.
  const handlers = Object.fromEntries(
    Object.entries(taskHandlers(agent)).map(([name, run]) => [
      name,
      (job: Job<TaskData>) => {
        const data = job.data.args[0] as AnalysisData;
        startOrder.push({ id: job.id, priority: job.priority, userId: data.userId });
        record('analysis-started', `analysis ${job.id} started${job.attempt > 1 ? ` (attempt ${job.attempt})` : ''}`, {
          jobId: job.id,
          attempt: job.attempt,
          userId: data.userId,
        });
        return run(job);
      },
    ]),
  );
  const worker = createWorker(queue, handlers as never, {
    concurrency: config.get('analysis.workers'),
    blockMs: 1_000,
    // A job whose worker process died is back in the queue within ~3 s (Redis: its 2 s lease lapsed and the
    // next check, every second, finds it; RabbitMQ: the broker redelivers the unacked message at once).
    lockMs: 2_000,
    stalledIntervalMs: 1_000,
    drainTimeoutMs: 5_000,
    onError: (e) => ctx.log.warn({ err: e }, 'xiaoke worker'),
  });

  const digest = createDigestQueue(ctx);
  // A week in the real platform; a minute here, so the dashboard shows it ticking.
  await digest.upsertScheduler(
    DIGEST_SCHEDULER,
    { every: 60_000 },
    { name: 'health-digest', data: { kind: 'weekly' } },
  );
  const digestWorker = createWorker(
    digest,
    async (job: Job<{ kind: string }>) => {
      record('digest', `health digest ${job.id} sent`, { jobId: job.id });
    },
    { blockMs: 1_000, onError: (e) => ctx.log.warn({ err: e }, 'xiaoke digest worker') },
  );

  // Seed 002's health checker on @ballast/discovery's createHealthChecker — the same checker answers xiaoke's
  // /health (Consul's HTTP check). The model backend and the queue's backlog are not critical: failing, they
  // make xiaoke `degraded` (still 200, still in rotation) and degraded mode goes ON in xiaoke's config, so it
  // answers with its rule-based fallback instead of dropping out; healthy again → OFF. Redis is critical.
  const checker = createHealthChecker({
    checks: {
      ...ctx.baseChecks([]),
      'model-backend': { critical: false, run: () => !ctx.config.get('chaos.xiaokeModelDown') },
      queue: { critical: false, run: async () => (await queue.counts()).waiting < 1_000 },
    },
    intervalMs: 300,
    timeoutMs: 1_000,
  });
  let flipping = Promise.resolve();
  checker.onChange((next, _prev, report) => {
    flipping = flipping.then(async () => {
      try {
        if (next !== 'healthy' && !config.degraded) {
          const failing = Object.entries(report.checks).filter(([, c]) => c.status !== 'healthy');
          const names = failing.map(([n]) => n).join(', ');
          await config.setDegraded(true, `health check failed: ${names}`);
          record('degraded-on', `health checker: ${names} failing → degraded mode ON`);
        } else if (next === 'healthy' && config.degraded) {
          await config.setDegraded(false, 'health checks pass again');
          record('degraded-off', 'health checker: all checks pass → degraded mode OFF');
        }
      } catch (error) {
        ctx.log.warn({ err: error }, 'xiaoke health checker could not flip degraded mode');
      }
    });
  });
  checker.start();

  const router = new Router();
  router.post('/tasks', async (req) => {
    if (ctx.config.get('chaos.xiaoke')) throw new HttpError(500, 'analysis queue refuses tasks (injected failure)');
    const { kind, priority, data } = requireFields<{ kind: string; priority?: Priority; data: AnalysisData }>(
      req.body,
      ['kind', 'data'],
    );
    // Enqueued as @Task's jobs are ({ args }), with the caller's idempotency key as the job id.
    const jobId = String(req.headers['idempotency-key'] ?? randomUUID()).replace(/[^A-Za-z0-9_.:-]/g, '_');
    const added = await queue.add(
      kind,
      { args: [{ ...data, taskId: jobId }] },
      { priority: priority ?? 'medium', jobId },
    );
    return { jobId: added.id, duplicate: added.duplicate };
  });
  router.post('/tasks/:id/cancel', (req) => {
    agent.cancelled.add(req.params.id!);
    record('task-cancelled', `task ${req.params.id} cancelled (compensation)`);
    return { cancelled: true };
  });
  /** Queues low, medium and high analyses for one user (and a high one for another) while paused, then resumes. */
  router.post('/tasks/burst', async (req) => {
    const { userId, otherUserId } = requireFields<{ userId: string; otherUserId: string }>(req.body, [
      'userId',
      'otherUserId',
    ]);
    const from = startOrder.length;
    const before = agent.done.length;
    agent.maxConcurrentPerUser = 0;
    agent.maxConcurrent = 0;
    await queue.pause();
    const metrics = { heartRate: 72, sleepHours: 7 };
    const jobs = [] as { id: string; priority: string }[];
    for (const [p, u] of [
      ['low', userId],
      ['medium', userId],
      ['high', userId],
      ['high', otherUserId],
    ] as const) {
      const taskId = `burst-${p}-${randomUUID().slice(0, 8)}`;
      const j = await queue.add(
        'analyze_health_data',
        { args: [{ taskId, userId: u, recordId: `burst-${p}`, metrics }] },
        { priority: p, jobId: taskId },
      );
      jobs.push({ id: j.id, priority: p });
    }
    await queue.resume();
    const deadline = Date.now() + 10_000;
    while (agent.done.length < before + jobs.length && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    return {
      jobs,
      startOrder: startOrder.slice(from).map((s) => ({ ...s, priority: s.priority })),
      maxConcurrentPerUser: agent.maxConcurrentPerUser,
      maxConcurrent: agent.maxConcurrent,
      completed: agent.done.length - before,
    };
  });
  router.post('/diagnose', (req) => {
    const { symptoms } = requireFields<{ symptoms: string[] }>(req.body, ['symptoms']);
    if (ctx.config.get('chaos.xiaokeDiagnose')) {
      record('diagnose-failed', 'xiaoke: diagnosis model crashed (injected failure)');
      throw new HttpError(500, 'diagnosis model crashed (injected failure)');
    }
    if (config.degraded)
      return { agent: 'xiaoke', degraded: true, syndrome: 'unknown (degraded mode: rule-based fallback)' };
    // The model's answer: the rule base's best syndrome over every reported symptom (inquiry sees them all).
    const { syndrome, confidence } = diagnoseBy('inquiry', symptoms);
    return { agent: 'xiaoke', degraded: false, syndrome, confidence };
  });
  router.get('/queue', async () => queue.counts());
  router.get('/tasks/:id', async (req) => {
    const job = await queue.getJob(req.params.id!);
    if (!job) throw new HttpError(404, `no task ${req.params.id}`);
    return { id: job.id, state: job.state, stalledCount: job.stalledCount, attemptsMade: job.attemptsMade };
  });
  router.get('/status', () => ({ degraded: config.degraded, health: checker.report }));

  const served = await ctx.serve('xiaoke-service', router, { checker });
  return {
    ...served,
    queue,
    digest,
    config,
    checker,
    async close() {
      checker.stop();
      await served.close();
      await worker.close();
      await digestWorker.close();
      await digest.close();
      // A run's broker queues go with it (Redis keys go with the run's prefix).
      if (queueBackend === 'rabbitmq') await (queue.backend as RabbitBackend).deleteQueues().catch(() => {});
      await queue.close();
      await config.close();
    },
  };
}
