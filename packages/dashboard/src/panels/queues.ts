/**
 * Queues: counts by state and priority, jobs by state (searchable), job detail, the DLQ (replay, remove), job
 * schedulers, pause/resume.
 */
import type { JobState } from '@ballast/queue';
import { badRequest, DashboardRequestError, notFound } from '../errors';
import type { DashboardQueue } from '../options';
import { intParam, type Route, type RouteContext, stringList } from '../route';

/** The states jobs are listed by; `waiting-children`: flow parents waiting for their children. */
const STATES: readonly JobState[] = ['waiting', 'waiting-children', 'delayed', 'active', 'completed', 'failed', 'dead'];

/**
 * Removing a dead job needs a queue with job operations on a backend that can reach into the queue: Redis and
 * memory; not RabbitMQ (its dead jobs are broker messages) nor an older @ballast/queue.
 */
function canRemoveDead(q: DashboardQueue): boolean {
  const backend = (q as { backend?: { kind?: string; ops?: unknown } }).backend;
  return typeof q.job === 'function' && backend?.ops !== undefined && backend.kind !== 'rabbitmq';
}

export function queueRoutes(queues: readonly DashboardQueue[]): Route[] {
  const byName = new Map(queues.map((q) => [q.name, q]));
  const queue = (ctx: RouteContext) => {
    const q = byName.get(ctx.params.queue!);
    if (!q) throw notFound(`no queue named "${ctx.params.queue}"`);
    return q;
  };
  const summary = async (q: DashboardQueue) => ({
    name: q.name,
    counts: await q.counts(),
    paused: await q.isPaused(),
    canRemoveDead: canRemoveDead(q),
  });
  const pausing = (verb: 'pause' | 'resume'): Route => ({
    method: 'POST',
    path: `queues/:queue/${verb}`,
    action: (ctx) => ({ name: `queue.${verb}`, target: ctx.params.queue! }),
    async run(ctx) {
      const q = queue(ctx);
      await (verb === 'pause' ? q.pause() : q.resume());
      return summary(q);
    },
  });
  return [
    { method: 'GET', path: 'queues', run: async () => ({ queues: await Promise.all(queues.map(summary)) }) },
    {
      method: 'GET',
      path: 'queues/:queue/jobs',
      async run(ctx) {
        const q = queue(ctx);
        const state = (ctx.query.get('state') ?? 'waiting') as JobState;
        if (!STATES.includes(state)) throw badRequest(`state must be one of ${STATES.join(', ')}`);
        const offset = intParam(ctx.query, 'offset', 0, 1_000_000);
        const limit = intParam(ctx.query, 'limit', 50, 500);
        const search = (ctx.query.get('search') ?? '').trim().toLowerCase();
        const jobs = await q.list(state, offset, limit);
        const found = search
          ? jobs.filter((j) => j.id.toLowerCase().includes(search) || j.name.toLowerCase().includes(search))
          : jobs;
        return { state, offset, limit, jobs: found };
      },
    },
    {
      method: 'GET',
      path: 'queues/:queue/jobs/:id',
      async run(ctx) {
        const job = await queue(ctx).getJob(ctx.params.id!);
        if (!job) throw notFound(`queue "${ctx.params.queue}" has no job "${ctx.params.id}"`);
        return job;
      },
    },
    {
      method: 'GET',
      path: 'queues/:queue/dead',
      async run(ctx) {
        const cursor = ctx.query.get('cursor') || null;
        return queue(ctx).listDead({ cursor, limit: intParam(ctx.query, 'limit', 50, 500) });
      },
    },
    {
      method: 'POST',
      path: 'queues/:queue/dead/replay',
      action: (ctx) => ({ name: 'queue.dead.replay', target: ctx.params.queue!, ids: stringList(ctx.body, 'ids') }),
      async run(ctx) {
        return { replayed: await queue(ctx).replayDead(stringList(ctx.body, 'ids')) };
      },
    },
    {
      method: 'POST',
      path: 'queues/:queue/dead/remove',
      action: (ctx) => ({ name: 'queue.dead.remove', target: ctx.params.queue!, ids: stringList(ctx.body, 'ids') }),
      async run(ctx) {
        const q = queue(ctx);
        if (!canRemoveDead(q)) {
          throw badRequest(`queue "${q.name}" cannot remove jobs (its backend cannot, or an older @ballast/queue)`);
        }
        const ids = [...new Set(stringList(ctx.body, 'ids'))];
        // Only dead jobs: checked first for all (nothing removed when one is not dead), and again in each removal's
        // own atomic step (a job replayed in between is left alone and reported).
        const infos = await Promise.all(ids.map((id) => q.getJob(id)));
        const notDead = ids.filter((_, i) => infos[i]?.state !== 'dead');
        if (notDead.length) throw new DashboardRequestError(409, `not dead jobs of "${q.name}": ${notDead.join(', ')}`);
        const refused: { id: string; error: string }[] = [];
        let removed = 0;
        for (const id of ids) {
          try {
            await q.job!(id).remove({ onlyIn: ['dead'] });
            removed++;
          } catch (error) {
            refused.push({ id, error: error instanceof Error ? error.message : String(error) });
          }
        }
        return { removed, ...(refused.length ? { refused } : {}) };
      },
    },
    {
      method: 'GET',
      path: 'queues/:queue/schedulers',
      async run(ctx) {
        const q = queue(ctx);
        if (!q.listSchedulers) return { supported: false, schedulers: [] };
        try {
          return { supported: true, schedulers: await q.listSchedulers() };
        } catch (error) {
          // By code: @ballast/queue is an optional peer, so its guards are not imported here.
          if ((error as { code?: unknown })?.code === 'NO_SCHEDULERS') {
            return { supported: false, schedulers: [] };
          }
          throw error;
        }
      },
    },
    pausing('pause'),
    pausing('resume'),
  ];
}

/** The live summary: counts by queue. */
export async function queueSummary(queues: readonly DashboardQueue[]) {
  const out: Record<string, unknown> = {};
  for (const q of queues) out[q.name] = await q.counts();
  return out;
}
