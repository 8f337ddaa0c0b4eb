// close() against acquisitions in flight: waiters refused, grants that race it released before it resolves.
import { LockManagerClosedError } from './errors';

/**
 * Counts the acquisitions in flight (and late grants being handed back) so `close()` can wait for them, and
 * tells each waiter when the manager closes. An acquisition that is granted after `close()` began releases
 * the grant at once and fails with `LockManagerClosedError`; `close()` resolves only once none is in flight,
 * so a closed manager never holds a key.
 */
export class Closing {
  #closed = false;
  #busy = 0;
  #idle: (() => void) | undefined;
  readonly #waiters = new Set<() => void>();

  get closed(): boolean {
    return this.#closed;
  }

  /** Throws `LockManagerClosedError` once closing began. */
  check(): void {
    if (this.#closed) throw new LockManagerClosedError();
  }

  enter(): void {
    this.#busy++;
  }

  leave(): void {
    if (--this.#busy === 0) this.#idle?.();
  }

  /** Calls `wake` when the manager closes (a waiter stops sleeping); returns the unsubscribe. */
  onClose(wake: () => void): () => void {
    this.#waiters.add(wake);
    return () => this.#waiters.delete(wake);
  }

  /** A grant that arrived after close() began: hands it back, then refuses. */
  async refuse(key: string, release: () => Promise<unknown>): Promise<never> {
    await release().catch(() => {});
    throw new LockManagerClosedError(key);
  }

  /**
   * An acquisition given up (deadline, signal, close) while its attempt was in flight may still be granted:
   * hands such a grant back at once. `close()` waits for it.
   */
  abandon(attempt: Promise<{ acquired: boolean }>, release: () => Promise<unknown>): void {
    this.enter();
    attempt
      .then((r) => (r.acquired ? release() : undefined))
      .catch(() => {})
      .finally(() => this.leave());
  }

  /** Refuses new acquisitions, wakes every waiter, and resolves once no acquisition is in flight. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const wake of [...this.#waiters]) wake();
    this.#waiters.clear();
    if (this.#busy > 0) await new Promise<void>((resolve) => (this.#idle = resolve));
  }
}
