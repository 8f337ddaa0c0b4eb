import { createKeyBuilder, prefixKey } from '@ballast/core';

/** One service's keys share its `{service}` hash tag, so each script touches one Cluster slot. */
export function serviceKeys(prefix: string, service: string) {
  const k = createKeyBuilder({ prefix, scope: 'discovery', tag: service });
  return {
    /** hash instance id → JSON registration (spec, status, last heartbeat, critical-since) */
    instances: k.key('instances'),
    /** counter: the service's index, bumped on every visible change */
    index: k.key('index'),
  };
}

/** The channel every change is announced on (message: the service name). */
export const changesChannel = (prefix: string) => prefixKey(prefix, 'discovery:changes');
