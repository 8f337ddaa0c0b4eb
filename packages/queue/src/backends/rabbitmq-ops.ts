import type { JobInfo, JobState } from '../job';
import { UnsupportedOperationError } from '../operation-errors';
import type { BackendOperations, JobOpKind, OpOutcome } from '../operations';
import type { StatusStore } from '../status';
import { toJobInfo } from './codec';

const BROKER =
  'the job is a message in a RabbitMQ queue, and a broker cannot reach into a queue to change, move or drop one message';
const unsupported = (operation: string, reason = BROKER) =>
  new UnsupportedOperationError('RabbitMQ', operation, reason);

/**
 * What RabbitMQ allows of the job and queue operations. The broker holds waiting, delayed and dead jobs as
 * messages: they cannot be removed, promoted, re-prioritised or edited one by one (typed
 * `UnsupportedOperationError` naming the operation). What lives only in the status store can be acted on:
 * finished jobs (remove, clean), progress and logs of running jobs, listing (`getJobs`, not one instant: the
 * states are read one after another), retry of a dead job (the DLQ message is republished), `drain` (the
 * broker purges the queues' ready messages) and `obliterate` (the broker deletes the queues). Neither is atomic
 * with adds running meanwhile.
 */
export class RabbitOperations implements BackendOperations {
  constructor(
    private readonly status: StatusStore,
    private readonly broker: {
      replayDead(ids: readonly string[]): Promise<number>;
      purgeWaiting(): Promise<number>;
      deleteQueues(): Promise<void>;
    },
  ) {}

  /** Removes the status records of every job in `states`; how many. */
  async #forget(states: readonly JobState[]): Promise<number> {
    let n = 0;
    for (const state of states) {
      for (const id of await this.status.list(state, 0, Number.MAX_SAFE_INTEGER)) {
        await this.status.remove(id);
        n++;
      }
    }
    return n;
  }

  async jobOp(op: JobOpKind, id: string, ...args: string[]): Promise<OpOutcome> {
    const rec = await this.status.get(id);
    if (!rec) return { done: false, state: undefined };
    const state = rec.state as JobState;
    switch (op) {
      case 'remove':
        if (state === 'active') return { done: false, state };
        if (state !== 'completed' && state !== 'failed') throw unsupported(`remove (of a ${state} job)`);
        await this.status.remove(id);
        return { done: true, state };
      case 'retry':
        if (state === 'failed')
          throw unsupported(
            'retry (of a failed job)',
            'its message was acked and is gone; use the DLQ (deadLetter: true)',
          );
        if (state !== 'dead') return { done: false, state };
        return { done: (await this.broker.replayDead([id])) === 1, state };
      case 'progress': {
        const done = await this.status.move(id, { set: { progress: args[1]! }, ifState: 'active' });
        return { done, state };
      }
      default:
        throw unsupported({ promote: 'promote', priority: 'changePriority', data: 'updateData' }[op] ?? op);
    }
  }

  async log(id: string, line: string, maxLines: number): Promise<number | undefined> {
    // Read, then write: only the attempt running the job logs to it.
    const rec = await this.status.get(id);
    if (!rec) return undefined;
    const lines = rec.logs ? (JSON.parse(rec.logs) as string[]) : [];
    lines.push(line);
    const n = Number(rec.logCount ?? 0) + 1;
    await this.status.move(id, { set: { logs: JSON.stringify(lines.slice(-maxLines)), logCount: n } });
    return n;
  }

  async getJobs(states: readonly JobState[], start: number, stop: number, asc: boolean): Promise<JobInfo[]> {
    const out: JobInfo[] = [];
    let pos = 0;
    for (const state of states) {
      if (pos > stop) break;
      const ids = await this.status.list(state, 0, Number.MAX_SAFE_INTEGER);
      if (!asc) ids.reverse();
      const lo = Math.max(start, pos) - pos;
      const hi = Math.min(stop, pos + ids.length - 1) - pos;
      for (let i = lo; i <= hi; i++) {
        const rec = await this.status.get(ids[i]!);
        const info = rec && toJobInfo(ids[i]!, rec);
        if (info) out.push(info);
      }
      pos += ids.length;
    }
    return out;
  }

  async clean(state: JobState, cutoff: number, limit: number): Promise<string[]> {
    if (state !== 'completed' && state !== 'failed') throw unsupported(`clean("${state}")`);
    const removed: string[] = [];
    for (const id of await this.status.list(state, 0, Number.MAX_SAFE_INTEGER)) {
      if (removed.length >= limit) break;
      const rec = await this.status.get(id);
      if (rec && Number(rec.finishedAt) < cutoff) {
        await this.status.remove(id);
        removed.push(id);
      }
    }
    return removed;
  }

  /** Purges the wait queue(s) and delay tiers, then drops the waiting and delayed status records. */
  async drain(): Promise<{ removed: number; left: number }> {
    await this.broker.purgeWaiting();
    return { removed: await this.#forget(['waiting', 'delayed']), left: 0 };
  }

  /** Deletes the queue's broker queues (wait, DLQ, delay tiers) and every status record. */
  async obliterate(force: boolean): Promise<{ removed: number; left: number; active?: number }> {
    const active = (await this.status.counts()).active;
    if (active > 0 && !force) return { removed: 0, left: active, active };
    await this.status.setPaused(true);
    await this.broker.deleteQueues();
    const removed = await this.#forget(['waiting', 'delayed', 'active', 'completed', 'failed', 'dead']);
    await this.status.setPaused(false);
    return { removed, left: 0 };
  }
}
