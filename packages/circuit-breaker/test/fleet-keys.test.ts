import { EventEmitter } from 'node:events';
import { createLogger, type RedisClient } from '@ballast/core';
import { expect, it } from 'vitest';
import { RedisFleet } from '../src/fleet';

/** A subscriber stand-in that records the channels it is asked to SUBSCRIBE to. */
function recordingRedis() {
  const channels: string[] = [];
  const sub = Object.assign(new EventEmitter(), {
    subscribe: async (channel: string) => {
      channels.push(channel);
      return 1;
    },
    unsubscribe: async () => 1,
    disconnect: () => {},
  });
  return { redis: { duplicate: () => sub } as unknown as RedisClient, channels };
}

it("the fleet channel follows core's one prefix rule: 'x' and 'x:' both give x:breaker:fleet", async () => {
  for (const prefix of ['x', 'x:']) {
    const { redis, channels } = recordingRedis();
    const fleet = new RedisFleet({ redis, prefix, logger: createLogger({ level: 'silent' }) });
    fleet.subscribe('users', () => {});
    await fleet.ready();
    expect(channels).toEqual(['x:breaker:fleet']);
    await fleet.close();
  }
});
