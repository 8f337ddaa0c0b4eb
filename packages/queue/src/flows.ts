import { randomUUID } from 'node:crypto';
import { InvalidOptionsError, parseOptions } from '@ballast/core';
import { z } from 'zod';
import type { QueueBackend } from './backend';
import type { QueueEventInput } from './events';
import type { JobErrorEntry, NewJob } from './job';
import { UnsupportedOperationError } from './operation-errors';
import type { JobOptions, StoredJobOptions } from './options';

/**
 * What a child's final failure does to its parent (a child "finally" fails when its last attempt failed, it
 * went to the DLQ, or it stalled too often):
 * - `wait` (default, as BullMQ): the parent keeps waiting; retrying or replaying the child lets it go on;
 * - `fail` (`failParentOnFailure`): the parent fails too (to `failed`, or `dead` on a queue with a DLQ), and so
 *   on up the tree where its own policy says so;
 * - `ignore` (`ignoreDependencyOnFailure`): the child's error is recorded (`getDependencies().failed`) and the
 *   parent goes on without its result;
 * - `remove` (`removeDependencyOnFailure`): the dependency is dropped, nothing recorded.
 */
export type ChildFailurePolicy = 'wait' | 'fail' | 'ignore' | 'remove';

const flowFlagsSchema = z
  .object({
    /** This child's final failure fails its parent. */
    failParentOnFailure: z.boolean().optional(),
    /** This child's final failure is recorded with its parent, which goes on without it. */
    ignoreDependencyOnFailure: z.boolean().optional(),
    /** This child's final failure drops it from its parent's dependencies, nothing recorded. */
    removeDependencyOnFailure: z.boolean().optional(),
  })
  .refine(
    (o) =>
      [o.failParentOnFailure, o.ignoreDependencyOnFailure, o.removeDependencyOnFailure].filter(Boolean).length <= 1,
    { message: 'at most one of failParentOnFailure, ignoreDependencyOnFailure, removeDependencyOnFailure' },
  );

/** A flow job's options: a job's, plus what its final failure does to its parent. */
export type FlowJobOptions = JobOptions & z.input<typeof flowFlagsSchema>;

/** Anything with a queue's name, backend and options: a `Queue` of any data type. */
export interface FlowQueue {
  readonly name: string;
  readonly backend: QueueBackend;
  readonly options: { prefix: string; deadLetter: boolean; groups?: unknown };
}

/** One job of a flow: it runs after every one of its `children` completed (`job.childrenResults()`). */
export interface FlowJob<D = unknown> {
  name: string;
  data: D;
  /** The queue it goes to (a `Queue`); default: its parent's (the root's: the queue `addFlow` was called on). */
  queue?: FlowQueue;
  /** Job options; `jobId` makes adding the same flow again idempotent (see `addFlow`). */
  options?: FlowJobOptions;
  children?: FlowJob[];
}

/** What `addFlow` returns: the tree as added, with ids. */
export interface FlowNode {
  id: string;
  name: string;
  queue: string;
  /** False when a job with this id existed already (left as it was). */
  added: boolean;
  children: FlowNode[];
}

/** A parent's children as they stand: results by child key (`<queue>:<id>`), pending keys, recorded failures. */
export interface Dependencies<R = unknown> {
  processed: Record<string, R>;
  unprocessed: string[];
  failed: Record<string, JobErrorEntry>;
}

/** A job's dependencies, parsed. */
export async function readDependencies<R>(store: FlowStore, id: string): Promise<Dependencies<R>> {
  const d = await store.dependencies(id);
  const processed: Record<string, R> = {};
  for (const [k, v] of Object.entries(d.processed)) processed[k] = JSON.parse(v) as R;
  const failed: Record<string, JobErrorEntry> = {};
  for (const [k, v] of Object.entries(d.failed)) failed[k] = JSON.parse(v) as JobErrorEntry;
  return { processed, unprocessed: d.pending.sort(), failed };
}

/** One flow job for a backend. */
export interface FlowRecord {
  job: NewJob;
  /** Its `<queue>:<id>`: the name its parent knows it by. */
  key: string;
  parent?: { queue: string; id: string; policy: ChildFailurePolicy };
  /** Where it goes when a child fails it (`fail` policy): its queue's DLQ or `failed`. */
  failTo: 'failed' | 'dead';
  /** Its children's keys: non-empty parks it in `waiting-children`. */
  deps: string[];
}

/** A child's notification to its parent, left in the child queue's outbox. */
export interface OutboxEntry {
  childId: string;
  /** The entry as stored (an acknowledgement deletes it only while unchanged). */
  raw: string;
  queue: string;
  parentId: string;
  childKey: string;
  kind: 'completed' | 'fail' | 'ignore' | 'remove';
  /** Result (completed) or error entry (failures), JSON. */
  value: string;
}

