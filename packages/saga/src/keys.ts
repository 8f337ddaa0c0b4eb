import { createKeyBuilder, hashSlot } from '@ballast/core';

/** The DLQ stream's name (seed 003). */
export const DLQ_STREAM = 'saga.compensation.failed';

/**
 * The partition of a saga id: its hash, its lease-index entry and its idempotency record share the
 * `{partition}` hash tag, so each script touches one Cluster slot; sweepers scan the partitions.
 */
export function partitionOf(sagaId: string, partitions: number): number {
  return hashSlot(sagaId) % partitions;
}

/** Keys of one partition: `ballast:saga:{3}:<id>` is seed 001's `saga:{id}` hash. */
export function partitionKeys(prefix: string, partition: number) {
  const k = createKeyBuilder({ prefix, scope: 'saga', tag: String(partition) });
  return {
    /** hash: status, current_step, executed_steps, context, version, owner, lease_until, … */
    saga: (id: string) => k.key(id),
    /** The prefix `saga(id)` adds the id to (the claim script builds hash keys of its own slot from it). */
    sagaPrefix: `${k.base}:`,
    /**
     * Prefix of the recovery index: one zset per saga name (`leases + name`), id → lease expiry (ms) of every
     * non-terminal saga of that name in the partition. A sweeper scans only the names it can run, so another
     * service's sagas under the same prefix never stand ahead of its own.
     */
    leases: k.key('~leases:'),
    leasesOf: (saga: string) => k.key(`~leases:${saga}`),
    /** The partition's share of the `saga.compensation.failed` stream (its slot: retried atomically). */
    dlq: k.key(`~${DLQ_STREAM}`),
    /** The partition's event outbox: events written with the state transitions, until relayed to the bus. */
    outbox: k.key('~outbox'),
  };
}
