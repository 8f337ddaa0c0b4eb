import { createHash } from 'node:crypto';
import type { RedisClient } from './redis';
import { coalesceWrites, isCluster } from './redis';

/** A Lua script with its SHA1, defined once per module and run with `runScript`. */
export interface LuaScript {
  readonly name: string;
  readonly source: string;
  readonly sha: string;
}

export type ScriptArg = string | number | Buffer;

/** The smallest client `runScript` needs: single-node and Cluster ioredis clients both fit. */
export type ScriptClient = Pick<RedisClient, 'evalsha' | 'eval'>;

export function defineScript(name: string, source: string): LuaScript {
  return { name, source, sha: createHash('sha1').update(source).digest('hex') };
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/**
 * Runs a script in one round trip: `EVALSHA`; on `NOSCRIPT` (server restarted, flushed, or a Cluster node
 * that has not seen it) falls back to `EVAL`, which also caches the script on that node. On Cluster both
 * commands are routed by the first key, so every key must share a `{hash tag}`.
 */
export async function runScript<T = unknown>(
  client: ScriptClient,
  script: LuaScript,
  keys: readonly string[],
  args: readonly ScriptArg[] = [],
): Promise<T> {
  try {
    return (await client.evalsha(script.sha, keys.length, ...keys, ...args)) as T;
  } catch (error) {
    if (!isNoScript(error)) throw error;
    return (await client.eval(script.source, keys.length, ...keys, ...args)) as T;
  }
}

/**
 * Loads scripts ahead of time (every master of a Cluster), so pipelines and MULTI blocks may use EVALSHA
 * without a NOSCRIPT fallback.
 */
export async function loadScripts(client: RedisClient, scripts: readonly LuaScript[]): Promise<void> {
  const targets = isCluster(client) ? client.nodes('master') : [client];
  await Promise.all(targets.flatMap((node) => scripts.map((s) => node.script('LOAD', s.source) as Promise<unknown>)));
}

/** Runs scripts like `runScript`; see `createScriptBatcher`. */
export interface ScriptBatcher {
  run<T = unknown>(script: LuaScript, keys: readonly string[], args?: readonly ScriptArg[]): Promise<T>;
}

/**
 * Script calls made in the same tick leave in one socket write (`coalesceWrites`): many concurrent callers — ten
 * workers each acking a job — cost one syscall per tick instead of one each, without the caller having to turn
 * on ioredis's `enableAutoPipelining` for the whole connection. Each call is sent, replied to and settled on its
 * own (a `NOSCRIPT` reply falls back to `EVAL` for that call alone). No-op batching on a Cluster.
 */
export function createScriptBatcher(client: RedisClient): ScriptBatcher {
  return {
    run<T>(script: LuaScript, keys: readonly string[], args: readonly ScriptArg[] = []): Promise<T> {
      coalesceWrites(client);
      return runScript<T>(client, script, keys, args);
    },
  };
}
