/**
 * The live stream (SSE): one timer computes a summary of every panel every `liveIntervalMs` and fans it out
 * to all connected pages, so ten open pages cost the backends what one does. The timer runs only while a
 * page is connected. A failing read is sent as an `error` event; the stream stays open.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock, TimerHandle } from '@ballast/core';

export class LiveStream {
  readonly #clients = new Set<ServerResponse>();
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #summary: () => Promise<unknown>;
  #timer: TimerHandle | undefined;
  #busy = false;

  constructor(clock: Clock, intervalMs: number, summary: () => Promise<unknown>) {
    this.#clock = clock;
    this.#intervalMs = intervalMs;
    this.#summary = summary;
  }

  get clients(): number {
    return this.#clients.size;
  }

  attach(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(`retry: ${this.#intervalMs}\n\n`);
    this.#clients.add(res);
    const drop = () => {
      this.#clients.delete(res);
      if (this.#clients.size === 0 && this.#timer !== undefined) {
        this.#clock.clearInterval(this.#timer);
        this.#timer = undefined;
      }
    };
    req.on('close', drop);
    res.on('close', drop);
    this.#timer ??= this.#clock.setInterval(() => void this.tick(), this.#intervalMs);
    void this.tick(res);
  }

  /** Computes one summary and sends it (to `only`, or to every page). */
  async tick(only?: ServerResponse): Promise<void> {
    if (this.#busy && !only) return; // a slow backend: skip a beat rather than pile reads up
    if (!only) this.#busy = true;
    let frame: string;
    try {
      frame = `event: summary\ndata: ${JSON.stringify({ at: this.#clock.now(), ...((await this.#summary()) as object) })}\n\n`;
    } catch (error) {
      frame = `event: error\ndata: ${JSON.stringify({ message: error instanceof Error ? error.message : String(error) })}\n\n`;
    } finally {
      if (!only) this.#busy = false;
    }
    for (const res of only ? [only] : this.#clients) if (!res.writableEnded) res.write(frame);
  }

  close(): void {
    if (this.#timer !== undefined) this.#clock.clearInterval(this.#timer);
    this.#timer = undefined;
    for (const res of this.#clients) res.end();
    this.#clients.clear();
  }
}
