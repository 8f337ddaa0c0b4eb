import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { defineScript, loadScripts, runScript, type ScriptClient } from './lua';
import { createRedis, type Redis } from './redis';

const redis = createRedis('redis://127.0.0.1:6379') as Redis;
const prefix = `test:core:lua:${randomUUID()}`;
afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

/** Records which script commands went to the server and what they answered. */
function recording(client: Redis) {
  const calls: string[] = [];
  const wrapped: ScriptClient = {
    evalsha: ((...args: Parameters<Redis['evalsha']>) =>
      client.evalsha(...args).then(
        (v) => {
          calls.push('evalsha');
          return v;
        },
        (e: Error) => {
          calls.push(`evalsha:${e.message.split(' ')[0]}`);
          throw e;
        },
      )) as Redis['evalsha'],
    eval: ((...args: Parameters<Redis['eval']>) => {
      calls.push('eval');
      return client.eval(...args);
    }) as Redis['eval'],
  };
  return { calls, client: wrapped };
}

describe('runScript', () => {
  it('falls back to EVAL on NOSCRIPT, then the server has it and EVALSHA alone serves', async () => {
    // A script text the server has never seen: unique comment → unique SHA.
    const script = defineScript('incrby', `-- ${randomUUID()}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])`);
    expect((await redis.script('EXISTS', script.sha)) as number[]).toEqual([0]);
    const { calls, client } = recording(redis);
    const key = `${prefix}:counter`;
    expect(await runScript(client, script, [key], [5])).toBe(5);
    expect(calls).toEqual(['evalsha:NOSCRIPT', 'eval']);
    expect((await redis.script('EXISTS', script.sha)) as number[]).toEqual([1]);
    expect(await runScript(client, script, [key], [2])).toBe(7);
    expect(calls).toEqual(['evalsha:NOSCRIPT', 'eval', 'evalsha']);
  });

  it('passes script errors through unchanged (no retry loop on non-NOSCRIPT errors)', async () => {
    const broken = defineScript('broken', `-- ${randomUUID()}\nreturn redis.call('NOSUCHCOMMAND')`);
    await expect(runScript(redis, broken, [`${prefix}:x`])).rejects.toThrow(/Unknown Redis command|unknown command/i);
  });

  it('loadScripts preloads so the first call is a single EVALSHA', async () => {
    const script = defineScript('get', `-- ${randomUUID()}\nreturn redis.call('GET', KEYS[1])`);
    await loadScripts(redis, [script]);
    const { calls, client } = recording(redis);
    await redis.set(`${prefix}:k`, 'v');
    expect(await runScript(client, script, [`${prefix}:k`])).toBe('v');
    expect(calls).toEqual(['evalsha']);
  });
});
