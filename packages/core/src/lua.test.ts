import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { recordingScripts } from '../test/script-recording';
import { countSocketWrites } from '../test/socket-writes';
import { createScriptBatcher, defineScript, loadScripts, runScript } from './lua';
import { createRedis, type Redis } from './redis';

const redis = createRedis('redis://127.0.0.1:6379') as Redis;
const prefix = `test:core:lua:${randomUUID()}`;
afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

describe('runScript', () => {
  it('falls back to EVAL on NOSCRIPT, then the server has it and EVALSHA alone serves', async () => {
    // A script text the server has never seen: unique comment → unique SHA.
    const script = defineScript('incrby', `-- ${randomUUID()}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])`);
    expect((await redis.script('EXISTS', script.sha)) as number[]).toEqual([0]);
    const { calls, client } = recordingScripts(redis);
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
    const { calls, client } = recordingScripts(redis);
    await redis.set(`${prefix}:k`, 'v');
    expect(await runScript(client, script, [`${prefix}:k`])).toBe('v');
    expect(calls).toEqual(['evalsha']);
  });
});

describe('createScriptBatcher', () => {
  it('sends the calls of one tick in one socket write, and each call gets its own reply in order', async () => {
    const script = defineScript('incr', `-- ${randomUUID()}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])`);
    await loadScripts(redis, [script]);
    await redis.ping();
    const counter = countSocketWrites(redis);
    const batcher = createScriptBatcher(redis);
    const key = `${prefix}:batched`;
    const replies = await Promise.all([1, 2, 3, 4, 5].map((n) => batcher.run<number>(script, [key], [n])));
    expect(replies).toEqual([1, 3, 6, 10, 15]);
    expect(counter.writes).toBe(1);
    // A call of a later tick is written on its own.
    expect(await batcher.run<number>(script, [key], [1])).toBe(16);
    expect(counter.writes).toBe(2);
  });

  it('a NOSCRIPT reply in a batch falls back to EVAL for that call; other errors reject only theirs', async () => {
    const fresh = defineScript('get', `-- ${randomUUID()}\nreturn redis.call('GET', KEYS[1])`);
    const broken = defineScript('broken', `-- ${randomUUID()}\nreturn redis.call('NOSUCHCOMMAND')`);
    await loadScripts(redis, [broken]);
    await redis.set(`${prefix}:g`, 'v');
    const batcher = createScriptBatcher(redis);
    const [a, b] = await Promise.allSettled([
      batcher.run(fresh, [`${prefix}:g`]),
      batcher.run(broken, [`${prefix}:g`]),
    ]);
    expect(a).toEqual({ status: 'fulfilled', value: 'v' });
    expect(b.status).toBe('rejected');
    expect((await redis.script('EXISTS', fresh.sha)) as number[]).toEqual([1]);
  });
});
