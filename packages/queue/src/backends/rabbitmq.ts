import { randomUUID } from 'node:crypto';
import { type Clock, getDefaultLogger, type Logger, sleep, systemClock } from '@ballast/core';
import type { ConfirmChannel, ConsumeMessage, Message, Options } from 'amqplib';
import type { Counts, FailOutcome, FetchedJob, QueueBackend, StalledJob, Waiter } from '../backend';
import { BulkAddIncompleteError, QueueClosedError } from '../errors';
import { type JobInfo, type JobState, type NewJob, prepareJob } from '../job';
import { MAX_PRIORITY } from '../options';
import type { StatusStore } from '../status';
import { AmqpConnection } from './amqp-connection';
import { ChannelAcks } from './channel-acks';
import { toJobInfo } from './codec';
import { RabbitOperations } from './rabbitmq-ops';

/** `classic`: one priority queue (`x-max-priority` 10). `quorum`: replicated, one queue per priority level. */
export type RabbitQueueType = 'classic' | 'quorum';

export interface RabbitBackendOptions {
  url: string;
  /**
   * Queue name on the broker; also `<name>.dead` (DLQ), `<name>.delay.t<k>` (delay tiers, queues and
   * exchanges) and `<name>.delay.due`; with `quorum`, `<name>.p<n>` for priorities other than 5.
   */
  name: string;
  /** Default `classic`. */
  queueType?: RabbitQueueType;
  status: StatusStore;
  clock?: Clock;
  logger?: Logger;
  /** Bound of a publish (waiting for a channel and the confirm): past it, `BackendUnavailableError`. */
  commandTimeoutMs?: number;
}

/**
 * Delay tiers: tier k holds a message 2^k ms (a queue with that `x-message-ttl`, never expiring). A delay's
 * binary digits, written in the routing key, route it through the tiers whose bit is set (a topic exchange per
 * tier, each tier dead-lettering into the next lower tier's exchange), then into the queue: a fixed set of
 * queues whatever the delays, no plugin, no consumer, no clock but the broker's.
 */
export const DELAY_TIERS = 28;
/** Longest delay of one pass through the tiers (~74.6 h); a longer one goes round again for the remainder. */
export const MAX_TIER_DELAY_MS = 2 ** DELAY_TIERS - 1;
const REMAINING = 'x-delay-remaining';
/** Quorum: deliveries each level's consumer may hold, in multiples of what the worker holds. */
const QUORUM_DEPTH = 3;

const SHIFT = 2 ** 44;
const waitScore = (priority: number, seq: number) => (10 - priority) * SHIFT + seq;

interface Delivery {
  msg: ConsumeMessage;
  generation: number;
  /** Its channel's acks. */
  acks: ChannelAcks;
  /** Its job's id, once fetch has read the body. */
  id?: string;
}

let defaultOpts: string | undefined;

/** The stored options of a job that sets none on a queue without `defaultJobOptions` (the package defaults). */
export function defaultJobOpts(): string {
  defaultOpts ??= prepareJob('job', null, undefined, undefined, Number.POSITIVE_INFINITY).opts;
  return defaultOpts;
}

/**
 * A job's message body: `<createdAt>\n<name as JSON>\n<opts JSON>\n<data JSON>` (its id is the message's
 * `messageId`, its attempts a header from the first retry on). JSON text has no raw newline, so the worker gets
 * `opts` and `data` as slices of the body — nothing is parsed and re-serialised on the way. Options equal to the
 * package defaults (`defaultJobOpts`, ~140 bytes) are an empty line: most jobs carry none.
 */
export function encodeJob(name: string, createdAt: number, opts: string, data: string): Buffer {
  const o = opts === defaultJobOpts() ? '' : opts;
  return Buffer.from(`${createdAt}\n${JSON.stringify(name)}\n${o}\n${data}`);
}

/** The job in a message body (`encodeJob`'s, or a JSON envelope `{id, name, createdAt, opts, data}` of 0.x). */
export function decodeJob(msg: Message): { id: string; name: string; createdAt: number; opts: string; data: string } {
  const text = msg.content.toString();
  if (text.charCodeAt(0) === 123 /* '{': the JSON envelope */) {
    const b = JSON.parse(text) as { id: string; name: string; createdAt: number; opts: unknown; data: unknown };
    return {
      id: b.id,
      name: b.name,
      createdAt: b.createdAt,
      opts: JSON.stringify(b.opts),
      data: JSON.stringify(b.data),
    };
  }
  const a = text.indexOf('\n');
  const b = text.indexOf('\n', a + 1);
  const c = text.indexOf('\n', b + 1);
  // A JSON string without an escape is its text between the quotes (most names): no parse.
  const name = text.slice(a + 1, b);
  return {
    id: String(msg.properties.messageId),
    createdAt: Number(text.slice(0, a)),
    name: name.includes('\\') ? (JSON.parse(name) as string) : name.slice(1, -1),
    opts: c === b + 1 ? defaultJobOpts() : text.slice(b + 1, c),
    data: text.slice(c + 1),
  };
}

