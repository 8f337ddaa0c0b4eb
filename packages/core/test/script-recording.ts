import type { ScriptClient } from '../src/lua';

/**
 * Wraps a script client (a Redis or a Cluster) to record which script commands went to the server and how
 * EVALSHA answered: `evalsha`, `evalsha:NOSCRIPT`, `eval`.
 */
export function recordingScripts(client: ScriptClient): { calls: string[]; client: ScriptClient } {
  const calls: string[] = [];
  const wrapped: ScriptClient = {
    evalsha: ((...args: Parameters<ScriptClient['evalsha']>) =>
      (client.evalsha as (...a: unknown[]) => Promise<unknown>)(...args).then(
        (v) => {
          calls.push('evalsha');
          return v;
        },
        (e: Error) => {
          calls.push(`evalsha:${e.message.split(' ')[0]}`);
          throw e;
        },
      )) as ScriptClient['evalsha'],
    eval: ((...args: Parameters<ScriptClient['eval']>) => {
      calls.push('eval');
      return (client.eval as (...a: unknown[]) => Promise<unknown>)(...args);
    }) as ScriptClient['eval'],
  };
  return { calls, client: wrapped };
}
