import { defineScript, type ScriptArg, type ScriptBatcher } from '@ballast/core';
import type { FetchedJob } from '../backend';
import type { GroupStore } from '../groups';
import type { NewJob } from '../job';
import { groupKeys, type QueueKeys } from '../keys';
import addSource from '../lua/add-grouped.lua';
import fetchSource from '../lua/fetch-groups.lua';
import countsSource from '../lua/group-counts.lua';
import regroupSource from '../lua/regroup.lua';

const ADD = defineScript('queue:add-grouped', addSource);
const FETCH = defineScript('queue:fetch-groups', fetchSource);
const REGROUP = defineScript('queue:regroup', regroupSource);
const COUNTS = defineScript('queue:group-counts', countsSource);
const ADD_CHUNK = 1_000;

/** A grouped queue's lines in Redis (same hash tag as its jobs: one Cluster slot). */
export class RedisGroupStore implements GroupStore {
  readonly #keys: string[];
  readonly #gwait: string;
  readonly #glimit: string;

  constructor(
    private readonly batch: ScriptBatcher,
    private readonly keys: QueueKeys,
    name: string,
    prefix: string,
  ) {
    const g = groupKeys(name, prefix);
    this.#keys = [...keys.all, g.list, g.set];
    this.#gwait = g.gwait;
    this.#glimit = g.glimit;
  }

  async add(jobs: readonly NewJob[], now: number): Promise<{ id: string; added: boolean }[]> {
    const out: { id: string; added: boolean }[] = [];
    for (let start = 0; start < jobs.length; start += ADD_CHUNK) {
      const chunk = jobs.slice(start, start + ADD_CHUNK);
      const args: ScriptArg[] = [this.keys.job, now, this.#gwait, chunk.length];
      for (const j of chunk) args.push(j.id, j.name, j.data, j.opts, j.priority, j.group ?? '');
      const flat = await this.batch.run<(string | number)[]>(ADD, this.#keys, args);
      for (let i = 0; i < flat.length; i += 2) out.push({ id: String(flat[i]), added: flat[i + 1] === 1 });
    }
    return out;
  }

  async fetch(
    now: number,
    count: number,
    token: string,
    lockMs: number,
    limit: { max: number; durationMs: number } | undefined,
  ): Promise<{ jobs: FetchedJob[]; waitMs: number | null }> {
    const [rows, wait] = await this.batch.run<[string[][], number]>(FETCH, this.#keys, [
      this.keys.job,
      now,
      count,
      token,
      lockMs,
      this.#gwait,
      this.#glimit,
      limit ? limit.durationMs / limit.max : 0,
      limit ? limit.durationMs : 0,
    ]);
    const jobs = rows.map((r) => ({
      id: r[0]!,
      name: r[1]!,
      data: r[2]!,
      opts: r[3]!,
      priority: Number(r[4]),
      attemptsMade: Number(r[5]),
      createdAt: Number(r[6]),
      token,
    }));
    return { jobs, waitMs: wait < 0 ? null : wait };
  }

  waiting(): Promise<number[]> {
    return this.batch.run<number[]>(COUNTS, [this.#keys[10]!], [this.#gwait]);
  }

  async regroup(id: string, token: string, group: string): Promise<boolean> {
    return (await this.batch.run<number>(REGROUP, this.#keys, [this.keys.job, id, token, this.#gwait, group])) === 1;
  }
}
