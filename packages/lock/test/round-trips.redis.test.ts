// What an uncontended acquire+release costs on Redis (#18 §2): counted on a private redis-server, so no other
// client's commands land in INFO's counters. The physical bound is one script for the acquire and one for the
// release; inside them, the commands the free lock needs and no more.
import { createRedis, type Redis } from '@ballast/core';
import { type RedisServer, startRedisServer } from '@ballast/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLockManager } from '../src/index';

let server: RedisServer;
let admin: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  admin = createRedis(server.url) as Redis;
}, 30_000);

afterAll(async () => {
  admin?.disconnect();
  await server?.stop();
});

/** Calls per command name since the last RESETSTAT (INFO's own calls left out). */
async function commandStats(): Promise<Record<string, number>> {
  const info = await admin.info('commandstats');
  const calls: Record<string, number> = {};
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (m[1] !== 'info' && !m[1]!.startsWith('config')) calls[m[1]!] = Number(m[2]);
  }
  return calls;
}

async function connectedClients(): Promise<number> {
  return Number(/connected_clients:(\d+)/.exec(await admin.info('clients'))?.[1]);
}

describe('an uncontended acquire+release', () => {
  it('is two round trips (one script each), four commands to acquire and three to release, no timer of its own', async () => {
    const redis = createRedis(server.url) as Redis;
    const m = createLockManager({ redis, prefix: 'rt' });
    try {
      // Warm: the scripts are loaded (a first EVALSHA may fall back to EVAL), the connection is ready.
      await (await m.acquire('warm')).release();
      // Every command the manager's client sends, by name (ioredis routes each one through sendCommand).
      const sent: string[] = [];
      const send = redis.sendCommand.bind(redis);
      redis.sendCommand = ((command: { name: string }, ...rest: unknown[]) => {
        sent.push(command.name);
        return (send as (...a: unknown[]) => unknown)(command, ...rest);
      }) as typeof redis.sendCommand;
      const clients = await connectedClients();
      await admin.config('RESETSTAT');
      // Timers: the validity timer and the watchdog serve every lease with one timer each, armed already.
      const timeouts = vi.spyOn(globalThis, 'setTimeout');
      const intervals = vi.spyOn(globalThis, 'setInterval');
      const cycles = 20;
      try {
        for (let i = 0; i < cycles; i++) {
          const lease = await m.acquire(`free:${i % 4}`, { waitMs: 10_000 });
          await lease.release();
        }
        expect(timeouts).not.toHaveBeenCalled();
        expect(intervals).not.toHaveBeenCalled();
      } finally {
        timeouts.mockRestore();
        intervals.mockRestore();
        redis.sendCommand = send;
      }
      const stats = await commandStats();

      // Round trips: one script per acquire, one per release.
      expect(sent).toEqual(Array.from({ length: 2 * cycles }, () => 'evalsha'));
      expect(stats.evalsha).toBe(2 * cycles);
      // Inside them: acquire = EXISTS (held? queued? v1 fence?), INCR (fence), HSET, PEXPIRE;
      // release = HMGET (holder? count? refused anyone?), DEL, EXISTS (queued?). No PUBLISH (nobody listens),
      // no waiter registration, no wait-for-graph entry, no TIME.
      const { evalsha: _scripts, ...inner } = stats;
      expect(inner).toEqual({
        exists: 2 * cycles,
        incr: cycles,
        hset: cycles,
        pexpire: cycles,
        hmget: cycles,
        del: cycles,
      });
      // No subscriber connection was opened for it (wake-ups are only for waiters).
      expect(await connectedClients()).toBe(clients);
    } finally {
      await m.close();
      redis.disconnect();
    }
  });
});
