import { createHash } from 'node:crypto';
import type { RedisClient } from './redis';
import { isCluster } from './redis';

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

interface Pending {
  script: LuaScript;
  keys: readonly string[];
  args: readonly ScriptArg[];
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/**
 * Script calls made in the same tick go out as one pipeline: one socket write and one reply read for all of
 * them, instead of one each (what ioredis's `enableAutoPipelining` does, without the caller having to turn it
 * on for the whole connection). Many concurrent callers — ten workers each taking a lock — thus cost a
 * handful of syscalls per tick. Each call still settles on its own, in order; a `NOSCRIPT` reply falls back to
 * `EVAL` for that call alone. On a Cluster, calls go out one by one (`runScript`): a pipeline there must stay
 * within one slot.
 */
export function createScriptBatcher(client: RedisClient): ScriptBatcher {
  if (isCluster(client)) {
    return { run: (script, keys, args = []) => runScript(client, script, keys, args) };
  }
  let queue: Pending[] = [];
  const flush = (): void => {
    const batch = queue;
    queue = [];
    if (batch.length === 1) {
      const p = batch[0]!;
      runScript(client, p.script, p.keys, p.args).then(p.resolve, p.reject);
      return;
    }
    const pipeline = client.pipeline();
    for (const p of batch) pipeline.evalsha(p.script.sha, p.keys.length, ...p.keys, ...p.args);
    pipeline.exec().then(
      (results) => {
        for (let i = 0; i < batch.length; i++) {
          const p = batch[i]!;
          const [error, value] = results?.[i] ?? [new Error('pipeline returned no reply'), undefined];
          if (!error) p.resolve(value);
          else if (isNoScript(error)) runScript(client, p.script, p.keys, p.args).then(p.resolve, p.reject);
          else p.reject(error);
        }
      },
      (error: unknown) => {
        for (const p of batch) p.reject(error);
      },
    );
  };
  return {
    run<T>(script: LuaScript, keys: readonly string[], args: readonly ScriptArg[] = []): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        if (queue.length === 0) process.nextTick(flush);
        queue.push({ script, keys, args, resolve: resolve as (v: unknown) => void, reject });
      });
    },
  };
}
