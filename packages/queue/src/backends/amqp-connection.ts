import type { Writable } from 'node:stream';
import {
  BackendTimeoutError,
  BackendUnavailableError,
  backoffDelay,
  boundBackendCall,
  type Clock,
  DEFAULT_COMMAND_TIMEOUT_MS,
  isBackendUnavailableError,
  type Logger,
  sleep,
  systemClock,
  TimeoutQueue,
  toBackendError,
} from '@ballast/core';
import { type ChannelModel, type ConfirmChannel, connect, type Options } from 'amqplib';
import { PublishNotConfirmedError } from '../errors';

export interface AmqpConnectionOptions {
  url: string;
  clock: Clock;
  logger: Logger;
  /** Runs on every (re)connection before anything else uses the channel: declare topology, resume consumers. */
  onReady(channel: ConfirmChannel, generation: number): Promise<void>;
  /**
   * A publish came back unroutable (every publish is `mandatory`): re-declare the topology on `channel` before
   * it is retried. A returned message is never reported as published.
   */
  onReturned?(channel: ConfirmChannel): Promise<void>;
  /** Times a publish is retried across reconnections before it is rejected to the caller. */
  publishAttempts?: number;
  /** What callers still waiting for a channel get when the connection is closed. */
  closedError(): Error;
  /**
   * How long a publish waits for a channel and for the broker's confirm; past it (RabbitMQ down), core's
   * `BackendUnavailableError`. On the system clock: it watches real I/O. Default 5 s.
   */
  commandTimeoutMs?: number;
}

/**
 * amqplib writes every frame to the socket on its own (a publish, an ack: one `write` syscall each, ~25% of
 * the CPU of a busy worker). Corked from its first write until the end of the tick, the frames written in one
 * go (a bulk publish, the acks of jobs finished together) leave in one `writev`. Nothing waits longer than the
 * current tick; backpressure is unchanged (`write` still returns false past the high-water mark).
 */
function coalesceWrites(stream: Writable | undefined): void {
  if (!stream || typeof stream.cork !== 'function') return;
  const write = stream.write;
  let corked = false;
  const uncork = () => {
    corked = false;
    stream.uncork();
  };
  stream.write = function (this: Writable, ...args: Parameters<Writable['write']>) {
    if (!corked) {
      corked = true;
      stream.cork();
      process.nextTick(uncork);
    }
    return write.apply(this, args);
  } as Writable['write'];
}

/** The broker returned a `mandatory` publish: no queue was bound to take it. */
class Unroutable extends Error {}

const publishTimedOut = (timeoutMs: number) =>
  new BackendUnavailableError('rabbitmq', 'publish', new BackendTimeoutError('publish', timeoutMs));

const RECONNECT = { initialMs: 100, maxMs: 5_000, factor: 2, jitter: 'full' as const };

/**
 * One AMQP connection with a confirm channel that comes back after a connection or channel loss: it backs
 * off with full jitter, reconnects, re-runs `onReady` (topology, consumers) and bumps `generation` (delivery
 * tags of an older generation are void: the broker requeued those messages). Publishes wait for the broker's
 * confirm; one lost with the connection is retried on the next, and rejected after `publishAttempts`.
 */
export class AmqpConnection {
  readonly #o: AmqpConnectionOptions;
  #model: ChannelModel | undefined;
  #channel: ConfirmChannel | undefined;
  #ready: Promise<ConfirmChannel>;
  #resolveReady!: (ch: ConfirmChannel) => void;
  #rejectReady!: (error: Error) => void;
  /** `#ready` not settled yet: callers already wait on it, so a loss must not replace it. */
  #readyPending = true;
  #closed = false;
  #generation = 0;
  #reconnecting = false;
  /** The broker is unreachable and that was logged: quiet until connected again. */
  #down = false;
  /** Per channel: message ids the broker returned (a `basic.return` precedes the confirm of its publish). */
  readonly #returns = new WeakMap<ConfirmChannel, Map<string, number>>();
  /** Confirm deadlines of publishes in flight: all the same length, so one timer serves them (core's `TimeoutQueue`). */
  readonly #deadlines = new TimeoutQueue(systemClock);

