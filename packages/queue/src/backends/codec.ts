import type { JobErrorEntry, JobInfo, JobState } from '../job';
import type { StoredJobOptions } from '../options';

/** A job hash (Redis) or record (memory) → `JobInfo`. */
export function toJobInfo(id: string, h: Record<string, string>): JobInfo | undefined {
  if (h.name === undefined) return undefined;
  const opts = JSON.parse(h.opts ?? '{}') as Partial<StoredJobOptions>;
  const errors = h.errors ? (JSON.parse(h.errors) as JobErrorEntry[]) : [];
  const info: JobInfo = {
    id,
    name: h.name,
    data: JSON.parse(h.data ?? 'null'),
    priority: Number(h.priority),
    state: h.state as JobState,
    attemptsMade: Number(h.attemptsMade ?? 0),
    maxAttempts: opts.attempts ?? 1,
    stalledCount: Number(h.stalledCount ?? 0),
    errors,
    createdAt: Number(h.createdAt),
  };
  if (errors.length > 0) info.error = errors[errors.length - 1]!;
  if (h.result !== undefined) info.result = JSON.parse(h.result);
  if (h.processedAt !== undefined) info.processedAt = Number(h.processedAt);
  if (h.finishedAt !== undefined) info.finishedAt = Number(h.finishedAt);
  if (h.delayUntil !== undefined) info.delayUntil = Number(h.delayUntil);
  if (h.progress !== undefined) info.progress = JSON.parse(h.progress);
  if (h.logs !== undefined) info.logs = JSON.parse(h.logs);
  return info;
}
