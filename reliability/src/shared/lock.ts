import type { RedisClient } from '@ballast/core';

export interface LockWorkerConfig {
  redisUrl: string;
  prefix: string;
  client: string;
  /** The lock's resource name (all clients contend for it). */
  resource: string;
  ttlMs: number;
  /** Time spent between entering the critical section and writing: where a pause hurts. */
  workMs: number;
  keys: LockScenarioKeys;
  lifetimeMs: number;
}

export interface LockScenarioKeys {
  /** The protected value, written only through `fencedSet`. */
  resource: string;
  /** INCR on entering the critical section, DECR on leaving: > 1 means two holders at once. */
  inside: string;
  /** The pid of the latest holder (the parent pauses that process). */
  holder: string;
  /** List of fencing tokens in the order the server ran the fenced writes (appended in the same MULTI). */
  history: string;
  /** Hash history index → `<token>:<1 accepted | 0 rejected | n not run (NOSCRIPT) | e error>:<client>`. */
  results: string;
  /** Hash of counters: sections, overlaps, lostBeforeWrite. */
  stats: string;
}

export function lockScenarioKeys(prefix: string): LockScenarioKeys {
  return {
    resource: `${prefix}{res}:value`,
    inside: `${prefix}inside`,
    holder: `${prefix}holder`,
    history: `${prefix}history`,
    results: `${prefix}results`,
    stats: `${prefix}stats`,
  };
}

type Multi = ReturnType<import('@ballast/core').Redis['multi']>;

/**
 * A client for `fencedSet` that runs each script call in a MULTI together with an RPUSH of the token to
 * `history`: the list is then the order in which the server ran the fenced writes, which is what the
 * verifier replays. The script and its audit entry are one transaction, so the order cannot be skewed.
 */
export function auditedScriptClient(
  redis: import('@ballast/core').Redis,
  keys: LockScenarioKeys,
  client: string,
): RedisClient {
  const run = async (command: 'evalsha' | 'eval', args: unknown[]): Promise<unknown> => {
    // args: script|sha, numkeys (2), key, fenceKey, token, value, ttl
    const token = String(args[4]);
    const multi = redis.multi() as unknown as Record<string, (...a: unknown[]) => Multi>;
    const replies = (await multi[command]!(...args)
      .rpush(keys.history, token)
      .exec()) as [Error | null, unknown][];
    const [scriptError, reply] = replies[0]!;
    const index = Number(replies[1]![1]);
    // NOSCRIPT (another test flushed the script cache): the script never ran, and fencedSet retries it with
    // EVAL as a new history entry. Anything else failing is an unknown outcome.
    const outcome = scriptError
      ? scriptError.message.startsWith('NOSCRIPT')
        ? 'n'
        : 'e'
      : String((reply as number[])[0]);
    await redis.hset(keys.results, String(index), `${token}:${outcome}:${client}`);
    if (scriptError) throw scriptError;
    return reply;
  };
  return {
    evalsha: (...args: unknown[]) => run('evalsha', args),
    eval: (...args: unknown[]) => run('eval', args),
  } as unknown as RedisClient;
}
