import { hashTag, keyPrefix } from '@ballast/core';

/**
 * Seed 000's key names, where `{type}` is also a Redis Cluster hash tag: `events:{user.registered}` and its
 * DLQ `events:dlq:{user.registered}` share a slot, so dead-lettering (XADD to the DLQ + XACK) is one atomic
 * script on Cluster too. `events:all` lives in its own slot (see `RedisTransport.publish`).
 */
export interface EventKeys {
  stream(type: string): string;
  all(): string;
  dlq(type: string): string;
  /**
   * The idempotent-consumer marker of one event for one group (and one named handler, when a group runs
   * several idempotent handlers): `events:dedupe:{type}:<group>:[<handler>:]<event_id>`.
   */
  dedupe(type: string, group: string, eventId: string, handler?: string): string;
  /** A lease (an ordered consumer's ownership of one partition stream of a group): `events:lease:{stream}:<group>`. */
  lease(stream: string, group: string): string;
}

/**
 * How stream keys are named. `'cluster'` (default): `events:{user.registered}` — the type is a Redis Cluster
 * hash tag, so a type's stream, DLQ and markers share a slot. `'seed'`: exactly seed 000's
 * `events:user.registered` (and `events:dlq:user.registered`), for producers and consumers written against it;
 * standalone Redis only (a script touching a stream and its DLQ could span two Cluster slots).
 */
export type KeyLayout = 'cluster' | 'seed';

/**
 * `prefix` is joined by core's one rule (`keyPrefix`): `myapp` and `myapp:` both give `myapp:events:all`.
 * Default none: the plain names above, exactly. A prefix with `{` or `}` throws `InvalidKeyError`.
 */
export function eventKeys(prefixOption = '', layout: KeyLayout = 'cluster'): EventKeys {
  const prefix = keyPrefix(prefixOption);
  if (layout === 'seed') {
    return {
      stream: (type) => `${prefix}events:${type}`,
      all: () => `${prefix}events:all`,
      dlq: (type) => `${prefix}events:dlq:${type}`,
      dedupe: (type, group, eventId, handler) =>
        `${prefix}events:dedupe:${type}:${group}:${handler === undefined ? '' : `${handler}:`}${eventId}`,
      lease: (stream, group) => `${prefix}events:lease:${stream}:${group}`,
    };
  }
  return {
    stream: (type) => `${prefix}events:${hashTag(type)}`,
    all: () => `${prefix}events:all`,
    dlq: (type) => `${prefix}events:dlq:${hashTag(type)}`,
    dedupe: (type, group, eventId, handler) =>
      `${prefix}events:dedupe:${hashTag(type)}:${group}:${handler === undefined ? '' : `${handler}:`}${eventId}`,
    lease: (stream, group) => `${prefix}events:lease:${hashTag(stream)}:${group}`,
  };
}

/** Seed 000's default group name for a type. */
export function defaultGroup(type: string): string {
  return `group:${type}`;
}
