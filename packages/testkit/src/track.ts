/** A promise's outcome, readable synchronously: `done`, then `value` or `error`. */
export interface Tracked<T> {
  readonly done: boolean;
  readonly value?: T;
  readonly error?: unknown;
}

/**
 * Watches a promise without awaiting it, so a test can assert it has *not* settled yet (before a fake
 * clock reaches a deadline) and later what it settled with. The rejection is handled: no unhandled rejection.
 */
export function track<T>(promise: Promise<T>): Tracked<T> {
  const state: { done: boolean; value?: T; error?: unknown } = { done: false };
  promise.then(
    (value) => {
      state.done = true;
      state.value = value;
    },
    (error: unknown) => {
      state.done = true;
      state.error = error;
    },
  );
  return state;
}
