import { createKeyBuilder } from '@ballast/core';

/**
 * Every Redis key of one queue: `<prefix>:queue:{<name>}:<part>`. The queue name is the Cluster hash tag,
 * so one queue lives in one slot and every state move is one atomic script there.
 */
export interface QueueKeys {
  /** Waiting jobs: ZSET scored by `(10 - priority) · 2^44 + seq` (higher priority first, FIFO within). */
  readonly wait: string;
  /** Delayed jobs (and retries in backoff): ZSET scored by due time (ms). */
  readonly delayed: string;
  /** Active jobs: ZSET scored by lease deadline (ms). */
  readonly active: string;
  /** Completed jobs kept by retention: ZSET scored by finish time. */
  readonly completed: string;
  /** Finally failed jobs (DLQ off) kept by retention: ZSET scored by finish time. */
  readonly failed: string;
  /** Dead-letter queue: ZSET scored by the time the job died. */
  readonly dead: string;
  /** Queue-wide flags (`paused`). */
  readonly meta: string;
  /** Sequence for FIFO order and generated job ids. */
  readonly seq: string;
  /** Wake-up list: holds at most one token; idle workers block on it (BLPOP). */
  readonly wake: string;
  /** Prefix of job hashes: `job + id` (a flow parent's: `job + id + ':deps'`, `':processed'`, `':failed'`). */
  readonly job: string;
  /** Flow parents waiting for their children: ZSET scored by creation time. Not in `all`. */
  readonly waitingChildren: string;
  /**
   * Flow outbox: HASH child id → the notification its parent still has to get (child completed or failed), written
   * by the child's own completion script (this slot), applied to the parent's slot by a second script, then
   * deleted. A crash between the two leaves the entry for the workers' sweep. Not in `all`.
   */
  readonly outbox: string;
  /** Every fixed key, in the order the scripts' KEYS use. */
  readonly all: readonly string[];
}

export function queueKeys(name: string, prefix = 'ballast'): QueueKeys {
  const b = createKeyBuilder({ prefix, scope: 'queue', tag: name });
  const k = {
    wait: b.key('wait'),
    delayed: b.key('delayed'),
    active: b.key('active'),
    completed: b.key('completed'),
    failed: b.key('failed'),
    dead: b.key('dead'),
    meta: b.key('meta'),
    seq: b.key('seq'),
    wake: b.key('wake'),
    job: b.key('job', ''),
  };
  const flow = { waitingChildren: b.key('waiting-children'), outbox: b.key('flow-outbox') };
  return { ...k, ...flow, all: [k.wait, k.delayed, k.active, k.completed, k.failed, k.dead, k.meta, k.seq, k.wake] };
}

/** A grouped queue's keys (`groups` option): same hash tag as the queue's, so one Cluster slot. */
export interface GroupKeys {
  /** Round-robin LIST of groups with waiting jobs. */
  readonly list: string;
  /** SET of the groups in that list. */
  readonly set: string;
  /** Prefix of each group's waiting line (ZSET scored as `wait`): `gwait + group`. */
  readonly gwait: string;
  /** Prefix of each group's limiter state: `glimit + group`. */
  readonly glimit: string;
}

export function groupKeys(name: string, prefix = 'ballast'): GroupKeys {
  const b = createKeyBuilder({ prefix, scope: 'queue', tag: name });
  return { list: b.key('groups'), set: b.key('group-set'), gwait: b.key('gwait', ''), glimit: b.key('glimit', '') };
}
