import { createKeyBuilder } from '@ballast/core';

/**
 * Redis keys of one config (`name`, e.g. the service): all share the `{name}` hash tag, so the commit script
 * touches one Cluster slot.
 */
export function configKeys(prefix: string, name: string) {
  const k = createKeyBuilder({ prefix, scope: 'config', tag: name });
  return {
    /** hash: flattened key (`db/pool/max`) → JSON value — the live config, readable by any Redis client */
    live: k.key('live'),
    /** string: the current version number */
    version: k.key('version'),
    /** hash: version number → JSON `VersionRecord` (trimmed to `maxVersions`) */
    versions: k.key('versions'),
    /** pub/sub channel: every commit publishes its version number */
    changed: k.key('changed'),
  };
}
