import { createKeyBuilder, hashSlot, prefixKey } from '@ballast/core';

let slotTags: string[] | undefined;

/**
 * A short tag hashing to each of the 16384 Cluster slots: `slotTag(hashSlot(key))` names a key in `key`'s slot.
 * Built once, on first use (a Cluster backend only).
 */
export function slotTag(slot: number): string {
  if (!slotTags) {
    const tags: string[] = new Array(16_384);
    let left = tags.length;
    for (let i = 0; left > 0; i++) {
      const tag = i.toString(36);
      const s = hashSlot(tag);
      if (tags[s] === undefined) {
        tags[s] = tag;
        left--;
      }
    }
    slotTags = tags;
  }
  return slotTags[slot]!;
}

/**
 * The keys of one resource. Every per-resource key shares its `{resource}` hash tag, so each script touches
 * one Cluster slot. `counter` is the one permanent key: the fencing-token counter of the whole prefix, or with
 * `perSlot` (Cluster) of the resource's hash slot — at most 16384 per prefix, whatever the number of resources.
 */
export function lockKeys(prefix: string, resource: string, options: { perSlot?: boolean } = {}) {
  const k = createKeyBuilder({ prefix, scope: 'lock', tag: resource });
  const owners = k.key('owners');
  return {
    /** hash 'mode', 't:<token>' → reentrant count, 'f:<token>' → the hold's fencing token */
    owners,
    /** zset token → expiry (server ms) of every shared holder */
    expiry: k.key('expiry'),
    /** v1's per-resource fencing counter (never expired): folded into `counter` and deleted on next grant */
    fence: k.key('fence'),
    /** the fencing-token counter: per prefix, or per hash slot on a Cluster */
    counter: options.perSlot
      ? prefixKey(prefix, `lock:fences:{${slotTag(hashSlot(owners))}}`)
      : prefixKey(prefix, 'lock:fences'),
    /** list: fair-mode waiters, oldest first */
    queue: k.key('queue'),
    /** hash token → '<expiry ms>:<ttl ms>' of each fair-mode waiter */
    queueInfo: k.key('queue-info'),
    /** zset token → expiry of registered exclusive waiters (writer preference) */
    waiters: k.key('waiters'),
    /** pub/sub channel a release publishes on (and a fair hand-off announces its grant on) */
    released: k.key('released'),
  };
}

/** Where a waiting owner says which lock it waits for (the cross-process wait-for graph, `wait-graph.ts`). */
export function waitForKey(prefix: string, owner: string): string {
  return createKeyBuilder({ prefix, scope: 'lock-wait', tag: owner }).key();
}
