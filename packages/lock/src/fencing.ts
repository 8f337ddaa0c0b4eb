import { defineScript, type RedisClient, runScript } from '@ballast/core';
import { StaleFencingTokenError } from './errors';
import fencedSetSource from './lua/fenced-set.lua';

const FENCED_SET = defineScript('lock:fenced-set', fencedSetSource);

export interface FencedSetOptions {
  /** Where the highest fencing token seen is kept; default `<key>:fence`. Must share the key's hash slot
   * on Cluster: give the key a `{tag}` (e.g. `{order:42}:total`) and the default inherits it. */
  fenceKey?: string;
  /** Expiry of the written value, ms. */
  ttlMs?: number;
}

/**
 * Writes `value` to `key` only if `fencingToken` is not older than the newest one that wrote there — the
 * verifier side of fencing. A lock alone cannot protect a resource: its holder can pause (GC, swap, a VM
 * stop) past its TTL, another client acquires, and the first wakes up still believing it holds the lock.
 * The resource must check the token itself. In SQL the same check is one conditional statement:
 *
 *   UPDATE accounts SET balance = $1, fence = $2 WHERE id = $3 AND fence <= $2
 *   -- 0 rows updated ⇒ a newer holder already wrote: abort
 *
 * Throws `StaleFencingTokenError` when rejected.
 */
export async function fencedSet(
  redis: RedisClient,
  key: string,
  value: string,
  fencingToken: number,
  options: FencedSetOptions = {},
): Promise<void> {
  const [ok, latest] = await runScript<[number, number]>(
    redis,
    FENCED_SET,
    [key, options.fenceKey ?? `${key}:fence`],
    [fencingToken, value, options.ttlMs ?? 0],
  );
  if (ok !== 1) throw new StaleFencingTokenError(key, fencingToken, Number(latest));
}
