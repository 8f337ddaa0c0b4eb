import { NonSerializableDataError } from './errors';
import { readDependencies } from './flows';
import { type Job, serialize } from './job';
import { MAX_LOG_LINE_LENGTH, MAX_LOG_LINES, opsOf } from './operations';
import type { Queue } from './queue';

/**
 * The job a handler receives: its fields, plus `updateProgress` and `log`, which act under the attempt's lease
 * token (a worker whose lease was lost cannot overwrite the progress of the attempt that took over).
 */
export class HandlerJob<D> implements Job<D> {
  readonly #queue: Queue<D>;
  readonly #token: string;
  constructor(
    queue: Queue<D>,
    token: string,
    readonly id: string,
    readonly name: string,
    readonly data: D,
    readonly priority: number,
    readonly attempt: number,
    readonly maxAttempts: number,
    readonly createdAt: number,
  ) {
    this.#queue = queue;
    this.#token = token;
  }

  async updateProgress(progress: number | object): Promise<void> {
    const ok =
      (typeof progress === 'number' && Number.isFinite(progress)) ||
      (typeof progress === 'object' && progress !== null);
    if (!ok) throw new NonSerializableDataError('progress', 'expected a finite number or an object');
    const text = serialize(progress, 'progress');
    const r = await opsOf(this.#queue, 'updateProgress').jobOp('progress', this.id, this.#token, text);
    if (r.done) this.#queue.publish({ event: 'progress', jobId: this.id, progress });
  }

  async childrenResults<R = unknown>(): Promise<Record<string, R>> {
    const store = this.#queue.backend.flows?.();
    return store ? (await readDependencies<R>(store, this.id)).processed : {};
  }

  async log(line: string): Promise<void> {
    const text = String(line);
    const kept = text.length > MAX_LOG_LINE_LENGTH ? `${text.slice(0, MAX_LOG_LINE_LENGTH - 1)}…` : text;
    await opsOf(this.#queue, 'log').log(this.id, kept, MAX_LOG_LINES);
  }
}
