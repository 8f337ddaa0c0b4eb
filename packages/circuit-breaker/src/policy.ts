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

/**
 * The one signal that never aborts: what a policy hands its function when the caller gave no signal. Shared,
 * so such calls allocate nothing; and recognised, so a policy receiving it from an outer one (inside `wrap`)
 * treats it as no signal at all — no abort listener added and removed on every call.
 */
export const NEVER_ABORTED: AbortSignal = new AbortController().signal;

/** `undefined` for no signal or `NEVER_ABORTED`; the signal otherwise. */
export function callerSignal(signal: AbortSignal | undefined): AbortSignal | undefined {
  return signal === NEVER_ABORTED ? undefined : signal;
}

export function contextOf(signal: AbortSignal | undefined, attempt = 0): PolicyContext {
  return { signal: signal ?? NEVER_ABORTED, attempt };
}
