import { type Clock, defineScript, type RedisClient, runScript, systemClock } from '@ballast/core';
import claimSource from './lua/dedupe-claim.lua';
import extendSource from './lua/dedupe-extend.lua';
import releaseSource from './lua/dedupe-release.lua';

const CLAIM = defineScript('event-bus:dedupe-claim', claimSource);
const EXTEND = defineScript('event-bus:dedupe-extend', extendSource);
const RELEASE = defineScript('event-bus:dedupe-release', releaseSource);

/** What `claim` found: run the handler, skip it (handled before), or another delivery is running it. */
export type DedupeClaim = 'claimed' | 'done' | 'busy';

/** The marker value of a handled event. */
const DONE = 'done';

/**
 * Where an idempotent handler keeps, per event, an in-progress marker (a run's token, with a lease) and then
 * a done marker. Every operation is one atomic step, so two deliveries racing each other never both run.
 */
export interface DedupeStore {
  /** Sets `token` as the in-progress marker for `leaseMs` if `key` has no marker (SET NX PX). */
  claim(key: string, token: string, leaseMs: number): Promise<DedupeClaim>;
  /** Extends the in-progress marker's lease while it is still `token`'s. False when it is not. */
  extend(key: string, token: string, leaseMs: number): Promise<boolean>;
  /** Marks the event handled for `ttlMs` (SET … PX): later deliveries are skipped. */
  complete(key: string, ttlMs: number): Promise<void>;
  /** Deletes the in-progress marker if it is still `token`'s, so the redelivery runs the handler again. */
  release(key: string, token: string): Promise<void>;
}

/** Markers in Redis: one Lua script (or SET) per operation. Keys come from the caller (`keys.dedupe`). */
export function redisDedupeStore(redis: RedisClient): DedupeStore {
  return {
    claim: (key, token, leaseMs) => runScript<DedupeClaim>(redis, CLAIM, [key], [token, Math.ceil(leaseMs)]),
    extend: async (key, token, leaseMs) =>
      (await runScript<number>(redis, EXTEND, [key], [token, Math.ceil(leaseMs)])) === 1,
    complete: async (key, ttlMs) => void (await redis.set(key, DONE, 'PX', Math.ceil(ttlMs))),
    release: async (key, token) => void (await runScript(redis, RELEASE, [key], [token])),
  };
}

/** Markers in process memory (single process, tests, the embedded default), timed by `clock.now()`. */
export function memoryDedupeStore(options: { clock?: Clock } = {}): DedupeStore {
  const clock = options.clock ?? systemClock;
  const markers = new Map<string, { value: string; until: number }>();
  const live = (key: string) => {
    const m = markers.get(key);
    if (m && m.until <= clock.now()) {
      markers.delete(key);
      return undefined;
    }
    return m;
  };
  return {
    claim: async (key, token, leaseMs) => {
      const m = live(key);
      if (m) return m.value === DONE ? 'done' : 'busy';
      markers.set(key, { value: token, until: clock.now() + leaseMs });
      return 'claimed';
    },
    extend: async (key, token, leaseMs) => {
      const m = live(key);
      if (m?.value !== token) return false;
      m.until = clock.now() + leaseMs;
      return true;
    },
    complete: async (key, ttlMs) => void markers.set(key, { value: DONE, until: clock.now() + ttlMs }),
    release: async (key, token) => {
      if (live(key)?.value === token) markers.delete(key);
    },
  };
}
