import { boundBackendCall } from './backend';
import { hashSlot } from './keys';
import { isCluster, type RedisClient, type RedisClusterClient } from './redis';
import { unguardedRedis } from './redis-guard';

/** A node client as WAIT needs it (ioredis's `Redis`). */
type WaitingNode = {
  call(command: string, ...args: (string | number)[]): Promise<unknown>;
  options?: { host?: string; port?: number };
};
const nodeName = (n: WaitingNode) => `${n.options?.host ?? '?'}:${n.options?.port ?? '?'}`;

export interface WaitForReplicasOptions {
  /** Replicas that must acknowledge. */
  replicas: number;
  /** WAIT's own timeout (ms, >= 1). */
  timeoutMs: number;
  /** Added to `timeoutMs` as the bound on the reply (then `BackendUnavailableError`). Default 5 s. */
  commandTimeoutMs?: number;
  /** For the `BackendUnavailableError`. Default `redis`. */
  backend?: string;
}

/**
 * `WAIT replicas timeoutMs` on the master that holds `key` — the client itself, or on a Cluster the master of the
 * key's slot (ioredis would send a keyless command to any node) — after a write on that key. Resolves with the
 * replicas that acknowledged and the node asked (`host:port`); a Cluster client that does not know the slot's
 * master yet counts as 0 acknowledgements. Redis WAIT bounds what a failover can lose; it does not make the write
 * strongly consistent (nothing is rolled back when fewer acknowledge).
 */
export async function waitForReplicas(
  client: RedisClient,
  key: string,
  options: WaitForReplicasOptions,
): Promise<{ acked: number; node: string }> {
  const raw = unguardedRedis(client);
  let node: WaitingNode | undefined;
  let name: string;
  if (isCluster(raw)) {
    const cluster = raw as RedisClusterClient & { slots: string[][] };
    name = cluster.slots[hashSlot(key)]?.[0] ?? 'unknown';
    node = cluster.nodes('master').find((n) => nodeName(n as unknown as WaitingNode) === name) as unknown as
      | WaitingNode
      | undefined;
  } else {
    node = raw as unknown as WaitingNode;
    name = nodeName(node);
  }
  if (!node) return { acked: 0, node: name };
  const acked = await boundBackendCall(node.call('WAIT', options.replicas, options.timeoutMs), {
    backend: options.backend ?? 'redis',
    operation: 'wait',
    timeoutMs: options.timeoutMs + (options.commandTimeoutMs ?? 5_000),
  });
  return { acked: Number(acked), node: name };
}
