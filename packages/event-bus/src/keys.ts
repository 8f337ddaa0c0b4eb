import { hashTag } from '@ballast/core';

/**
 * Seed 000's key names, where `{type}` is also a Redis Cluster hash tag: `events:{user.registered}` and its
 * DLQ `events:dlq:{user.registered}` share a slot, so dead-lettering (XADD to the DLQ + XACK) is one atomic
 * script on Cluster too. `events:all` lives in its own slot (see `RedisTransport.publish`).
 */
export interface EventKeys {
  stream(type: string): string;
  all(): string;
  dlq(type: string): string;
  dedupe(type: string, group: string, eventId: string): string;
}

/** `prefix` is prepended as is (e.g. `myapp:`); default none, matching seed 000's names exactly. */
export function eventKeys(prefix = ''): EventKeys {
  return {
    stream: (type) => `${prefix}events:${hashTag(type)}`,
    all: () => `${prefix}events:all`,
    dlq: (type) => `${prefix}events:dlq:${hashTag(type)}`,
    dedupe: (type, group, eventId) => `${prefix}events:dedupe:${hashTag(type)}:${group}:${eventId}`,
  };
}

/** Seed 000's default group name for a type. */
export function defaultGroup(type: string): string {
  return `group:${type}`;
}
