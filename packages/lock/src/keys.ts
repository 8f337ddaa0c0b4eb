import { createKeyBuilder } from '@ballast/core';

/** Every key of one resource shares its `{resource}` hash tag, so each script touches one Cluster slot. */
export function lockKeys(prefix: string, resource: string) {
  const k = createKeyBuilder({ prefix, scope: 'lock', tag: resource });
  return {
    /** hash token → reentrant count of exclusive (at most one) holders; field `mode` */
    owners: k.key('owners'),
    /** zset token → expiry (server ms) of every holder */
    expiry: k.key('expiry'),
    /** counter: the last fencing token handed out */
    fence: k.key('fence'),
    /** zset token → expiry of registered exclusive waiters (writer preference) */
    waiters: k.key('waiters'),
    /** pub/sub channel a release publishes on */
    released: k.key('released'),
  };
}

/** Where a waiting owner says which lock it waits for (the cross-process wait-for graph, `wait-graph.ts`). */
export function waitForKey(prefix: string, owner: string): string {
  return createKeyBuilder({ prefix, scope: 'lock-wait', tag: owner }).key();
}
