import {
  createMethodDecorator,
  type DualMethodDecorator,
  InvalidOptionsError,
  optionsOrEmpty,
  parseOptions,
} from '@ballast/core';
import { type PermitOptions, permitOptionsSchema, type Semaphore } from './semaphore';

export interface WithPermitOptions extends Omit<PermitOptions, 'signal'> {
  /** Permits each call takes (default 1). */
  permits?: number;
}

/** The semaphore, or a function of the instance giving it (for one injected per instance). */
export type SemaphoreSource = Semaphore | ((self: never) => Semaphore);

/**
 * The method runs holding `permits` permits of the semaphore, given back after (also when it throws): at most
 * `limit / permits` calls run at once across every process sharing the semaphore. When the call's last argument
 * is an AbortSignal, it cancels the wait for permits. Works as a TS 5 standard and a legacy decorator.
 *
 * @example
 * const exports = createSemaphore({ redis, name: 'exports', permits: 3 });
 * class Reports {
 *   @WithPermit(exports)
 *   async export(id: string) { … }
 * }
 */
export function WithPermit(semaphore: SemaphoreSource, options: WithPermitOptions = {}): DualMethodDecorator {
  const { permits = 1, ...acquire } = optionsOrEmpty(options, 'WithPermit');
  if (typeof semaphore !== 'function' && (typeof semaphore !== 'object' || semaphore === null)) {
    throw new InvalidOptionsError('WithPermit', [
      {
        path: 'semaphore',
        expected: 'a Semaphore or a function returning one',
        received: String(semaphore),
        message: 'not a semaphore',
      },
    ]);
  }
  // Bad options fail where the decorator is written, not at the first call.
  parseOptions(permitOptionsSchema, acquire, 'WithPermit');
  return createMethodDecorator(
    'WithPermit',
    (method) =>
      function (this: unknown, ...args: unknown[]) {
        let sem: Semaphore;
        try {
          sem = typeof semaphore === 'function' ? (semaphore as (self: unknown) => Semaphore)(this) : semaphore;
        } catch (error) {
          return Promise.reject(error);
        }
        const last = args[args.length - 1];
        const o = last instanceof AbortSignal ? { ...acquire, signal: last } : acquire;
        return sem.using(() => method.apply(this, args), permits, o);
      },
  );
}
