/** What the acks need of an amqplib channel. */
export interface AckChannel {
  ack(message: { fields: { deliveryTag: number } }, allUpTo?: boolean): void;
  nack(message: { fields: { deliveryTag: number } }, allUpTo?: boolean, requeue?: boolean): void;
}

const tagged = (deliveryTag: number) => ({ fields: { deliveryTag } });

/**
 * The acks of one channel, sent at the end of the tick: where the deliveries acked form a run from the oldest
 * delivery the broker still holds for us, one `basic.ack` with `multiple` settles the whole run. One frame per
 * job cost the broker ~16 µs and this process ~8 µs per job (a worker finishing jobs as fast as they come: ack
 * frames were the largest share of both). An ack frame alone is still sent for a delivery acked while an older
 * one is unsettled (a job still running, a delivery not handed out yet) — `multiple` would settle that too.
 *
 * The channel's delivery tags rise in delivery order, so every delivery of the channel must be registered
 * (`delivered`) as it arrives — a `basic.get` too — and settled here (`ack`, `nack`), or a later `multiple` ack
 * would settle it unseen. Nacks go out at once, one each (the broker requeues or dead-letters by tag).
 */
export class ChannelAcks {
  readonly #ch: AckChannel;
  /** Tags delivered and not settled by a frame sent, oldest first (from `#head`). */
  #open: number[] = [];
  #head = 0;
  /** Tags `#open` kept at its last compaction. */
  #kept = 0;
  /** Tags of `#open` settled: acked (pending or sent) or nacked. */
  readonly #settled = new Set<number>();
  /** Acked and not sent yet. */
  #pending: number[] = [];
  #scheduled = false;
  /** `basic.get`s under way (`hold`): their replies' tags may not be registered yet, so no `multiple` ack. */
  #holds = 0;
  /** The channel failed under a flush: nothing more is sent on it (the broker requeues what it held). */
  #dead = false;
  readonly #flush = () => this.flush();

  constructor(ch: AckChannel) {
    this.#ch = ch;
  }

  /** @internal Tags held in memory (tests: bounded whatever stays unsettled). */
  get tracked(): number {
    return this.#open.length + this.#settled.size;
  }

  /** A delivery (or `basic.get` reply) of this channel arrived. */
  delivered(tag: number): void {
    this.#open.push(tag);
  }

  /**
   * Until `release`, acks go one frame each: a `basic.get` reply reaches its caller a few promise callbacks after
   * its frame arrived, and a `multiple` ack sent in between could settle it unregistered.
   */
  hold(): void {
    this.#holds++;
  }

  release(): void {
    this.#holds--;
  }

  /** Acks `tag` at the end of this tick (with the others acked meanwhile). */
  ack(tag: number): void {
    if (this.#settled.has(tag)) return;
    this.#settled.add(tag);
    this.#pending.push(tag);
    if (!this.#scheduled) {
      this.#scheduled = true;
      process.nextTick(this.#flush);
    }
  }

  /** Rejects `tag` now (requeued, or dead-lettered without `requeue`). Throws if the channel is closed. */
  nack(tag: number, requeue: boolean): void {
    if (this.#settled.has(tag)) return;
    this.#ch.nack(tagged(tag), false, requeue);
    this.#settled.add(tag);
  }

  /** Sends the pending acks now (also called before the channel closes or the consumer stands down). */
  flush(): void {
    this.#scheduled = false;
    if (this.#pending.length === 0 || this.#dead) return;
    const pending = this.#pending;
    this.#pending = [];
    const waiting = new Set(pending);
    // The run of settled tags at the head: everything the broker still holds for us up to `upTo` is settled.
    let upTo = -1;
    let inRun = 0;
    while (this.#head < this.#open.length && this.#settled.has(this.#open[this.#head]!)) {
      const tag = this.#open[this.#head++]!;
      this.#settled.delete(tag);
      if (!waiting.has(tag)) continue;
      if (this.#holds > 0) continue; // sent one by one below
      waiting.delete(tag);
      upTo = tag;
      inRun++;
    }
    try {
      if (inRun > 0) this.#ch.ack(tagged(upTo), inRun > 1);
      // Acked behind an unsettled one: alone (they stay in `#settled` until the head run reaches them).
      for (const tag of waiting) this.#ch.ack(tagged(tag), false);
    } catch {
      // The channel closed under us: the broker requeues every delivery it had not had an ack for. A job whose
      // outcome was recorded comes back and is acked unrun as finished.
      this.#dead = true;
    }
    this.#compact();
  }

  /**
   * Bounds what is kept: past the head, `#open` keeps the tags settled behind an unsettled one (a long job, a
   * delivery waiting in the buffer) until the head run reaches them. Once they outnumber twice what the last
   * compaction kept (plus 1,024), the sent ones go: the broker has them settled, so a later `multiple` ack
   * covers them harmlessly. What stays is what is not settled yet — at most what the broker lets us hold.
   */
  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#open.length) {
      this.#open = this.#open.slice(this.#head);
      this.#head = 0;
    }
    const size = this.#open.length - this.#head;
    if (size <= 2 * this.#kept + 1024) return;
    const open: number[] = [];
    for (let i = this.#head; i < this.#open.length; i++) {
      const tag = this.#open[i]!;
      if (this.#settled.has(tag)) this.#settled.delete(tag);
      else open.push(tag);
    }
    this.#open = open;
    this.#head = 0;
    this.#kept = open.length;
  }
}
