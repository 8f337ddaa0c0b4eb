import { defineScript, type RedisClient, runScript, type ScriptArg } from '@ballast/core';
import type { JobInfo, JobState } from '../job';
import type { GroupKeys, QueueKeys } from '../keys';
import cleanSource from '../lua/clean.lua';
import drainSource from '../lua/drain.lua';
import getJobsSource from '../lua/get-jobs.lua';
import jobLogSource from '../lua/job-log.lua';
import jobOpSource from '../lua/job-op.lua';
import obliterateSource from '../lua/obliterate.lua';
import type { BackendOperations, JobOpKind, OpOutcome } from '../operations';
import { toJobInfo } from './codec';

const JOB_OP = defineScript('queue:job-op', jobOpSource);
const JOB_LOG = defineScript('queue:job-log', jobLogSource);
const GET_JOBS = defineScript('queue:get-jobs', getJobsSource);
const CLEAN = defineScript('queue:clean', cleanSource);
const DRAIN = defineScript('queue:drain', drainSource);
const OBLITERATE = defineScript('queue:obliterate', obliterateSource);

/**
 * Job and queue operations on Redis: each one script on the queue's keys (one hash tag, one Cluster slot). Every
 * script gets the same KEYS: the queue's nine, its events stream, a grouped queue's round-robin list, group
 * set and group-line prefix (a key prefix with the queue's hash tag) — a grouped queue's waiting jobs sit in
 * their group's line, not in `wait`, and every operation must find them there — and the flow keys
 * (parents waiting for children, the outbox).
 */
export class RedisOperations implements BackendOperations {
  readonly #keys: string[];
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: QueueKeys,
    eventsKey: string,
    groups: GroupKeys,
  ) {
    this.#keys = [...keys.all, eventsKey, groups.list, groups.set, groups.gwait, keys.waitingChildren, keys.outbox];
  }

  #run<T>(script: Parameters<typeof runScript>[1], args: ScriptArg[]): Promise<T> {
    return runScript<T>(this.redis, script, this.#keys, [this.keys.job, ...args]);
  }

  async jobOp(op: JobOpKind, id: string, ...args: string[]): Promise<OpOutcome> {
    const [done, state] = await this.#run<[number, string]>(JOB_OP, [op, id, ...args]);
    return { done: done === 1, state: state === '' ? undefined : (state as JobState) };
  }

  async log(id: string, line: string, maxLines: number): Promise<number | undefined> {
    const n = await runScript<number>(this.redis, JOB_LOG, [this.keys.job + id], [line, maxLines]);
    return n < 0 ? undefined : n;
  }

  async getJobs(states: readonly JobState[], start: number, stop: number, asc: boolean): Promise<JobInfo[]> {
    const flat = await this.#run<(string | string[])[]>(GET_JOBS, [start, stop, asc ? '1' : '0', ...states]);
    const out: JobInfo[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      const pairs = flat[i + 1] as string[];
      const h: Record<string, string> = {};
      for (let k = 0; k < pairs.length; k += 2) h[pairs[k]!] = pairs[k + 1]!;
      const info = toJobInfo(flat[i] as string, h);
      if (info) out.push(info);
    }
    return out;
  }

  clean(state: JobState, cutoff: number, limit: number): Promise<string[]> {
    return this.#run<string[]>(CLEAN, [state, cutoff, limit]);
  }

  async drain(chunk: number): Promise<{ removed: number; left: number }> {
    const [removed, left] = await this.#run<[number, number]>(DRAIN, [chunk]);
    return { removed, left };
  }

  async obliterate(force: boolean, chunk: number): Promise<{ removed: number; left: number; active?: number }> {
    const [removed, left] = await this.#run<[number, number]>(OBLITERATE, [force ? '1' : '0', chunk]);
    return removed < 0 ? { removed: 0, left, active: left } : { removed, left };
  }
}