/** Resolve outcomes (flow-resolve.lua). */
export const RESOLVED = { none: 0, applied: 1, released: 2, failed: 3, failedUp: 4 } as const;

/**
 * How a flow store publishes its queue's events, set by the queue that owns the store when it publishes events.
 * A parent's move out of `waiting-children` is published with the move (on Redis, by the script that makes it,
 * on the parent queue's stream, with this retention), so it precedes the parent's `active` event and the
 * `completed`/`failed` event of the child that moved it.
 */
export interface FlowEvents {
  /** Publishes on the store's own queue (`addFlow`'s jobs; in memory, a parent's moves). */
  publish(event: QueueEventInput): void;
  /** The stream's cap (`events: { maxLen, maxAgeMs }`; maxAgeMs 0: none). */
  maxLen: number;
  maxAgeMs: number;
}

/** A backend's flow store: one queue's side of parent/child jobs. */
export interface FlowStore {
  /** Adds one flow job; false: its id existed (nothing changed). */
  addNode(record: FlowRecord, now: number): Promise<boolean>;
  /** Applies a child's notification to parent `parentId` of this queue, idempotently (see RESOLVED). */
  resolve(parentId: string, childKey: string, kind: OutboxEntry['kind'], value: string, now: number): Promise<number>;
  /** This queue's outbox entry for a child, or (no id) up to `limit` entries. */
  outbox(childId?: string, limit?: number): Promise<OutboxEntry[]>;
  /** Deletes an applied entry unless it was replaced since. */
  ack(entry: OutboxEntry): Promise<void>;
  dependencies(
    id: string,
  ): Promise<{ processed: Record<string, string>; pending: string[]; failed: Record<string, string> }>;
  /** The store of queue `name` on the same deployment (Redis: same server and prefix; memory: linked by addFlow). */
  peer(name: string): FlowStore | undefined;
  /** Memory: makes `store` reachable as `peer(name)` (a child reaches its parent's queue in-process). */
  link?(name: string, store: FlowStore): void;
  /**
   * Events of this store's queue (see `FlowEvents`); absent: none published. Memory: a peer is another queue's
   * store, with that queue's events. Redis: shared with the peers, whose scripts append a parent's move to the
   * parent queue's stream (the events of a worker's process, whichever queue its parent is in).
   */
  events?: FlowEvents | undefined;
}

export function parseOutbox(childId: string, raw: string): OutboxEntry {
  const e = JSON.parse(raw) as { q: string; id: string; ck: string; k: OutboxEntry['kind']; v: string };
  return { childId, raw, queue: e.q, parentId: e.id, childKey: e.ck, kind: e.k, value: e.v };
}

/** @internal fault injection for tests: throw here to simulate a process dying between the two steps. */
export const flowFaults: {
  beforeResolve?: (entry: OutboxEntry) => void;
  beforeAck?: (entry: OutboxEntry) => void;
} = {};

/**
 * Applies outbox entries (one child's, or up to `limit` of the queue's: the sweep) to their parents, then
 * acknowledges them. A failure leaves an entry where it is, for the next sweep. Returns the parents released.
 */
export async function applyOutbox(
  store: FlowStore,
  now: number,
  childId?: string,
  limit = 200,
): Promise<{ applied: number; released: number }> {
  const out = { applied: 0, released: 0 };
  for (const e of await store.outbox(childId, limit)) {
    const parent = store.peer(e.queue);
    if (!parent) continue;
    flowFaults.beforeResolve?.(e);
    const r = await parent.resolve(e.parentId, e.childKey, e.kind, e.value, now);
    if (r === RESOLVED.released) out.released++;
    // The parent failed and told its own parent (an entry in the parent queue's outbox): pass it on now.
    if (r === RESOLVED.failedUp) await applyOutbox(parent, now, e.parentId, limit);
    flowFaults.beforeAck?.(e);
    await store.ack(e);
    out.applied++;
  }
  return out;
}

/** The flow store of a queue, or the typed refusal naming its backend. */
export function flowStoreOf(queue: FlowQueue, operation: string): FlowStore {
  const store = queue.backend.flows?.();
  if (!store) {
    const kind = queue.backend.kind;
    throw new UnsupportedOperationError(
      kind === 'rabbitmq' ? 'RabbitMQ' : kind,
      operation,
      kind === 'rabbitmq'
        ? 'a parent must be parked until its children complete and find their results, and a broker has no ' +
            'job store to park it in (see the README, Flows)'
        : 'this backend keeps no flows',
    );
  }
  return store;
}

function policyOf(options: FlowJobOptions | undefined): ChildFailurePolicy {
  if (options?.failParentOnFailure) return 'fail';
  if (options?.ignoreDependencyOnFailure) return 'ignore';
  if (options?.removeDependencyOnFailure) return 'remove';
  return 'wait';
}