/** Where a job can no longer run: a copy of its message delivered later is acked unrun. */
const FINISHED: readonly JobState[] = ['completed', 'failed', 'dead'];

/**
 * RabbitMQ backend: a priority queue (`x-max-priority` 10; quorum: one queue per level) fed by confirmed
 * `mandatory` publishes; delays and retry backoff through a fixed set of TTL tiers (`DELAY_TIERS`) whose
 * messages dead-letter down to the main queue (no plugin); the DLQ through the main queue's dead-letter exchange
 * (a job's last failure is `nack`ed without requeue). Consumes with prefetch = what the worker holds (its
 * concurrency by default). Job status lives in a `StatusStore`.
 */
export class RabbitBackend implements QueueBackend {
  readonly kind = 'rabbitmq' as const;
  readonly name: string;
  readonly dlq: string;
  readonly #status: StatusStore;
  /** What RabbitMQ allows of the job and queue operations (rabbitmq-ops.ts). */
  readonly ops: RabbitOperations;
  readonly #clock: Clock;
  readonly #conn: AmqpConnection;
  readonly #log: Logger;
  readonly #type: RabbitQueueType;
  /** Delay tiers declared (lazily, on the first delayed publish): re-declared on every (re)connection since. */
  #wantDelays = false;
  #delaysReady: Promise<void> | undefined;
  readonly #buffer: Delivery[] = [];
  /** Deliveries handed to the worker, by token (`generation:deliveryTag`): one job can have two messages. */
  readonly #held = new Map<string, Delivery>();
  /** Job id → token of its delivery held on the current connection (a second copy meanwhile is a duplicate). */
  readonly #holding = new Map<string, string>();
  /** The connection generation whose channel has our consumer: one consumer per channel, whoever starts it. */
  #consuming = 0;
  /** Quorum: deliveries of the current connection handed to the worker and not acked or rejected yet. */
  #outstanding = 0;
  /**
   * Quorum: per level, deliveries acked (or rejected) and not replaced by a new delivery yet: the broker may be
   * sending that level's next job. Cleared when the level's queue is found empty.
   */
  readonly #owed = new Map<number, number>();
  /** Quorum: fetch hands out nothing before this time (a higher level's next delivery is on its way). */
  #holdUntil = 0;
  /** Consumer tags on the consuming channel. */
  readonly #tags: string[] = [];
  readonly #stalled: StalledJob[] = [];
  readonly #wakers = new Set<() => void>();
  #prefetch = 0;
  #maxStalled = 1;
  #seq = 0;
  /** The pause flag as the last fetch saw it: a paused worker must not spin on buffered deliveries. */
  #pausedSeen = false;
  /**
   * Message ids this worker gave back to the broker when it paused (`#standDown`): their next delivery is flagged
   * `redelivered`, yet no consumer died holding them — not a stall. Per connection (a reconnection clears it).
   */
  readonly #givenBack = new Set<string>();
  /** Each channel's acks (sent per tick, `multiple` where they form a run). */
  readonly #acks = new WeakMap<ConfirmChannel, ChannelAcks>();

