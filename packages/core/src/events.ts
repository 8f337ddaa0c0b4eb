/**
 * One event style for every package: `breaker.onOpen(listener)` returns a function that unsubscribes.
 * The returned function is also a `Disposable` (`using sub = breaker.onOpen(...)`) and has `dispose()`.
 */
import { processSlot } from './process-wide';
export interface Unsubscribe {
  (): void;
  dispose(): void;
  [Symbol.dispose](): void;
}

/** Subscribe to an event: the listener runs on every emission until unsubscribed. */
export type Event<T> = (listener: (data: T) => void) => Unsubscribe;

/** Where listener errors go: a throwing listener never breaks the emitter nor the other listeners. */
export type ListenerErrorHandler = (error: unknown, eventName: string) => void;

const defaultListenerErrorHandler: ListenerErrorHandler = (error, eventName) => {
  // Report asynchronously so the emitting code path never sees the error, but it is not swallowed.
  queueMicrotask(() => {
    const text = `Ballast event listener for "${eventName}" threw: ${error instanceof Error ? error.stack : String(error)}`;
    // Node reports it as a process warning; a browser (core/base) has no `process`: the console it is.
    if (typeof process !== 'undefined' && typeof process.emitWarning === 'function') {
      process.emitWarning(text, 'BallastListenerError');
    } else {
      console.error(text);
    }
  });
};

/** Shared by every copy of Ballast in the process (see `processSlot`). */
const listenerErrorHandlerSlot = processSlot<ListenerErrorHandler>('core/listenerErrorHandler');

/** Replaces the process-wide handler for errors thrown by event listeners (default: a process warning). */
export function setListenerErrorHandler(handler: ListenerErrorHandler): void {
  listenerErrorHandlerSlot.set(handler);
}

function makeUnsubscribe(fn: () => void): Unsubscribe {
  const off = fn as Unsubscribe;
  off.dispose = fn;
  off[Symbol.dispose] = fn;
  return off;
}

/**
 * A typed emitter. Keep the emitter private and expose `emitter.event` publicly:
 *
 * @example
 * class Breaker {
 *   readonly #opened = new EventEmitter<{ name: string }>('open');
 *   readonly onOpen = this.#opened.event;
 * }
 */
export class EventEmitter<T> {
  // Zero or one listener is the common case: keep it off the array path (as cockatiel does).
  #single: ((data: T) => void) | undefined;
  #many: ((data: T) => void)[] | undefined;

  constructor(readonly name = 'event') {}

  /** The subscribe function to expose. */
  readonly event: Event<T> = (listener) => {
    if (this.#many) {
      this.#many.push(listener);
    } else if (this.#single) {
      this.#many = [this.#single, listener];
      this.#single = undefined;
    } else {
      this.#single = listener;
    }
    let active = true;
    return makeUnsubscribe(() => {
      if (!active) return;
      active = false;
      this.#remove(listener);
    });
  };

  get size(): number {
    return this.#many ? this.#many.length : this.#single ? 1 : 0;
  }

  emit(data: T): void {
    if (this.#single) {
      this.#call(this.#single, data);
    } else if (this.#many) {
      // Copy: a listener may unsubscribe itself or others while we iterate.
      for (const listener of this.#many.slice()) this.#call(listener, data);
    }
  }

  /** Resolves with the next emission; rejects if `signal` aborts first. */
  once(signal?: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        off();
        reject(signal?.reason);
      };
      const off = this.event((data) => {
        off();
        signal?.removeEventListener('abort', onAbort);
        resolve(data);
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  clear(): void {
    this.#single = undefined;
    this.#many = undefined;
  }

  #remove(listener: (data: T) => void): void {
    if (this.#single === listener) {
      this.#single = undefined;
      return;
    }
    if (!this.#many) return;
    const i = this.#many.indexOf(listener);
    if (i >= 0) this.#many.splice(i, 1);
    if (this.#many.length === 0) this.#many = undefined;
  }

  #call(listener: (data: T) => void, data: T): void {
    try {
      listener(data);
    } catch (error) {
      (listenerErrorHandlerSlot.get() ?? defaultListenerErrorHandler)(error, this.name);
    }
  }
}