export type Prepare = (queue: FlowQueue, name: string, data: unknown, options: JobOptions | undefined) => NewJob;

interface Planned {
  queue: FlowQueue;
  record: FlowRecord;
  node: FlowNode;
  children: Planned[];
}

/**
 * Validates and serialises a whole flow before anything is written (bad options anywhere: nothing added), with
 * every id fixed up front: a job without `jobId` gets `<parent id>:<index>` (the root: a random UUID), so the
 * parent's pending set names every child before any child exists, and adding a flow whose root has a `jobId`
 * again adds exactly what a crash left out.
 */
export function planFlow(root: FlowJob, rootQueue: FlowQueue, prepare: Prepare): Planned {
  flowStoreOf(rootQueue, 'addFlow');
  const plan = (
    job: FlowJob,
    queue: FlowQueue,
    id: string,
    parent: FlowRecord['parent'] | undefined,
    path: string,
  ): Planned => {
    if (job === null || typeof job !== 'object' || typeof job.name !== 'string')
      throw new InvalidOptionsError('addFlow', [
        { path, expected: '{ name, data, children? }', received: typeof job, message: 'not a flow job' },
      ]);
    flowStoreOf(queue, 'addFlow');
    if (queue.backend.kind !== rootQueue.backend.kind || queue.options.prefix !== rootQueue.options.prefix)
      throw new InvalidOptionsError('addFlow', [
        {
          path: `${path}.queue`,
          expected: `a ${rootQueue.backend.kind} queue with prefix "${rootQueue.options.prefix}"`,
          received: `${queue.backend.kind} queue "${queue.name}" (prefix "${queue.options.prefix}")`,
          message: 'a flow spans queues of one backend',
        },
      ]);
    if (queue.options.groups)
      throw new InvalidOptionsError('addFlow', [
        {
          path: `${path}.queue`,
          expected: 'a queue without groups',
          received: `grouped queue "${queue.name}"`,
          message: "flows do not run on grouped queues (their workers fetch from the groups' lines)",
        },
      ]);
    const { failParentOnFailure, ignoreDependencyOnFailure, removeDependencyOnFailure, ...jobOptions } =
      job.options ?? {};
    const flags = { failParentOnFailure, ignoreDependencyOnFailure, removeDependencyOnFailure };
    parseOptions(flowFlagsSchema, flags, `addFlow(${path}.options)`);
    const ownId = jobOptions.jobId ?? id;
    const prepared = prepare(queue, job.name, job.data, { ...jobOptions, jobId: ownId });
    const stored = JSON.parse(prepared.opts) as StoredJobOptions;
    if (parent) stored.parent = { queue: parent.queue, id: parent.id };
    prepared.opts = JSON.stringify(stored);
    const kids = job.children ?? [];
    if (!Array.isArray(kids))
      throw new InvalidOptionsError('addFlow', [
        { path: `${path}.children`, expected: 'an array', received: typeof kids, message: 'not an array' },
      ]);
    const self = { queue: queue.name, id: ownId };
    const children = kids.map((c, i) =>
      plan(c, c.queue ?? queue, `${ownId}:${i}`, { ...self, policy: policyOf(c.options) }, `${path}.children[${i}]`),
    );
    const record: FlowRecord = {
      job: prepared,
      key: `${queue.name}:${ownId}`,
      failTo: queue.options.deadLetter ? 'dead' : 'failed',
      deps: children.map((c) => c.record.key),
    };
    if (parent) record.parent = parent;
    return {
      queue,
      record,
      node: { id: ownId, name: job.name, queue: queue.name, added: false, children: children.map((c) => c.node) },
      children,
    };
  };
  return plan(root, rootQueue, randomUUID(), undefined, 'flow');
}

/**
 * Writes a planned flow top-down: each parent (with its complete pending set) before its children, so no
 * parent can run before all of its children are there and completed. Memory queues are linked so a child's
 * worker reaches its parent's queue. Each job added publishes `waiting-children` (a parent), or `waiting` /
 * `delayed` (a leaf) on its queue, as `add` does after its move; a duplicate publishes nothing.
 */
export async function writeFlow(plan: Planned, now: number): Promise<FlowNode> {
  const store = flowStoreOf(plan.queue, 'addFlow');
  plan.node.added = await store.addNode(plan.record, now);
  if (plan.node.added && store.events) {
    const { id, delayMs } = plan.record.job;
    store.events.publish(
      plan.record.deps.length > 0
        ? { event: 'waiting-children', jobId: id }
        : delayMs > 0
          ? { event: 'delayed', jobId: id, delayUntil: now + delayMs }
          : { event: 'waiting', jobId: id },
    );
  }
  for (const c of plan.children) {
    const childStore = flowStoreOf(c.queue, 'addFlow');
    childStore.link?.(plan.queue.name, store);
    await writeFlow(c, now);
  }
  return plan.node;
}
