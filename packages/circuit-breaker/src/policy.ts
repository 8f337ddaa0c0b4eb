/**
 * What every policy hands the protected function: the signal to honour. It aborts when the caller's signal
 * aborts, when a timeout policy gives up, or when an outer policy cancels the call.
 */
export interface PolicyContext {
  readonly signal: AbortSignal;
  /** 0 for the first try, then 1, 2… inside a retry policy. */
  readonly attempt: number;
}

/** The protected function. Returning a plain value is allowed; it is treated as a resolved promise. */
export type PolicyFn<T> = (context: PolicyContext) => PromiseLike<T> | T;

/**
 * A policy runs a function under some protection. Every policy in this package implements it, so any can
 * be composed with `wrap(...)` and any can be passed where another is expected.
 */
export interface Policy {
  execute<T>(fn: PolicyFn<T>, signal?: AbortSignal): Promise<T>;
}

/** A signal that never aborts: shared, so calls without a caller signal allocate nothing. */
export const NEVER_ABORTED: AbortSignal = new AbortController().signal;

export function contextOf(signal: AbortSignal | undefined, attempt = 0): PolicyContext {
  return { signal: signal ?? NEVER_ABORTED, attempt };
}
