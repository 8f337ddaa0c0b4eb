import { createMethodDecorator, type DualMethodDecorator, optionsOrEmpty, parseOptions } from '@ballast/core';
import { InvalidLockKeyError } from './errors';
import { getLockManager, type LockManager } from './manager';
import { type AcquireLockOptions, acquireOptionsSchema } from './options';

export type LockKey = string | ((...args: never[]) => string);

export interface WithLockOptions extends Omit<AcquireLockOptions, 'signal' | 'owner'> {
  /**
   * Manager to lock with. Default: the one `setLockManager` configured, looked up at each call; a call with none
   * configured rejects with `LockManagerNotConfiguredError`.
   */
  manager?: LockManager;
}

const PLACEHOLDER = /\{([^{}]+)\}/g;

function lookup(args: readonly unknown[], path: string): unknown {
  const [head, ...rest] = path.split('.');
  const walk = (v: unknown, parts: string[]): unknown =>
    parts.reduce<unknown>(
      (o, p) => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[p] : undefined),
      v,
    );
  if (/^\d+$/.test(head!)) return walk(args[Number(head)], rest);
  // A name: the first object argument that has it (`{userId}` from `(dto: { userId })`); a signal is not data.
  for (const a of args) {
    if (a !== null && typeof a === 'object' && !(a instanceof AbortSignal) && head! in (a as object))
      return walk((a as Record<string, unknown>)[head!], rest);
  }
  return undefined;
}

/**
 * Builds a lock key from a template and a call's arguments: `user:{userId}` reads `userId` from the first
 * object argument having it, `{0}` is the first argument, `{order.id}` a nested field. A placeholder that
 * resolves to nothing is an error naming it (never a key like `user:undefined`).
 */
export function renderLockKey(template: string, args: readonly unknown[]): string {
  const key = template.replace(PLACEHOLDER, (_m, path: string) => {
    const v = lookup(args, path.trim());
    if (v === undefined || v === null || v === '') {
      throw new InvalidLockKeyError(`lock key template "${template}": no argument provides "{${path}}"`);
    }
    return String(v);
  });
  if (key.length === 0) throw new InvalidLockKeyError('lock key must be a non-empty string');
  return key;
}

/**
 * Seed 002's `with_lock("user:{user_id}")`: the method runs holding the lock, released after; the lease's
 * signal is not passed (use `manager.using` for that). When the call's last argument is an AbortSignal (a
 * caller's, or the one `@Timeout`/`@Retry` with `passSignal` put there), it cancels the wait for the lock.
 * Works as a TS 5 standard and a legacy decorator, above or below Ballast's other decorators.
 *
 * @example
 * class Accounts {
 *   @WithLock('account:{accountId}')
 *   async transfer(cmd: { accountId: string; cents: number }) { … }
 * }
 */
export function WithLock(key: LockKey, options: WithLockOptions = {}): DualMethodDecorator {
  const { manager, ...acquire } = optionsOrEmpty(options, 'WithLock');
  if (typeof key === 'string' && key.length === 0) throw new InvalidLockKeyError('lock key must be a non-empty string');
  if (typeof key !== 'string' && typeof key !== 'function') {
    throw new InvalidLockKeyError('lock key must be a template string or a function of the arguments');
  }
  // Bad options fail where the decorator is written, not at the first call.
  parseOptions(acquireOptionsSchema, acquire, 'WithLock');
  return createMethodDecorator(
    'WithLock',
    (method, info) =>
      function (this: unknown, ...args: unknown[]) {
        let locks: LockManager;
        let resolved: string;
        try {
          locks = manager ?? getLockManager(`@WithLock on ${info.className ?? 'anonymous'}.${info.methodName}`);
          resolved =
            typeof key === 'function' ? (key as (...a: unknown[]) => string)(...args) : renderLockKey(key, args);
        } catch (error) {
          return Promise.reject(error); // the call is async: its errors are rejections, never synchronous throws
        }
        const last = args[args.length - 1];
        const options = last instanceof AbortSignal ? { ...acquire, signal: last } : acquire;
        return locks.using(resolved, () => method.apply(this, args), options);
      },
  );
}
