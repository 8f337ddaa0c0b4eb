import type { JobInfo, JobState } from '../job';
import type { BackendOperations, JobOpKind, OpOutcome } from '../operations';
import { toJobInfo } from './codec';
import type { MemoryInternals } from './memory';

const FINISHED_OR_DELAYED = ['delayed', 'completed', 'failed', 'dead', 'waiting-children'] as const;

/** The job and queue operations on the memory backend: the same moves as the Redis scripts, in one process. */
export class MemoryOperations implements BackendOperations {
  constructor(private readonly store: () => MemoryInternals) {}

  /** Takes `id` out of whichever index holds it (not active). */
  #unindex(s: MemoryInternals, id: string, state: string): void {
    if (state === 'waiting') {
      s.ungroup(id);
      s.waitSet.delete(id);
      for (const fifo of s.wait) {
        const at = fifo.indexOf(id);
        if (at >= 0) fifo.splice(at, 1);
      }
    } else if ((FINISHED_OR_DELAYED as readonly string[]).includes(state)) {
      s.sets[state as (typeof FINISHED_OR_DELAYED)[number]].remove(id);
    }
  }

  async jobOp(op: JobOpKind, id: string, ...args: string[]): Promise<OpOutcome> {
    const s = this.store();
    const f = s.jobs.get(id)?.fields;
    if (!f) return { done: false, state: undefined };
    const state = f.state as JobState;
    const refused = { done: false, state };
    switch (op) {
      case 'remove':
        // A flow parent waiting for its children: refused (its children would report to nothing).
        if (state === 'active' || state === 'waiting-children') return refused;
        if (args[0] && !args[0].split(',').includes(state)) return refused;
        this.#unindex(s, id, state);
        s.jobs.delete(id);
        break;
      case 'retry':
        if (state !== 'failed' && state !== 'dead') return refused;
        this.#unindex(s, id, state);
        f.attemptsMade = '0';
        f.stalledCount = '0';
        for (const k of ['finishedAt', 'processedAt', 'result', 'progress']) delete f[k];
        s.enqueue(id);
        s.wake();
        break;
      case 'promote':
        if (state !== 'delayed') return refused;
        this.#unindex(s, id, state);
        s.enqueue(id);
        s.wake();
        break;
      case 'priority':
        if (state === 'waiting') {
          f.priority = args[0]!;
          if (!s.regroupPriority(id, Number(f.priority))) {
            this.#unindex(s, id, state);
            s.enqueue(id);
          }
          s.wake();
        } else {
          f.priority = args[0]!;
        }
        break;
      case 'data':
        f.data = args[0]!;
        break;
      case 'progress':
        if (f.token !== args[0]) return refused;
        f.progress = args[1]!;
        break;
    }
    return { done: true, state };
  }

  async log(id: string, line: string, maxLines: number): Promise<number | undefined> {
    const f = this.store().jobs.get(id)?.fields;
    if (!f) return undefined;
    const lines = f.logs ? (JSON.parse(f.logs) as string[]) : [];
    lines.push(line);
    f.logs = JSON.stringify(lines.slice(-maxLines));
    const n = Number(f.logCount ?? 0) + 1;
    f.logCount = String(n);
    return n;
  }

  async getJobs(states: readonly JobState[], start: number, stop: number, asc: boolean): Promise<JobInfo[]> {
    const s = this.store();
    const out: JobInfo[] = [];
    let pos = 0;
    for (const state of states) {
      if (pos > stop) break;
      const ids = await s.list(state);
      if (!asc) ids.reverse();
      const lo = Math.max(start, pos) - pos;
      const hi = Math.min(stop, pos + ids.length - 1) - pos;
      for (let i = lo; i <= hi; i++) {
        const info = toJobInfo(ids[i]!, { ...s.jobs.get(ids[i]!)!.fields });
        if (info) out.push(info);
      }
      pos += ids.length;
    }
    return out;
  }

  async clean(state: JobState, cutoff: number, limit: number): Promise<string[]> {
    const s = this.store();
    const removed: string[] = [];
    if (state === 'waiting' || state === 'delayed') {
      for (const id of (await s.list(state)).slice(0, 10_000)) {
        if (removed.length >= limit) break;
        if (Number(s.jobs.get(id)?.fields.createdAt) < cutoff) removed.push(id);
      }
    } else if (state !== 'active') {
      for (const id of s.sets[state].below(cutoff)) {
        if (removed.length >= limit) break;
        removed.push(id);
      }
    }
    for (const id of removed) {
      this.#unindex(s, id, state);
      s.jobs.delete(id);
    }
    return removed;
  }

  async drain(chunk: number): Promise<{ removed: number; left: number }> {
    const s = this.store();
    let removed = 0;
    for (const state of ['waiting', 'delayed'] as const) {
      for (const id of await s.list(state)) {
        if (removed >= chunk) break;
        this.#unindex(s, id, state);
        s.jobs.delete(id);
        removed++;
      }
    }
    return { removed, left: s.waitSet.size + s.grouped() + s.sets.delayed.size };
  }

  async obliterate(force: boolean, _chunk: number): Promise<{ removed: number; left: number; active?: number }> {
    const s = this.store();
    const active = s.sets.active.size;
    if (active > 0 && !force) return { removed: 0, left: active, active };
    const removed = s.jobs.size;
    s.jobs.clear();
    s.waitSet.clear();
    s.clearGroups();
    for (const fifo of s.wait) fifo.length = 0;
    for (const set of Object.values(s.sets)) for (const id of set.sorted()) set.remove(id);
    return { removed, left: 0 };
  }
}
