import type { RedisClient } from '@ballast/core';
import type { EventEnvelope } from './envelope';
import type { EventHandler } from './subscription';

/** Where an idempotent handler remembers the event ids it completed. */
export interface DedupeStore {
  /** True when `key` was marked and has not expired. */
  has(key: string): Promise<boolean>;
  /** Marks `key` for `ttlMs` (SET … PX, after the handler succeeded). */
  mark(key: string, ttlMs: number): Promise<void>;
}

export function redisDedupeStore(redis: RedisClient): DedupeStore {
  return {
    has: async (key) => (await redis.exists(key)) === 1,
    mark: async (key, ttlMs) => void (await redis.set(key, '1', 'PX', ttlMs)),
  };
}

export function memoryDedupeStore(now: () => number = Date.now): DedupeStore {
  const until = new Map<string, number>();
  return {
    has: async (key) => (until.get(key) ?? 0) > now(),
    mark: async (key, ttlMs) => void until.set(key, now() + ttlMs),
  };
}

export interface IdempotentOptions {
  store: DedupeStore;
  /** How long a completed event id is remembered: longer than any redelivery can take. Default 24 h. */
  ttlMs?: number;
  /** Key of an event; default `events:dedupe:<name>:<event_id>`. */
  key?: (event: EventEnvelope) => string;
  /** Names this handler in the default key (two handlers of one event must differ). */
  name?: string;
}

/**
 * Wraps a handler with side effects so a redelivered event (at-least-once) runs it once: an event whose id
 * was marked is acknowledged without running; the mark is set only after the handler succeeded, so a
 * failure is retried. Two deliveries racing each other can both run — keep the handler's own writes
 * idempotent (upserts) where that matters.
 */
export function idempotent<T, K extends string>(
  handler: EventHandler<T, K>,
  options: IdempotentOptions,
): EventHandler<T, K> {
  const ttlMs = options.ttlMs ?? 86_400_000;
  const keyOf = options.key ?? ((e: EventEnvelope) => `events:dedupe:${options.name ?? 'handler'}:${e.event_id}`);
  return async (event, ctx) => {
    const key = keyOf(event as EventEnvelope);
    if (await options.store.has(key)) return;
    await handler(event, ctx);
    await options.store.mark(key, ttlMs);
  };
}
