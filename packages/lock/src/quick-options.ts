// The per-acquire option check without zod: the hot path's stand-in for `acquireOptionsSchema`.
import type { AcquireLockOptions } from './options';

/** Acquire options once checked (`mode` may still be unset: exclusive). */
export type CheckedAcquire = AcquireLockOptions;

/**
 * The acquire options checked by hand: the same rules as `acquireOptionsSchema`, without zod's cost on every
 * call. Undefined when anything is off — the caller then runs the schema, which names the problem.
 */
export function quickAcquireOptions(options: AcquireLockOptions): CheckedAcquire | undefined {
  if (typeof options !== 'object' || options === null) return undefined;
  for (const name in options) {
    const v = (options as Record<string, unknown>)[name];
    if (v === undefined) continue;
    switch (name) {
      case 'ttlMs':
        if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) return undefined;
        break;
      case 'waitMs':
        if (typeof v !== 'number' || !(v >= 0)) return undefined;
        break;
      case 'mode':
        if (v !== 'exclusive' && v !== 'shared') return undefined;
        break;
      case 'signal':
        if (!(v instanceof AbortSignal)) return undefined;
        break;
      case 'owner':
        if (typeof v !== 'string' || v.length === 0) return undefined;
        break;
      case 'autoExtend':
      case 'fair':
        if (typeof v !== 'boolean') return undefined;
        break;
      default:
        return undefined;
    }
  }
  return options;
}
