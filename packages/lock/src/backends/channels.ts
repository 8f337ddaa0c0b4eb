import { duplicateClient, guardRedis, type Logger, type RedisClient, watchConnection } from '@ballast/core';

interface Channel {
  listeners: Set<() => void>;
  subscribed: Promise<void>;
  linger: NodeJS.Timeout | undefined;
}

/**
 * Wake-up channels of the primitives' Redis backends on one subscriber connection (made with
 * `redis.duplicate()` on first use unless given): one SUBSCRIBE per channel while anyone listens, kept
 * `lingerMs` after the last listener left. A failed SUBSCRIBE is logged and `subscribed` still resolves:
 * waiters fall back to their safety-net re-check, so a lost message never hangs them.
 */
export class ChannelHub {
  readonly #redis: RedisClient;
  readonly #log: Logger;
  readonly #lingerMs: number;
  readonly #what: string;
  readonly #commandTimeoutMs: number | undefined;
  #sub: RedisClient | undefined;
  readonly #ownsSub: boolean;
  readonly #channels = new Map<string, Channel>();

  constructor(o: {
    redis: RedisClient;
    subscriber?: RedisClient | undefined;
    logger: Logger;
    lingerMs?: number | undefined;
    what: string;
    commandTimeoutMs?: number | undefined;
  }) {
    this.#redis = o.redis;
    this.#log = o.logger;
    this.#lingerMs = o.lingerMs ?? 30_000;
    this.#what = o.what;
    this.#commandTimeoutMs = o.commandTimeoutMs;
    this.#ownsSub = o.subscriber === undefined;
    if (o.subscriber) this.#sub = this.#wire(guardRedis(o.subscriber, { commandTimeoutMs: o.commandTimeoutMs }));
  }

  listen(channel: string, listener: () => void): { off: () => void; ready: Promise<void> } {
    let c = this.#channels.get(channel);
    if (!c) {
      const sub = this.#subscriber();
      c = {
        listeners: new Set(),
        subscribed: sub.subscribe(channel).then(
          () => {},
          (error: unknown) => this.#log.warn({ err: error }, 'subscribe failed'),
        ),
        linger: undefined,
      };
      this.#channels.set(channel, c);
    }
    const entry = c;
    if (entry.linger) clearTimeout(entry.linger);
    entry.linger = undefined;
    entry.listeners.add(listener);
    let off = false;
    return {
      ready: entry.subscribed,
      off: () => {
        if (off) return;
        off = true;
        entry.listeners.delete(listener);
        if (entry.listeners.size > 0 || entry.linger) return;
        entry.linger = setTimeout(() => {
          if (entry.listeners.size > 0) return;
          this.#channels.delete(channel);
          this.#sub?.unsubscribe(channel).catch(() => {});
        }, this.#lingerMs);
        entry.linger.unref();
      },
    };
  }

  #subscriber(): RedisClient {
    if (!this.#sub) {
      const sub = guardRedis(duplicateClient(this.#redis, 'subscriber'), { commandTimeoutMs: this.#commandTimeoutMs });
      // ioredis reconnects on its own; without a listener an 'error' event would be printed as unhandled.
      watchConnection(sub, { logger: this.#log, backend: 'redis', connection: `${this.#what} subscriber` });
      this.#sub = this.#wire(sub);
    }
    return this.#sub;
  }

  #wire(sub: RedisClient): RedisClient {
    sub.on('message', (channel: string) => {
      for (const listener of this.#channels.get(channel)?.listeners ?? []) {
        try {
          listener();
        } catch (error) {
          this.#log.warn({ err: error, channel }, 'a wake-up listener threw');
        }
      }
    });
    return sub;
  }

  close(): void {
    for (const c of this.#channels.values()) if (c.linger) clearTimeout(c.linger);
    this.#channels.clear();
    if (this.#sub && this.#ownsSub) this.#sub.disconnect();
  }
}
