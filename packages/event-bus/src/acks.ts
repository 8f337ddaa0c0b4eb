import type { StreamId, Transport } from './transport';

export interface AckBatcherArgs {
  transport: Transport;
  type: string;
  group: string;
  onAcked: (count: number) => void;
  report: (error: unknown, message: string) => void;
}

/**
 * Acknowledgements of one consumer, batched: every ack queued in the same tick leaves in one XACK.
 * `counted` acks (handled entries, not skipped replays) feed the acked metric through `onAcked`.
 */
export class AckBatcher {
  #ids: StreamId[] = [];
  #counted = 0;
  #flush: Promise<void> | undefined;
  readonly #a: AckBatcherArgs;

  constructor(args: AckBatcherArgs) {
    this.#a = args;
  }

  ack(id: StreamId, counted: boolean): void {
    this.#ids.push(id);
    if (counted) this.#counted += 1;
    this.#flush ??= Promise.resolve().then(() => this.#send());
  }

  /** Sends whatever is queued now; resolves when every queued ack went out (or failed and was reported). */
  async flush(): Promise<void> {
    await this.#flush;
    await this.#send();
  }

  async #send(): Promise<void> {
    this.#flush = undefined;
    const ids = this.#ids;
    const counted = this.#counted;
    if (ids.length === 0) return;
    this.#ids = [];
    this.#counted = 0;
    try {
      await this.#a.transport.ack(this.#a.type, this.#a.group, ids);
      if (counted > 0) this.#a.onAcked(counted);
    } catch (error) {
      // Unacked entries are redelivered later (at-least-once): report, do not throw.
      this.#a.report(error, 'ack failed');
    }
  }
}
