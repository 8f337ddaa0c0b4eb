import { randomUUID } from 'node:crypto';
import {
  createKeyBuilder,
  guardRedis,
  type Logger,
  loggerSchema,
  parseOptions,
  prefixKey,
  type RedisClient,
} from '@ballast/core';
import { z } from 'zod';
import { asyncDispose } from './closing';
import { componentLogger } from './log';

/** What one instance tells the others about a breaker. */
export interface FleetMessage {
  breaker: string;
  state: 'open' | 'closed';
  /** Wall-clock ms (on the sender's clock) until which the breaker stays open (open only). */
  untilMs?: number;
  /** How long it stays open from now (open only): the TTL of the shared key. */
  ttlMs?: number;
}

/**
 * How breakers of the same name in several processes share OPEN. The breaker calls `publish` on its own
 * transitions only — never on the call path — and applies what `subscribe` delivers.
 */
export interface FleetLink {
  publish(message: FleetMessage): void;
  subscribe(breaker: string, listener: (message: FleetMessage) => void): () => void;
  /** The fleet-wide state when a breaker starts (another instance may have opened it already). */
  current(breaker: string): Promise<FleetMessage | undefined>;
}

export interface RedisFleetOptions {
  /** Commands (SET/GET/DEL/PUBLISH). */
  redis: RedisClient;
  /**
   * A connection for SUBSCRIBE; default `redis.duplicate()`, which the fleet owns: it logs that
   * connection's errors (once per outage) and disconnects it on `close()`. A given one is the caller's.
   */
  subscriber?: RedisClient;
  prefix?: string;
  logger?: Logger;
}

const isClient = (v: unknown) =>
  typeof v === 'object' && v !== null && typeof (v as { duplicate?: unknown }).duplicate === 'function';
const fleetSchema = z
  .object({
    redis: z.custom<RedisClient>(isClient, { message: 'expected redis to be an ioredis client' }),
    subscriber: z.custom<RedisClient>(isClient, { message: 'expected subscriber to be an ioredis client' }).optional(),
    prefix: z.string().min(1).optional(),
    logger: loggerSchema().optional(),
  })
  .strict();

interface Envelope extends FleetMessage {
  origin: string;
}

/**
 * Fleet-shared breaker state on Redis: an instance that opens sets `…:breaker:{name}:open` with a TTL of its
 * reset timeout (so late starters see it) and publishes on one channel; the others open too until that time,
 * then each probes for itself. A close is published so open instances probe early. Redis being down only
 * loses the sharing: each breaker still works on its own.
 */
export class RedisFleet implements FleetLink {
  readonly origin = randomUUID();
  readonly #redis: RedisClient;
  readonly #sub: RedisClient;
  readonly #ownsSub: boolean;
  readonly #prefix: string;
  readonly #channel: string;
  readonly #log: Logger;
  readonly #listeners = new Map<string, Set<(m: FleetMessage) => void>>();
  #subscribed: Promise<unknown> | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  /** The owned subscriber's connection is down and that was logged: stay quiet until it is ready again. */
  #outage = false;

  constructor(input: RedisFleetOptions) {
    const options = parseOptions(fleetSchema, input, 'redisFleet') as RedisFleetOptions;
    // Bounded and typed (core's guardRedis, default command timeout): a lookup never waits for ioredis' retries.
    this.#redis = guardRedis(options.redis);
    this.#ownsSub = options.subscriber === undefined;
    this.#sub = options.subscriber ?? options.redis.duplicate();
    this.#prefix = options.prefix ?? 'ballast';
    this.#channel = prefixKey(this.#prefix, 'breaker:fleet');
    this.#log = componentLogger(options.logger, { component: 'circuit-breaker-fleet' });
    this.#sub.on('message', (channel: string, text: string) => {
      if (channel === this.#channel) this.#deliver(text);
    });
    if (this.#ownsSub) {
      // Without a listener, ioredis prints "Unhandled error event" for every reconnect attempt.
      this.#sub.on('error', (error: unknown) => {
        if (this.#outage || this.#closed) return;
        this.#outage = true;
        this.#log.warn({ err: error }, 'fleet subscriber connection failed: OPEN is not shared until it is back');
      });
      this.#sub.on('ready', () => {
        if (this.#outage) this.#log.info('fleet subscriber connection is back');
        this.#outage = false;
      });
    }
  }

  #key(breaker: string): string {
    return createKeyBuilder({ prefix: this.#prefix, scope: 'breaker', tag: breaker }).key('open');
  }

  publish(message: FleetMessage): void {
    const envelope: Envelope = { ...message, origin: this.origin };
    const text = JSON.stringify(envelope);
    const key = this.#key(message.breaker);
    // The TTL comes from the sender (its clock, its reset timeout), not from this process's wall clock: a
    // breaker on a test clock (or a skewed one) would otherwise set a TTL of minus months. A message without
    // one (hand-made) falls back to its wall-clock `untilMs`.
    const ttlMs = message.ttlMs ?? (message.untilMs ?? 0) - Date.now();
    const write =
      message.state === 'open'
        ? this.#redis.set(key, text, 'PX', Math.max(1, Math.round(ttlMs)))
        : this.#redis.del(key);
    write
      .then(() => this.#redis.publish(this.#channel, text))
      .catch((error: unknown) => this.#log.warn({ err: error, breaker: message.breaker }, 'fleet publish failed'));
  }

  subscribe(breaker: string, listener: (message: FleetMessage) => void): () => void {
    let set = this.#listeners.get(breaker);
    if (!set) {
      set = new Set();
      this.#listeners.set(breaker, set);
    }
    set.add(listener);
    this.#subscribed ??= this.#sub.subscribe(this.#channel).catch((error: unknown) => {
      // close() tears the subscriber down, possibly with its SUBSCRIBE still in flight: not a fault.
      if (!this.#closed) this.#log.warn({ err: error }, 'fleet subscribe failed');
    });
    return () => {
      set.delete(listener);
    };
  }

  /** Resolves once the SUBSCRIBE is in place (tests, and apps that want to be sure before serving). */
  async ready(): Promise<void> {
    await this.#subscribed;
  }

  async current(breaker: string): Promise<FleetMessage | undefined> {
    const text = await this.#redis.get(this.#key(breaker));
    return text ? this.#parse(text) : undefined;
  }

  /** Stops listening: the owned subscriber disconnects, a given one unsubscribes. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      this.#listeners.clear();
      if (this.#ownsSub) this.#sub.disconnect();
      else await this.#sub.unsubscribe(this.#channel);
    })();
    return this.#closing;
  }

  /** Alias of `close()`. */
  dispose(): Promise<void> {
    return this.close();
  }

  [asyncDispose](): Promise<void> {
    return this.close();
  }

  #parse(text: string): Envelope | undefined {
    try {
      const m = JSON.parse(text) as Envelope;
      return typeof m?.breaker === 'string' && (m.state === 'open' || m.state === 'closed') ? m : undefined;
    } catch {
      return undefined;
    }
  }

  #deliver(text: string): void {
    const m = this.#parse(text);
    if (!m) {
      this.#log.warn({ text: text.slice(0, 200) }, 'ignored a malformed fleet message');
      return;
    }
    if (m.origin === this.origin) return;
    for (const listener of this.#listeners.get(m.breaker) ?? []) listener(m);
  }
}

export function redisFleet(options: RedisFleetOptions): RedisFleet {
  return new RedisFleet(options);
}