  constructor(options: RabbitBackendOptions) {
    this.name = options.name;
    this.dlq = `${options.name}.dead`;
    this.#status = options.status;
    this.ops = new RabbitOperations(this.#status, {
      replayDead: (ids) => this.replayDead(this.#clock.now(), ids),
      purgeWaiting: () => this.purgeWaiting(),
      deleteQueues: () => this.deleteQueues(),
    });
    this.#clock = options.clock ?? systemClock;
    this.#type = options.queueType ?? 'classic';
    this.#log = options.logger ?? getDefaultLogger();
    this.#conn = new AmqpConnection({
      url: options.url,
      clock: this.#clock,
      logger: this.#log,
      onReady: (ch, gen) => this.#setup(ch, gen),
      onReturned: (ch) => this.#declare(ch, true),
      closedError: () => new QueueClosedError(options.name, 'amqp connection'),
      ...(options.commandTimeoutMs === undefined ? {} : { commandTimeoutMs: options.commandTimeoutMs }),
    });
  }

  /** Declares the topology (again, after a reconnection) and resumes consuming. */
  async #setup(ch: ConfirmChannel, generation: number): Promise<void> {
    // Deliveries of the previous connection are void: the broker requeued them.
    this.#buffer.length = 0;
    this.#tags.length = 0;
    this.#outstanding = 0;
    this.#owed.clear();
    this.#holdUntil = 0;
    this.#givenBack.clear();
    await this.#declare(ch, false);
    if (this.#prefetch > 0) await this.#consume(ch, generation);
  }

  #acksOf(ch: ConfirmChannel): ChannelAcks {
    let acks = this.#acks.get(ch);
    if (!acks) {
      acks = new ChannelAcks(ch);
      this.#acks.set(ch, acks);
    }
    return acks;
  }

  /** Acks `d` (with the others of this tick) if its channel is still the current one. */
  #ack(d: Delivery): void {
    if (d.generation === this.#conn.generation) d.acks.ack(d.msg.fields.deliveryTag);
  }

  /** Rejects `d` now if its channel is still the current one (else the broker already requeued it). */
  #nack(d: Delivery, requeue: boolean): void {
    if (d.generation === this.#conn.generation) d.acks.nack(d.msg.fields.deliveryTag, requeue);
  }

  /** Requeues `d` now, marked as given back (its next delivery is not a stall). */
  #giveBack(d: Delivery): void {
    if (!d.msg.fields.redelivered) this.#givenBack.add(String(d.msg.properties.messageId));
    try {
      this.#nack(d, true);
    } catch {
      // The channel is gone: the broker requeued it.
    }
  }

  /** Arguments every queue of ours gets for its type (quorum: dead-letters at least once). */
  #typed(args: Record<string, unknown>): Record<string, unknown> {
    if (this.#type === 'classic') return args;
    const dl =
      'x-dead-letter-exchange' in args
        ? { 'x-dead-letter-strategy': 'at-least-once', 'x-overflow': 'reject-publish' }
        : {};
    return { ...args, ...dl, 'x-queue-type': 'quorum' };
  }

  /** The queue jobs of `priority` wait in: the one queue (classic), one per level (quorum; 5 is `name`). */
  #waitQueue(priority: number): string {
    return this.#type === 'classic' || priority === 5 ? this.name : `${this.name}.p${priority}`;
  }

  /** Queues workers consume, highest priority first. */
  #waitQueues(): string[] {
    if (this.#type === 'classic') return [this.name];
    return Array.from({ length: MAX_PRIORITY + 1 }, (_, i) => this.#waitQueue(MAX_PRIORITY - i));
  }

  /**
   * Main queue(s) and DLQ; the delay tiers too once any delay was published (`delays`: a publish came back
   * unroutable, and might have been a delayed one). Idempotent: runs on every connection.
   */
  async #declare(ch: ConfirmChannel, delays: boolean): Promise<void> {
    const dl = { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': this.dlq };
    for (const q of this.#waitQueues()) {
      await ch.assertQueue(q, {
        durable: true,
        arguments: this.#typed(this.#type === 'classic' ? { 'x-max-priority': MAX_PRIORITY, ...dl } : dl),
      });
    }
    await ch.assertQueue(this.dlq, { durable: true, arguments: this.#typed({}) });
    if (this.#wantDelays || delays) await this.#declareDelays(ch);
  }

  #tier(k: number): string {
    return `${this.name}.delay.t${k}`;
  }

  /** Topic pattern matching keys whose tier-`k` digit is `bit` (key: one word per tier, highest first, then `p<n>`). */
  #pattern(k: number, bit: 0 | 1): string {
    return `${'*.'.repeat(DELAY_TIERS - 1 - k)}${bit}.#`;
  }

  async #declareDelays(ch: ConfirmChannel): Promise<void> {
    const due = `${this.name}.delay.due`;
    await ch.assertExchange(due, 'topic', { durable: true });
    if (this.#type === 'classic') await ch.bindQueue(this.name, due, '#');
    else for (let p = 0; p <= MAX_PRIORITY; p++) await ch.bindQueue(this.#waitQueue(p), due, `#.p${p}`);
    for (let k = 0; k < DELAY_TIERS; k++) {
      const tier = this.#tier(k);
      const lower = k === 0 ? due : this.#tier(k - 1);
      await ch.assertExchange(tier, 'topic', { durable: true });
      // No `x-expires`: a queue that expired took its messages with it.
      await ch.assertQueue(tier, {
        durable: true,
        arguments: this.#typed({ 'x-message-ttl': 2 ** k, 'x-dead-letter-exchange': lower }),
      });
      await ch.bindQueue(tier, tier, this.#pattern(k, 1));
      await ch.bindExchange(lower, tier, this.#pattern(k, 0));
    }
  }

  /** Declares the delay tiers once (then on every reconnection). */
  #delays(): Promise<void> {
    if (!this.#delaysReady) {
      this.#wantDelays = true;
      this.#delaysReady = this.#conn
        .channel()
        .then((ch) => this.#declareDelays(ch))
        .catch((error: unknown) => {
          // Retried by the next delayed publish (and by the next connection's setup).
          this.#delaysReady = undefined;
          throw error;
        });
    }
    return this.#delaysReady;
  }

  async #consume(ch: ConfirmChannel, generation: number): Promise<void> {
    // A worker that starts while the connection is being set up would otherwise consume twice on one channel
    // (setup's consumer and its own), taking twice its prefetch.
    if (this.#consuming === generation) return;
    this.#consuming = generation;
    // Per consumer (quorum queues have no channel-wide prefetch). Quorum: each level's consumer holds a reserve
    // of QUORUM_DEPTH × what the worker holds, so the next job of a level is at hand when one of it finishes
    // (its replacement is a broker round trip away); fetch hands out no more than the worker holds.
    await ch.prefetch(this.#type === 'classic' ? this.#prefetch : QUORUM_DEPTH * this.#prefetch);
    const acks = this.#acksOf(ch);
    const onMessage = (msg: ConsumeMessage | null) => {
      if (!msg) {
        // The broker cancelled our consumer (its queue was deleted): declare the topology again, consume again.
        void this.#resubscribe(ch, generation);
        return;
      }
      acks.delivered(msg.fields.deliveryTag);
      const d = { msg, generation, acks };
      const p = msg.properties.priority ?? 0;
      if (this.#type === 'quorum') {
        const owed = this.#owed.get(p) ?? 0;
        if (owed > 0) this.#owed.set(p, owed - 1);
        if (this.#holdUntil > 0 && (this.#buffer[0]?.msg.properties.priority ?? 0) < p) this.#holdUntil = 0;
      }
      // The buffer keeps deliveries highest priority first (FIFO within one): quorum's levels arrive from one
      // queue each, and a classic queue's broker orders only what it still holds — a high job it sends after
      // lower ones it had sent ahead (prefetch) still runs first here.
      let i = this.#buffer.length;
      while (i > 0 && (this.#buffer[i - 1]!.msg.properties.priority ?? 0) < p) i--;
      this.#buffer.splice(i, 0, d);
      this.#wake();
    };
    for (const q of this.#waitQueues()) this.#tags.push((await ch.consume(q, onMessage)).consumerTag);
  }

  /**
   * Paused: stop consuming and give back what the broker sent ahead (nack + requeue), so paused jobs wait in the
   * broker's queue — where a job added meanwhile with a higher priority goes ahead of them — not in this worker's
   * buffer, whence they would run first, in arrival order, on resume. The next fetch after resume consumes again.
   */
  async #standDown(): Promise<void> {
    const ch = this.#conn.current;
    const generation = this.#conn.generation;
    if (!ch || this.#consuming !== generation) return;
    this.#consuming = 0;
    try {
      // Cancel first: a message requeued while we still consume would come straight back to us.
      for (const tag of this.#tags.splice(0)) await ch.cancel(tag);
      // Ids another consumer took are never seen here again: bounded (past 10,000 the marks are dropped).
      if (this.#givenBack.size > 10_000) this.#givenBack.clear();
      for (const d of this.#buffer.splice(0)) {
        if (d.generation !== generation) continue;
        this.#givenBack.add(String(d.msg.properties.messageId));
        d.acks.nack(d.msg.fields.deliveryTag, true);
      }
      this.#owed.clear();
      this.#holdUntil = 0;
    } catch {
      // The channel is going down: the broker requeues whatever it had sent us.
    }
  }

  async #resubscribe(ch: ConfirmChannel, generation: number): Promise<void> {
    if (this.#consuming !== generation || this.#conn.generation !== generation) return;
    this.#consuming = 0;
    try {
      // Other consumers of this channel (quorum: one per level) go: one consumer set per channel.
      for (const tag of this.#tags.splice(0)) await ch.cancel(tag).catch(() => {});
      await this.#declare(ch, false);
      await this.#consume(ch, generation);
    } catch {
      // The channel is going down: the next connection's setup declares and consumes.
    }
  }

  #wake(): void {
    const all = [...this.#wakers];
    this.#wakers.clear();
    for (const w of all) w();
  }

  /** Whether the AMQP connection and its channel are up now (health checks read it). */
  get connected(): boolean {
    return this.#conn.current !== undefined;
  }

  /** Resolves once the AMQP connection is up (at once when it is); rejects once the backend is closed. */
  async whenConnected(): Promise<void> {
    await this.#conn.channel();
  }

  /** Connections made so far (1 until the first reconnection). */
  get connectionGeneration(): number {
    return this.#conn.generation;
  }

  /** Called by a worker before it fetches: starts consuming with prefetch = its concurrency. */
  async startConsuming(prefetch: number, maxStalledCount: number): Promise<void> {
    this.#maxStalled = maxStalledCount;
    if (this.#prefetch > 0) return;
    this.#prefetch = prefetch;
    const ch = await this.#conn.channel();
    await this.#consume(ch, this.#conn.generation);
  }

  async #publish(job: { id: string; body: Buffer; priority: number; attemptsMade: number }, delayMs: number) {
    // A first attempt carries no headers (no table to encode per message): no `x-attempts-made` reads as 0.
    const options: Options.Publish = { persistent: true, priority: job.priority, messageId: job.id, mandatory: true };
    if (job.attemptsMade > 0) options.headers = { 'x-attempts-made': job.attemptsMade };
    if (delayMs <= 0) return this.#conn.publish('', this.#waitQueue(job.priority), job.body, options);
    await this.#delays();
    const pass = Math.min(delayMs, MAX_TIER_DELAY_MS);
    if (delayMs > pass) options.headers = { ...options.headers, [REMAINING]: delayMs - pass };
    let key = '';
    for (let k = DELAY_TIERS - 1; k >= 0; k--) key += `${Math.floor(pass / 2 ** k) % 2}.`;
    await this.#conn.publish(this.#tier(DELAY_TIERS - 1), `${key}p${job.priority}`, job.body, options);
  }

  /**
   * Status records first (all of them, before any publish), then the publishes, confirmed together. When some
   * publishes fail, their records are removed and a `BulkAddIncompleteError` names exactly which jobs are
   * queued and which are not (a lone job's failure is thrown as it is: nothing was queued).
   */
  async add(jobs: readonly NewJob[], now: number): Promise<{ id: string; added: boolean }[]> {
    const prepared = jobs.map((j) => {
      const id = j.id || randomUUID();
      const state: JobState = j.delayMs > 0 ? 'delayed' : 'waiting';
      const fields: Record<string, string | number> = {
        name: j.name,
        data: j.data,
        opts: j.opts,
        priority: j.priority,
        attemptsMade: 0,
        stalledCount: 0,
        createdAt: now,
      };
      if (j.delayMs > 0) fields.delayUntil = now + j.delayMs;
      const score = state === 'waiting' ? waitScore(j.priority, ++this.#seq + now) : now + j.delayMs;
      return { j, id, fields, state, score };
    });
    const created = await Promise.allSettled(
      prepared.map((p) => this.#status.create(p.id, p.fields, p.state, p.score)),
    );
    const createFailed = created.find((r) => r.status === 'rejected');
    if (createFailed) {
      // Nothing is published yet: undo the records that were made, and nothing is queued.
      await Promise.all(
        created.map((r, i) =>
          r.status === 'fulfilled' && r.value ? this.#status.remove(prepared[i]!.id).catch(() => {}) : undefined,
        ),
      );
      throw createFailed.reason;
    }
    const out: { id: string; added: boolean }[] = [];
    const publishes: Promise<void>[] = [];
    const ids: string[] = [];
    const indexes: number[] = [];
    for (const [i, { j, id }] of prepared.entries()) {
      if (!(created[i] as PromiseFulfilledResult<boolean>).value) {
        out.push({ id, added: false });
        continue;
      }
      const body = encodeJob(j.name, now, j.opts, j.data);
      // Published together (one channel keeps their order); each awaits its own confirm.
      const published = this.#publish({ id, body, priority: j.priority, attemptsMade: 0 }, j.delayMs);
      publishes.push(
        j.delayMs > 0
          ? published.then(async () => {
              // The TTL runs from the publish (the first add also waits for the connection): due from now on.
              await this.#status.move(id, { set: { delayUntil: this.#clock.now() + j.delayMs } });
            })
          : published,
      );
      ids.push(id);
      indexes.push(i);
      out.push({ id, added: true });
    }
    const settled = await Promise.allSettled(publishes);
    const failed = settled.flatMap((r, k) =>
      r.status === 'rejected' ? [{ index: indexes[k]!, id: ids[k]!, error: r.reason as unknown }] : [],
    );
    if (failed.length > 0) {
      // Not confirmed: those jobs are not in the queue, so their status must not say they are.
      await Promise.all(failed.map((f) => this.#status.remove(f.id).catch(() => {})));
      if (jobs.length === 1) throw failed[0]!.error;
      const lost = new Set(failed.map((f) => f.index));
      const queued = out.flatMap((r, index) => (lost.has(index) ? [] : [{ index, id: r.id, duplicate: !r.added }]));
      throw new BulkAddIncompleteError('rabbitmq', queued, failed);
    }
    return out;
  }

  async fetch(now: number, count: number, _token: string, _lockMs: number) {
    const jobs: FetchedJob[] = [];
    this.#pausedSeen = await this.#status.isPaused();
    if (this.#pausedSeen) {
      await this.#standDown();
      return { jobs, nextDueAt: null };
    }
    const current = this.#conn.current;
    if (this.#prefetch > 0 && this.#consuming === 0 && current) await this.#consume(current, this.#conn.generation);
    const generation = this.#conn.generation;
    const moves: Promise<boolean>[] = [];
    // Quorum: the broker's prefetch is per level; the worker gets no more than it holds on classic queues.
    if (this.#type === 'quorum') {
      count = Math.min(count, this.#prefetch - this.#outstanding);
      if (count > 0 && (await this.#higherOnItsWay(now))) return { jobs, nextDueAt: this.#holdUntil };
    }
    /** The delivery being looked at: given back to the broker if a status call fails before it is settled. */
    let taking: Delivery | undefined;
    let moved: boolean[];
    /** The jobs are counted as held (`#outstanding`). */
    let counted = false;
    try {
      while (jobs.length < count && this.#buffer.length > 0) {
        const d = this.#buffer.shift()!;
        if (d.generation !== generation) continue;
        let body: ReturnType<typeof decodeJob>;
        try {
          body = decodeJob(d.msg);
        } catch (error) {
          // Not a job (a foreign or corrupt message): to the DLQ, where it can be looked at. Left unacked, the
          // broker would hold it for this consumer as long as the connection lives.
          this.#log.warn({ err: error, queue: this.name }, 'a message that is not a job was dead-lettered');
          this.#nack(d, false);
          continue;
        }
        taking = d;
        const attemptsMade = Number(d.msg.properties.headers?.['x-attempts-made'] ?? 0);
        const remaining = Number(d.msg.properties.headers?.[REMAINING] ?? 0);
        if (remaining > 0) {
          // A delay longer than one pass through the tiers: round again for the rest (a new message, then the ack).
          const again = { id: body.id, body: d.msg.content, priority: d.msg.properties.priority ?? 0, attemptsMade };
          taking = undefined;
          try {
            await this.#publish(again, remaining);
            this.#ack(d);
          } catch {
            this.#nack(d, true);
          }
          continue;
        }
        const twin = this.#holding.get(body.id);
        if (twin !== undefined && this.#held.get(twin)?.generation === generation) {
          // A second message of a job this worker runs now (a publish retried after its confirm was lost, a retry
          // whose original's ack was lost): the held one settles the job, or goes back to the broker if we die.
          taking = undefined;
          this.#ack(d);
          continue;
        }
        if (d.msg.fields.redelivered && !this.#givenBack.delete(body.id)) {
          // Its consumer died holding it (the broker requeued it): a stalled job.
          const st = await this.#status.get(body.id);
          if (st && FINISHED.includes(st.state as JobState)) {
            // Its worker recorded the outcome and died before the ack reached the broker: nothing left to run.
            taking = undefined;
            this.#ack(d);
            continue;
          }
          const stalledCount = Number(st?.stalledCount ?? 0) + 1;
          if (stalledCount > this.#maxStalled) {
            const entry = JSON.stringify({
              attempt: attemptsMade + 1,
              name: 'JobStalledError',
              code: 'JOB_STALLED',
              message: `Job "${body.id}" stalled ${stalledCount} times`,
              stalled: true,
              at: now,
            });
            await this.#status.move(body.id, {
              state: 'dead',
              score: now,
              incr: { stalledCount: 1 },
              appendError: entry,
              set: { finishedAt: now },
            });
            // A delivery tag is only valid on its own channel (after a reconnection the broker requeued it).
            taking = undefined;
            this.#nack(d, false);
            this.#stalled.push({ id: body.id, outcome: 'dead' });
            continue;
          }
          await this.#status.move(body.id, { incr: { stalledCount: 1 } });
          this.#stalled.push({ id: body.id, outcome: 'waiting' });
        }
        const token = `${generation}:${d.msg.fields.deliveryTag}`;
        d.id = body.id;
        this.#held.set(token, d);
        this.#holding.set(body.id, token);
        moves.push(
          this.#status.move(body.id, { state: 'active', score: now, set: { processedAt: now }, unlessState: FINISHED }),
        );
        taking = undefined;
        jobs.push({
          id: body.id,
          name: body.name,
          data: body.data,
          opts: body.opts,
          priority: d.msg.properties.priority ?? 0,
          attemptsMade,
          createdAt: body.createdAt,
          token,
        });
      }
      this.#outstanding += jobs.length;
      counted = true;
      moved = await Promise.all(moves);
    } catch (error) {
      // The status store failed (Redis down): every delivery taken in this call goes back to the broker (not
      // held by this consumer, unacked, for as long as the connection lives), flagged as given back.
      if (taking) this.#giveBack(taking);
      for (const job of jobs) {
        const held = this.#take(job.id, job.token);
        if (!held) continue;
        this.#giveBack(held);
        if (counted) this.#settled(held);
      }
      throw error;
    }
    if (moved.every(Boolean)) return { jobs, nextDueAt: null };
    // Not moved: the record is gone (a status kept in another process's memory, a trimmed record), or the job
    // already finished (a second copy of its message, arriving after the first was acked).
    const finished = await Promise.all(
      jobs.map(async (job, i) => {
        if (moved[i]) return false;
        const st = await this.#status.get(job.id);
        return st !== undefined && FINISHED.includes(st.state as JobState);
      }),
    );
    for (const [i, job] of jobs.entries()) {
      if (!finished[i]) continue;
      const held = this.#take(job.id, job.token);
      if (held) {
        this.#ack(held);
        this.#settled(held);
      }
    }
    return { jobs: jobs.filter((_, i) => !finished[i]), nextDueAt: null };
  }

  /**
   * Quorum: one delivery of the current connection handed to the worker was acked or rejected. The next fetch
   * runs after the ack went out: the broker is already sending that level's next message.
   */
  #settled(d: Delivery): void {
    if (this.#type === 'classic') return;
    this.#outstanding--;
    const p = d.msg.properties.priority ?? 0;
    this.#owed.set(p, (this.#owed.get(p) ?? 0) + 1);
    if (this.#buffer.length > 0) this.#wake();
  }

  /**
   * Quorum: whether a level above the best job held has its next delivery on the way (acked, not replaced,
   * and its queue not empty): then the worker waits for it (up to 20 ms) rather than run a lower job first.
   */
  async #higherOnItsWay(now: number): Promise<boolean> {
    if (now < this.#holdUntil) return true;
    const top = this.#buffer[0]?.msg.properties.priority ?? 0;
    const levels = [...this.#owed].filter(([p, owed]) => owed > 0 && p > top).map(([p]) => p);
    const ch = this.#conn.current;
    if (levels.length === 0 || !ch) return false;
    const ready = await Promise.all(
      levels.map((p) =>
        ch.checkQueue(this.#waitQueue(p)).then(
          (r) => r.messageCount,
          () => 0,
        ),
      ),
    );
    let coming = false;
    for (const [i, p] of levels.entries()) {
      if (ready[i] === 0) this.#owed.delete(p);
      else coming = true;
    }
    if (coming) this.#holdUntil = now + 20;
    return coming;
  }

  /** A fetch now would hand out a job. */
  #deliverable(): boolean {
    if (this.#pausedSeen) return false;
    // Resumed (here) while the last fetch stood down: nothing is consumed, so no delivery would wake the worker —
    // the next fetch consumes again. Without this, a resume racing a fetch's stand-down waited out `blockMs`.
    if (this.#prefetch > 0 && this.#consuming === 0 && this.#conn.current) return true;
    if (this.#buffer.length === 0) return false;
    if (this.#type === 'classic') return true;
    return this.#outstanding < this.#prefetch && this.#clock.now() >= this.#holdUntil;
  }

  /** The delivery `token` names, if it is still this connection's (else the broker already requeued it). */
  #take(id: string, token: string): Delivery | undefined {
    const d = this.#held.get(token);
    if (!d || d.id !== id) return undefined;
    this.#held.delete(token);
    if (this.#holding.get(id) === token) this.#holding.delete(id);
    if (!this.#conn.current || d.generation !== this.#conn.generation) return undefined;
    return d;
  }

  async complete(id: string, token: string, now: number, result: string, keep: [number, number]): Promise<boolean> {
    const d = this.#take(id, token);
    if (!d) return false;
    // Status first, then the ack: a worker killed in between leaves the message unacked, the broker redelivers
    // it, and fetch acks it unrun as a finished job. Acked first, the job stayed 'active' for ever.
    await this.#status.move(id, { state: 'completed', score: now, keep, set: { finishedAt: now, result } });
    this.#ack(d);
    this.#settled(d);
    return true;
  }

  async fail(id: string, token: string, now: number, errorEntry: string, outcome: FailOutcome): Promise<boolean> {
    const d = this.#take(id, token);
    if (!d) return false;
    const attemptsMade = Number(d.msg.properties.headers?.['x-attempts-made'] ?? 0) + 1;
    if (outcome.kind === 'retry') {
      // Status first: the retried message may be delivered (and fetched) before this call returns.
      const delayed = outcome.delayMs > 0;
      await this.#status.move(id, {
        state: delayed ? 'delayed' : 'waiting',
        score: delayed ? now + outcome.delayMs : waitScore(d.msg.properties.priority ?? 0, ++this.#seq + now),
        incr: { attemptsMade: 1 },
        appendError: errorEntry,
        set: delayed ? { delayUntil: now + outcome.delayMs } : {},
      });
      try {
        // The retry is confirmed before the original is acked: a crash in between duplicates, never loses.
        const body = { id, body: d.msg.content, priority: d.msg.properties.priority ?? 0, attemptsMade };
        await this.#publish(body, outcome.delayMs);
      } catch (error) {
        // Not confirmed: hand the original back to the broker (redelivered) rather than lose it.
        this.#nack(d, true);
        this.#settled(d);
        throw error;
      }
      this.#ack(d);
      this.#settled(d);
      return true;
    }
    const dead = outcome.kind === 'dead';
    await this.#status.move(id, {
      state: dead ? 'dead' : 'failed',
      score: now,
      incr: { attemptsMade: 1 },
      appendError: errorEntry,
      set: { finishedAt: now },
      ...(dead ? {} : { keep: outcome.keep }),
    });
    // Dead: rejected without requeue, the main queue's dead-letter exchange routes it to the DLQ.
    if (dead) this.#nack(d, false);
    else this.#ack(d);
    this.#settled(d);
    return true;
  }

  async renew(): Promise<string[]> {
    // The broker holds an unacked delivery for as long as its consumer's connection lives: no lease to renew.
    return [];
  }

  async recoverStalled(): Promise<StalledJob[]> {
    return this.#stalled.splice(0);
  }

  async getJob(id: string): Promise<JobInfo | undefined> {
    const h = await this.#status.get(id);
    if (!h) return undefined;
    // Delayed jobs whose TTL elapsed sit in the main queue: report them as waiting.
    if (h.state === 'delayed' && Number(h.delayUntil) <= this.#clock.now()) h.state = 'waiting';
    return toJobInfo(id, h);
  }

  counts(): Promise<Counts> {
    return this.#status.counts();
  }

  list(state: JobState, offset: number, limit: number): Promise<string[]> {
    return this.#status.list(state, offset, limit);
  }

  async replayDead(now: number, ids?: readonly string[]): Promise<number> {
    // What the status store calls dead; a job just nacked may still be on its way through the DLX.
    const expected = new Set(ids ?? (await this.#status.list('dead', 0, 100_000)));
    const ch = await this.#conn.channel();
    // The gets' replies take delivery tags of the consuming channel: registered with its acks, and no `multiple`
    // ack while gets are under way (one could settle a reply not registered yet).
    const acks = this.#acksOf(ch);
    const keep: number[] = [];
    /** A reply being handled: given back with the kept ones if a status call or the publish fails. */
    let handling: number | undefined;
    let moved = 0;
    let misses = 0;
    acks.hold();
    try {
      while (expected.size > 0 && misses < 50) {
        const msg = await ch.get(this.dlq, { noAck: false });
        if (!msg) {
          misses++;
          await sleep(this.#clock, 20);
          continue;
        }
        const tag = msg.fields.deliveryTag;
        acks.delivered(tag);
        const id = String(msg.properties.messageId);
        if (!expected.delete(id)) {
          keep.push(tag);
          continue;
        }
        handling = tag;
        const priority = msg.properties.priority ?? 0;
        await this.#status.move(id, {
          state: 'waiting',
          score: waitScore(priority, ++this.#seq + now),
          set: { attemptsMade: 0, stalledCount: 0 },
        });
        await this.#publish({ id, body: msg.content, priority, attemptsMade: 0 }, 0);
        handling = undefined;
        acks.ack(tag);
        moved++;
      }
    } finally {
      // What was taken and not moved goes back to the DLQ (unacked, the broker would hold it for this channel).
      if (handling !== undefined) keep.push(handling);
      try {
        for (const tag of keep) acks.nack(tag, true);
      } catch {
        // The channel is gone: the broker requeued them.
      }
      acks.flush();
      acks.release();
    }
    return moved;
  }

  async setPaused(paused: boolean): Promise<void> {
    await this.#status.setPaused(paused);
    this.#pausedSeen = paused;
    if (!paused) this.#wake();
  }

  isPaused(): Promise<boolean> {
    return this.#status.isPaused();
  }

  createWaiter(): Waiter {
    let cancel: (() => void) | undefined;
    let closed = false;
    return {
      wait: (timeoutMs) =>
        new Promise<void>((resolve) => {
          if (closed || this.#deliverable()) return resolve();
          const done = () => {
            this.#clock.clearTimeout(timer);
            this.#wakers.delete(done);
            cancel = undefined;
            resolve();
          };
          const timer = this.#clock.setTimeout(done, timeoutMs);
          timer.unref();
          cancel = done;
          this.#wakers.add(done);
        }),
      close: () => {
        closed = true;
        cancel?.();
      },
    };
  }

  /**
   * @internal `drain`: purges the ready messages of the wait queue(s) and the delay tiers (declared first, as
   * another process may have used them: purging a missing queue would close the channel). Messages delivered to
   * a consumer and not acked yet are not ready: they stay (they run). Returns how many were purged.
   */
  async purgeWaiting(): Promise<number> {
    await this.#delays();
    const ch = await this.#conn.channel();
    let purged = 0;
    for (const q of this.#waitQueues()) purged += (await ch.purgeQueue(q)).messageCount;
    for (let k = 0; k < DELAY_TIERS; k++) purged += (await ch.purgeQueue(this.#tier(k))).messageCount;
    return purged;
  }

  /** Deletes the queue(s), its DLQ and delay tiers on the broker (tests, teardown). */
  async deleteQueues(): Promise<void> {
    const ch = await this.#conn.channel();
    for (let k = 0; k < DELAY_TIERS; k++) {
      await ch.deleteQueue(this.#tier(k));
      await ch.deleteExchange(this.#tier(k));
    }
    await ch.deleteExchange(`${this.name}.delay.due`);
    for (const q of this.#waitQueues()) await ch.deleteQueue(q);
    await ch.deleteQueue(this.dlq);
  }

  async close(): Promise<void> {
    this.#wake();
    // Acks of this tick go before the channel closes (else the broker requeues jobs that finished).
    const ch = this.#conn.current;
    if (ch) this.#acks.get(ch)?.flush();
    await this.#conn.close();
  }
}
