import type { Redis } from '@ballast/core';

/** The commands the saga store may send; each call is one round trip. */
const COMMANDS = new Set(['evalsha', 'eval', 'hgetall', 'xadd', 'xrange', 'xdel', 'script', 'zrange', 'time']);

/** A client that counts round trips (every command call) while passing everything through. */
export function countingClient(redis: Redis): { client: Redis; count: () => number; reset: () => void } {
  let n = 0;
  const client = new Proxy(redis, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      if (typeof prop === 'string' && COMMANDS.has(prop)) {
        return (...args: unknown[]) => {
          n++;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
  return {
    client,
    count: () => n,
    reset: () => {
      n = 0;
    },
  };
}
