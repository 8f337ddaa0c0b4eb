/** `ballast queue …`: counts, jobs by state, the dead-letter queue (list, replay), pause and resume. */
import type { Counts, DeadPage, JobInfo, JobState, Queue } from '@ballast/queue';
import type { Command } from 'commander';
import { confirmOrAbort, type DestructiveOptions } from '../confirm';
import { type ConnectionOptions, prefixOf, withRedis } from '../connect';
import { CliError, EXIT, type Io, type OutputOptions, positiveInt, print } from '../io';
import { progress } from '../progress';

/** Every state `queue jobs --state` lists; `waiting-children`: flow parents waiting for their children. */
const STATES: JobState[] = ['waiting', 'waiting-children', 'delayed', 'active', 'completed', 'failed', 'dead'];
/** The `counts()` field of a state (`waitingChildren`: absent where the backend has no flows, e.g. RabbitMQ). */
const COUNT_OF: Partial<Record<JobState, keyof Counts>> = { 'waiting-children': 'waitingChildren' };
type Opts = ConnectionOptions & OutputOptions & { amqp?: string };

/** `--amqp` / `AMQP_URL`: the queue runs on RabbitMQ, its job status in the Redis status store. */
export const amqpUrl = (o: Opts): string | undefined => o.amqp ?? process.env.AMQP_URL;

async function withQueue<T>(o: Opts, name: string, fn: (q: Queue<unknown>) => Promise<T>) {
  // Loaded on use: `ballast --help` or a config command does not pay for the queue package.
  const { createQueue } = await import('@ballast/queue');
  return withRedis(o, async (redis) => {
    const url = amqpUrl(o);
    const queue = url
      ? createQueue(name, { backend: 'rabbitmq', url, redis, prefix: prefixOf(o) })
      : createQueue(name, { backend: 'redis', redis, prefix: prefixOf(o) });
    try {
      return await fn(queue);
    } finally {
      await queue.close();
    }
  });
}

const jobRow = (j: JobInfo) => ({
  id: j.id,
  name: j.name,
  state: j.state,
  priority: j.priority,
  attempts: `${j.attemptsMade}/${j.maxAttempts}`,
  created: new Date(j.createdAt).toISOString(),
  error: j.error?.message ?? '',
});

/** Dead job ids, every page (the cursor API: exact while jobs die or are replayed meanwhile). */
async function allDeadIds(queue: Queue<unknown>): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const page: DeadPage<unknown> = await queue.listDead({
      cursor,
      limit: 500,
    });
    ids.push(...page.jobs.map((j) => j.id));
    cursor = page.cursor;
  } while (cursor);
  return ids;
}

export function queueCommands(program: Command, io: Io, global: () => Opts): void {
  const queue = program
    .command('queue')
    .description('jobs of a @ballast/queue on Redis, or on RabbitMQ with --amqp (status from the Redis status store)');

  queue
    .command('counts <queue>')
    .description('jobs by state, and waiting jobs by priority')
    .action(async (name: string) => {
      const o = global();
      const counts = await withQueue(o, name, (q) => q.counts());
      const byState = counts as unknown as Record<string, number | undefined>;
      const rows: { state: string; jobs: number }[] = STATES.flatMap((state) => {
        const n = byState[COUNT_OF[state] ?? state];
        // A state the backend does not keep (no flows: no waiting-children) is left out, not shown as 0.
        return n === undefined && COUNT_OF[state] ? [] : [{ state, jobs: n ?? 0 }];
      });
      for (const [p, n] of Object.entries(counts.byPriority ?? {})) rows.push({ state: `waiting (${p})`, jobs: n });
      print(io, o, counts, rows);
    });

  queue
    .command('jobs <queue>')
    .description('jobs in one state, oldest first')
    .option('--state <state>', `one of ${STATES.join(', ')}`, 'waiting')
    .option('--offset <n>', 'skip this many', (v) => Number(v), 0)
    .option('--limit <n>', 'at most this many', positiveInt('--limit'), 20)
    .action(async (name: string, c: { state: string; offset: number; limit: number }) => {
      if (!STATES.includes(c.state as JobState)) {
        throw new CliError(`--state must be one of ${STATES.join(', ')}, got "${c.state}"`, EXIT.usage);
      }
      const o = global();
      const jobs = await withQueue(o, name, (q) => q.list(c.state as JobState, c.offset, c.limit));
      print(io, o, jobs, jobs.map(jobRow));
    });

  const dead = queue.command('dead').description('the dead-letter queue');
  dead
    .command('list <queue>')
    .description('dead jobs, oldest first, one page (the next page with --cursor)')
    .option('--cursor <cursor>', 'where the previous page ended')
    .option('--limit <n>', 'page size', positiveInt('--limit'), 50)
    .action(async (name: string, c: { cursor?: string; limit: number }) => {
      const o = global();
      const page = await withQueue(o, name, (q) => q.listDead({ cursor: c.cursor ?? null, limit: c.limit }));
      print(io, o, page, page.jobs.map(jobRow));
      if (!o.json && page.cursor) io.err(`more: --cursor ${page.cursor}`);
    });
  dead
    .command('replay <queue> [ids...]')
    .description('dead jobs back to waiting with fresh attempts: the ids given, or every dead job with --all')
    .option('--all', 'replay every dead job')
    .option('--dry-run', 'say what would be replayed, change nothing')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (name: string, ids: string[], c: DestructiveOptions & { all?: boolean }) => {
      if (!ids.length && !c.all) throw new CliError('give job ids or --all', EXIT.usage);
      if (ids.length && c.all) throw new CliError('give job ids or --all, not both', EXIT.usage);
      const o = global();
      await withQueue(o, name, async (q) => {
        let targets = ids;
        if (c.all) targets = await allDeadIds(q);
        else {
          const dead = new Set(
            (await Promise.all(ids.map((id) => q.getJob(id)))).filter((j) => j?.state === 'dead').map((j) => j!.id),
          );
          const missing = ids.filter((id) => !dead.has(id));
          if (missing.length) throw new CliError(`not dead jobs of ${name}: ${missing.join(', ')}`, EXIT.notFound);
        }
        if (!(await confirmOrAbort(io, c, `replay ${targets.length} dead job(s) of ${name}`))) {
          print(
            io,
            o,
            { dryRun: true, jobs: targets },
            targets.map((id) => ({ id })),
          );
          return;
        }
        const bar = progress(io, targets.length, 'replaying', o.json);
        let replayed = 0;
        try {
          for (let i = 0; i < targets.length; i += 100) {
            const chunk = targets.slice(i, i + 100);
            replayed += await q.replayDead(chunk);
            bar.tick(chunk.length);
          }
        } finally {
          bar.stop();
        }
        print(io, o, { replayed }, [{ replayed }]);
      });
    });

  for (const [verb, describe] of [
    ['pause', 'every worker of the queue, in every process, stops taking jobs'],
    ['resume', 'workers take jobs again'],
  ] as const) {
    queue
      .command(`${verb} <queue>`)
      .description(describe)
      .action(async (name: string) => {
        const o = global();
        const paused = await withQueue(o, name, async (q) => {
          await (verb === 'pause' ? q.pause() : q.resume());
          return q.isPaused();
        });
        print(io, o, { queue: name, paused }, [{ queue: name, paused }]);
      });
  }
}
