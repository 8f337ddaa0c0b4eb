import { InvalidOptionsError } from '@ballast/core';
import type { Counts, FetchedJob, QueueBackend } from './backend';
import { type NewJob, priorityLabel } from './job';
import type { JobOptions, StoredJobOptions } from './options';

/**
 * Grouped queues (§4): with the queue option `groups`, every job belongs to a group (`group` job option, e.g. a
 * tenant; default `''`). Each group has its own waiting line; workers take one job per group in turn
 * (round-robin), so a tenant with a million jobs waiting cannot starve one with a few, and each group can be
 * rate limited on its own (`groups: { limiter: { max, durationMs } }`, per group, in every process).
 */

/** Where a backend keeps the groups' lines. */
export interface GroupStore {
  /** Adds jobs (delay 0) to their groups' lines; an existing id is a duplicate. */
  add(jobs: readonly NewJob[], now: number): Promise<{ id: string; added: boolean }[]>;
  /** Up to `count` jobs, one per group per turn; `waitMs`: until a limited group may give one (null: none). */
  fetch(
    now: number,
    count: number,
    token: string,
    lockMs: number,
    limit: { max: number; durationMs: number } | undefined,
  ): Promise<{ jobs: FetchedJob[]; waitMs: number | null }>;
  /** An active job leased by a plain fetch back to its group's line (no attempt spent). */
  regroup(id: string, token: string, group: string): Promise<boolean>;
  /** Jobs waiting in group lines, by priority (index 0..10). */
  waiting(): Promise<number[]>;
}

/** `counts()` of a grouped queue: the group lines' waiting jobs added to the shared line's. */
export async function withGroupCounts(backend: QueueBackend, counts: Counts): Promise<Counts> {
  const byPrio = await storeOf(backend, 'counts').waiting();
  const byPriority = { ...counts.byPriority };
  let waiting = counts.waiting;
  byPrio.forEach((n, p) => {
    if (n === 0) return;
    waiting += n;
    const label = priorityLabel(p);
    byPriority[label] = (byPriority[label] ?? 0) + n;
  });
  return { ...counts, waiting, byPriority };
}

function storeOf(backend: QueueBackend, where: string): GroupStore {
  const store = backend.groups?.();
  if (!store) {
    throw new InvalidOptionsError(where, [
      {
        path: 'groups',
        expected: 'a backend with grouped lines (memory, redis)',
        received: backend.kind,
        message: `the ${backend.kind} backend has no job groups`,
      },
    ]);
  }
  return store;
}

/**
 * A job's options on a queue: on a grouped one, its group (default `''`) is set, so the job keeps it through
 * retries; on another, a `group` is refused (`InvalidOptionsError`).
 */
export function groupedOptions(
  backend: QueueBackend,
  grouped: boolean,
  queueName: string,
  jobName: string,
  options: JobOptions | undefined,
): JobOptions | undefined {
  if (grouped) {
    storeOf(backend, `add("${jobName}")`);
    return options?.group === undefined ? { ...options, group: '' } : options;
  }
  if (options?.group !== undefined) {
    throw new InvalidOptionsError(`add("${jobName}")`, [
      {
        path: 'group',
        expected: 'undefined (the queue has no `groups` option)',
        received: String(options.group),
        message: `queue "${queueName}" is not grouped: create it with groups: true`,
      },
    ]);
  }
  return options;
}

/** A job that goes to its group's line when added (grouped and due now; delayed ones wait in `delayed`). */
export const toGroupLine = (j: NewJob): boolean => j.group !== undefined && j.delayMs === 0;

/**
 * A backend's `add` of a batch with jobs for group lines: those through the group store, the rest through
 * `plain` (none of them for a group line), results in the batch's order.
 */
export async function addSplit(
  jobs: readonly NewJob[],
  now: number,
  plain: (jobs: NewJob[]) => Promise<{ id: string; added: boolean }[]>,
  store: GroupStore,
): Promise<{ id: string; added: boolean }[]> {
  const grouped: number[] = [];
  const rest: number[] = [];
  for (let i = 0; i < jobs.length; i++) (toGroupLine(jobs[i]!) ? grouped : rest).push(i);
  const [a, b] = await Promise.all([
    store.add(
      grouped.map((i) => jobs[i]!),
      now,
    ),
    rest.length > 0 ? plain(rest.map((i) => ({ ...jobs[i]!, group: undefined }))) : [],
  ]);
  const out: { id: string; added: boolean }[] = new Array(jobs.length);
  grouped.forEach((i, k) => {
    out[i] = a[k]!;
  });
  rest.forEach((i, k) => {
    out[i] = b[k]!;
  });
  return out;
}

/**
 * A worker's fetch on a grouped queue: from the groups round-robin first, then from the shared line, where
 * retries, due delayed jobs and recovered stalled jobs of groups come back — those are handed to their group's
 * line (no attempt spent) rather than run out of turn.
 */
export async function fetchGrouped(
  backend: QueueBackend,
  limit: { max: number; durationMs: number } | undefined,
  now: number,
  count: number,
  token: string,
  lockMs: number,
): Promise<{ jobs: FetchedJob[]; nextDueAt: number | null }> {
  const store = storeOf(backend, 'createWorker');
  const g = await store.fetch(now, count, token, lockMs, limit);
  let nextDueAt = g.waitMs === null ? null : now + g.waitMs;
  if (g.jobs.length >= count) return { jobs: g.jobs, nextDueAt };
  const plain = await backend.fetch(now, count - g.jobs.length, token, lockMs);
  const jobs = g.jobs;
  let regrouped = 0;
  for (const job of plain.jobs) {
    const group = (JSON.parse(job.opts) as StoredJobOptions).group;
    if (group === undefined) jobs.push(job);
    else if (await store.regroup(job.id, token, group)) regrouped++;
  }
  if (plain.nextDueAt !== null) nextDueAt = nextDueAt === null ? plain.nextDueAt : Math.min(nextDueAt, plain.nextDueAt);
  // Jobs just put back in their groups' lines: look again at once.
  if (regrouped > 0 && jobs.length === 0) nextDueAt = now;
  return { jobs, nextDueAt };
}
