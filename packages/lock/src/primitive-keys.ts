import { createKeyBuilder } from '@ballast/core';

/**
 * Keys of a semaphore and of a latch (the lock's own are in keys.ts). Every key of one primitive shares its
 * `{name}` hash tag, so each script touches one Cluster slot.
 */
export function semaphoreKeys(prefix: string, name: string) {
  const k = createKeyBuilder({ prefix, scope: 'semaphore', tag: name });
  return {
    /** hash holder id → permits it holds */
    holders: k.key('holders'),
    /** zset holder id → lease expiry (server ms); both keys expire with the last lease */
    expiry: k.key('expiry'),
    /** pub/sub channel a release publishes on */
    released: k.key('released'),
  };
}

export function latchKeys(prefix: string, name: string) {
  const k = createKeyBuilder({ prefix, scope: 'latch', tag: name });
  return {
    /** string: the remaining count; absent = 0 (open) */
    count: k.key('count'),
    /** pub/sub channel the count-down to zero publishes on */
    opened: k.key('opened'),
  };
}