  constructor(options: AmqpConnectionOptions) {
    this.#o = options;
    this.#ready = this.#newReady();
    void this.#connectLoop();
  }

  #newReady(): Promise<ConfirmChannel> {
    this.#readyPending = true;
    const ready = new Promise<ConfirmChannel>((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    // Rejected only by close(); a rejection nobody awaited is not an unhandled one.
    ready.catch(() => {});
    return ready;
  }

  get generation(): number {
    return this.#generation;
  }

  /** The current channel, waiting for a (re)connection if there is none. */
  channel(): Promise<ConfirmChannel> {
    return this.#ready;
  }

  /** The channel if connected now (acks of the current generation go here). */
  get current(): ConfirmChannel | undefined {
    return this.#channel;
  }

  async #connectLoop(): Promise<void> {
    if (this.#reconnecting) return;
    this.#reconnecting = true;
    let attempt = 0;
    while (!this.#closed) {
      let model: ChannelModel | undefined;
      try {
        model = await connect(this.#o.url);
        const m = model;
        coalesceWrites((m as unknown as { connection?: { stream?: Writable } }).connection?.stream);
        m.on('error', () => {});
        const channel = await m.createConfirmChannel();
        channel.on('error', () => {});
        const returns = new Map<string, number>();
        this.#returns.set(channel, returns);
        channel.on('return', (msg: { properties: { messageId?: unknown } }) => {
          const id = String(msg.properties.messageId);
          returns.set(id, (returns.get(id) ?? 0) + 1);
        });
        this.#model = m;
        const lost = () => this.#lost(m);
        m.on('close', lost);
        channel.on('close', lost);
        this.#generation++;
        // Acks of deliveries that arrive while onReady still runs (its consumer is its last step) go here.
        this.#channel = channel;
        await this.#o.onReady(channel, this.#generation);
        if (this.#closed) {
          await m.close().catch(() => {});
          break;
        }
        if (this.#model !== m) throw new Error('amqp connection lost while it was being set up');
        this.#readyPending = false;
        this.#resolveReady(channel);
        if (this.#down) this.#o.logger.info('amqp connection is back');
        this.#down = false;
        this.#reconnecting = false;
        return;
      } catch (error) {
        // Setup failed on a connection that may still be open: it is not ours any more.
        if (model && this.#model === model) {
          this.#model = undefined;
          this.#channel = undefined;
        }
        void model?.close().catch(() => {});
        if (this.#closed) break;
        const delay = backoffDelay(RECONNECT, attempt++);
        // One warning per outage, debug lines for the attempts in between.
        const reason = error instanceof Error ? error.message : String(error);
        if (this.#down) this.#o.logger.debug({ reason, delayMs: delay }, 'amqp connection failed; reconnecting');
        else this.#o.logger.warn({ reason, delayMs: delay }, 'amqp connection failed; reconnecting');
        this.#down = true;
        await sleep(this.#o.clock, delay).catch(() => {});
      }
    }
    this.#reconnecting = false;
  }

  #lost(model: ChannelModel): void {
    if (this.#model !== model || this.#closed) return;
    this.#model = undefined;
    this.#channel = undefined;
    // Lost while (re)connecting: keep the pending promise, whose waiters the next connection will serve.
    if (!this.#readyPending) this.#ready = this.#newReady();
    void model.close().catch(() => {});
    this.#o.logger.warn('amqp connection lost; reconnecting');
    this.#down = true;
    void this.#connectLoop();
  }

  /** Whether the broker returned the message `id` published on `ch` (consumes one mark). */
  #wasReturned(ch: ConfirmChannel, id: string): boolean {
    const returns = this.#returns.get(ch);
    const count = returns?.get(id);
    if (!returns || count === undefined) return false;
    if (count <= 1) returns.delete(id);
    else returns.set(id, count - 1);
    return true;
  }

  /**
   * Publishes `mandatory` and waits for the broker's confirm; retried across reconnections, then rejected. A
   * message the broker returned (no queue took it: a queue deleted behind our back) is not published: the
   * topology is re-declared (`onReturned`) and the publish retried; still returned after `publishAttempts`, a
   * `PublishNotConfirmedError`. `options.messageId` identifies the returned message: required.
   *
   * Connected (the common case), the first attempt is one promise on the channel at hand, its bound an entry in
   * the one queue of confirm deadlines: no async frame, closures or timer per publish (a bulk add makes hundreds).
   * Anything but a confirm goes on in `#publishAgain` with what is left of the same bound.
   */
  publish(exchange: string, routingKey: string, content: Buffer, options: Options.Publish): Promise<void> {
    const timeoutMs = this.#o.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    const deadline = performance.now() + timeoutMs;
    const publish = options.mandatory === true ? options : { ...options, mandatory: true };
    const ch = this.#readyPending || this.#closed ? undefined : this.#channel;
    if (!ch) return this.#publishAgain(exchange, routingKey, content, publish, deadline, 0, undefined);
    return new Promise<void>((resolve, reject) => {
      const entry = this.#deadlines.add(timeoutMs, () => reject(publishTimedOut(timeoutMs)));
      ch.publish(exchange, routingKey, content, publish, (err) => {
        if (entry.done) return;
        this.#deadlines.finish(entry);
        if (!err && !this.#wasReturned(ch, String(publish.messageId))) return resolve();
        // As a bounded call reports it: a connection failure is `BackendUnavailableError`, thrown as it is.
        const error = err ? toBackendError(err, 'rabbitmq', 'publish') : new Unroutable('returned');
        if (isBackendUnavailableError(error)) return reject(error);
        this.#publishAgain(exchange, routingKey, content, publish, deadline, 1, error, ch).then(resolve, reject);
      });
    });
  }

  /** Attempts `attempt`.. of a publish (`failed`: how the last one went, on `ch`), bounded by `deadline`. */
  async #publishAgain(
    exchange: string,
    routingKey: string,
    content: Buffer,
    options: Options.Publish,
    deadline: number,
    attempt: number,
    failed: unknown,
    failedOn?: ConfirmChannel,
  ): Promise<void> {
    const attempts = this.#o.publishAttempts ?? 5;
    // The whole publish, waits for a channel included, is bounded: RabbitMQ down must not hang `add()`.
    const bounded = <T>(call: Promise<T>) =>
      boundBackendCall(call, {
        backend: 'rabbitmq',
        operation: 'publish',
        timeoutMs: Math.max(0, deadline - performance.now()),
      });
    let last = failed;
    const recover = async (error: unknown, ch: ConfirmChannel, i: number) => {
      if (error instanceof Unroutable) {
        await bounded(this.#o.onReturned?.(ch) ?? Promise.resolve()).catch(() => {});
        return;
      }
      // The channel is going down: its close starts the reconnection this retry waits for.
      await sleep(this.#o.clock, 50 * i).catch(() => {});
    };
    if (failedOn && attempt > 0) await recover(failed, failedOn, attempt);
    for (let i = attempt; i < attempts; i++) {
      if (this.#closed) break;
      const ch = !this.#readyPending && this.#channel ? this.#channel : await bounded(this.#ready);
      try {
        const confirmed = new Promise<void>((resolve, reject) => {
          ch.publish(exchange, routingKey, content, options, (err) => {
            if (err) reject(err);
            // The return arrives before the confirm of the same publish: the broker acks what it dropped.
            else if (this.#wasReturned(ch, String(options.messageId))) reject(new Unroutable('returned'));
            else resolve();
          });
        });
        await bounded(confirmed);
        return;
      } catch (error) {
        if (isBackendUnavailableError(error)) throw error;
        last = error;
        await recover(error, ch, i + 1);
      }
    }
    const why = last instanceof Unroutable ? 'returned unroutable' : 'not confirmed';
    throw new PublishNotConfirmedError(`publish to "${routingKey}" was ${why} after ${attempts} attempts`, {
      cause: last,
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#readyPending) this.#rejectReady(this.#o.closedError());
    const model = this.#model;
    const channel = this.#channel;
    this.#model = undefined;
    this.#channel = undefined;
    // The channel first: its close goes out behind the acks already written on it, and the broker answers only
    // once it has processed them. Closing the connection at once can overtake them (the broker then requeues
    // those messages: redelivered copies of finished jobs).
    if (channel) await channel.close().catch(() => {});
    if (model) await model.close().catch(() => {});
  }
}
