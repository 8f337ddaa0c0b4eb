import { describeValue } from '@ballast/core';
import { asyncDispose, notAFunction } from './closing';
import { InvalidArgumentError } from './errors';
import { NEVER_ABORTED, type Policy, type PolicyContext, type PolicyFn } from './policy';

/**
 * Composes policies, outermost first: `wrap(a, b, c).execute(fn)` runs `a(b(c(fn)))`.
 *
 * Recommended order — `wrap(fallback, retry, breaker, bulkhead, timeout)`:
 * - fallback outermost, so it answers whatever gave up below it;
 * - retry outside the breaker, so every try is counted and an open breaker stops the retries at once
 *   (the default `retryOn` does not retry `BrokenCircuitError`);
 * - timeout innermost, so each try has its own time limit and a timeout counts as a breaker failure.
 *
 * The innermost function sees the innermost signal (it aborts on any layer's timeout or the caller's abort)
 * and the retry attempt number.
 *
 * `close()` closes every policy it composed (those with a `close`): call it when the wrap owns them. A
 * policy shared by several wraps is closed by whichever closes first, so share policies across wraps only
 * when you close them yourself.
 */
export class PolicyWrap implements Policy {
  readonly policies: readonly Policy[];

  /**
   * @throws InvalidArgumentError when there is no policy at all (a wrap of nothing protects nothing, and is
   * almost always a mistake such as spreading an empty list), or an entry is not a policy.
   */
  constructor(policies: readonly Policy[]) {
    if (!Array.isArray(policies) || policies.length === 0) {
      throw new InvalidArgumentError('wrap', 'policies', 'at least one policy', describeValue(policies));
    }
    policies.forEach((p, i) => {
      if (typeof (p as Partial<Policy> | null)?.execute !== 'function') {
        throw new InvalidArgumentError('wrap', `policies[${i}]`, 'a policy (with an execute method)', describeValue(p));
      }
    });
    this.policies = policies;
  }

  /** Closes every composed policy that has a `close()` (timers, fleet links, metrics), in parallel. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= Promise.all(
      this.policies.map((p) => (p as Partial<{ close(): Promise<void> | void }>).close?.call(p)),
    ).then(() => {});
    return this.#closing;
  }

  /** Alias of `close()`. */
  dispose(): Promise<void> {
    return this.close();
  }

  [asyncDispose](): Promise<void> {
    return this.close();
  }

  #closing: Promise<void> | undefined;

  execute<T>(fn: PolicyFn<T>, signal?: AbortSignal): Promise<T> {
    if (typeof fn !== 'function') return Promise.reject(notAFunction('PolicyWrap.execute', fn));
    return this.#run(0, fn, signal, 0);
  }

  #run<T>(i: number, fn: PolicyFn<T>, signal: AbortSignal | undefined, attempt: number): Promise<T> {
    const policy = this.policies[i];
    if (!policy) return Promise.resolve().then(() => fn({ signal: signal ?? NEVER_ABORTED, attempt }));
    const last = i === this.policies.length - 1;
    return policy.execute<T>(
      last
        ? // On a first try every context's attempt is ≥ 0: the function itself, no closure per call.
          attempt === 0
          ? fn
          : (ctx: PolicyContext) => fn(ctx.attempt >= attempt ? ctx : { signal: ctx.signal, attempt })
        : (ctx: PolicyContext) => this.#run(i + 1, fn, ctx.signal, Math.max(attempt, ctx.attempt)),
      signal,
    );
  }
}

export function wrap(...policies: Policy[]): PolicyWrap {
  return new PolicyWrap(policies);
}
