import { randomUUID } from 'node:crypto';
import {
  boundBackendCall,
  createKeyBuilder,
  DEFAULT_COMMAND_TIMEOUT_MS,
  duplicateClient,
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
  /**
   * Deprecated: a wall-clock instant on the sender's clock. Receivers use `ttlMs`; this is read only from
   * messages of older versions.
   */
  untilMs?: number;
  /**
   * How long it stays open from now (open only): the sender's reset timeout when published, the shared key's
   * PTTL (Redis' own clock) when read back. A duration, so no two processes' wall clocks are compared.
   */
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
  /**
   * Calls `listener` whenever the link is back after an outage: messages may have been lost, so each breaker
   * re-reads `current()`. Returns the unsubscribe function.
   */
  onResync?(listener: () => void): () => void;
  /**
   * Asks for the fleet's half-open probe lease: resolves 0 when this instance holds it (it probes), else the
   * ms left on another instance's lease (stay open meanwhile).
   */
  acquireProbe?: ((breaker: string) => Promise<number>) | undefined;
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
  /**
   * How long one instance holds the half-open probe lease (ms): only the holder probes, the others stay open
   * until it reports (a close, or a new open) or the lease lapses. Default 5 000; `false` lets every instance
   * probe (the behaviour before leases).
   */
  probeLeaseMs?: number | false;
}

/** A promise and its resolve (Node 20 has no Promise.withResolvers). */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

const isClient = (v: unknown) =>
  typeof v === 'object' && v !== null && typeof (v as { duplicate?: unknown }).duplicate === 'function';
const fleetSchema = z
  .object({
    redis: z.custom<RedisClient>(isClient, { message: 'expected redis to be an ioredis client' }),
    subscriber: z.custom<RedisClient>(isClient, { message: 'expected subscriber to be an ioredis client' }).optional(),
    prefix: z.string().min(1).optional(),
    logger: loggerSchema().optional(),
    probeLeaseMs: z.union([z.number().int().positive(), z.literal(false)]).optional(),
  })
  .strict();

/** The shared key and its PTTL in one round trip (both on Redis' clock). */
const CURRENT_SCRIPT = `local v = redis.call('GET', KEYS[1])
if not v then return nil end
return {v, redis.call('PTTL', KEYS[1])}`;
/** 0 when the probe lease is now ours, else the holder's time left (PTTL). */
const LEASE_SCRIPT = `if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return 0 end
return redis.call('PTTL', KEYS[1])`;

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
  /** Settles once a SUBSCRIBE succeeded (the first attempt or a later one). */
  readonly #inPlace = deferred();
  #closed = false;
  #closing: Promise<void> | undefined;
  /** The owned subscriber's connection is down and that was logged: stay quiet until it is ready again. */
  #outage = false;
  readonly #resync = new Set<() => void>();
  /** The subscriber has been ready once: a later `ready` is a reconnect. */
  #wasReady = false;
  readonly #leaseMs: number | false;
  /** `acquireProbe`, only when leases are on (a breaker checks for the method). */
  readonly acquireProbe: ((breaker: string) => Promise<number>) | undefined;

  constructor(input: RedisFleetOptions) {
    const options = parseOptions(fleetSchema, input, 'redisFleet') as RedisFleetOptions;
    // Bounded and typed (core's guardRedis, default command timeout): a lookup never waits for ioredis' retries.
    this.#redis = guardRedis(options.redis);
    this.#ownsSub = options.subscriber === undefined;
    this.#sub = options.subscriber ?? duplicateClient(options.redis, 'subscriber');
    this.#prefix = options.prefix ?? 'ballast';
    this.#channel = prefixKey(this.#prefix, 'breaker:fleet');
    this.#log = componentLogger(options.logger, { component: 'circuit-breaker-fleet' });
    this.#leaseMs = options.probeLeaseMs ?? 5_000;
    this.acquireProbe = this.#leaseMs === false ? undefined : (breaker) => this.#acquireProbe(breaker);
    // On every reconnect (owned or given subscriber): messages may have been missed while it was down.
    this.#sub.on('ready', () => {
      if (this.#wasReady && !this.#closed) for (const listener of [...this.#resync]) listener();
      this.#wasReady = true;
      if (!this.#subscribed && this.#listeners.size > 0 && !this.#closed) this.#subscribe();
    });
    // A subscriber already connected when handed over counts as ready once.
    if ((this.#sub as { status?: string }).status === 'ready') this.#wasReady = true;
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

  #key(breaker: string, what = 'open'): string {
    return createKeyBuilder({ prefix: this.#prefix, scope: 'breaker', tag: breaker }).key(what);
  }

  onResync(listener: () => void): () => void {
    this.#resync.add(listener);
    return () => void this.#resync.delete(listener);
  }

  async #acquireProbe(breaker: string): Promise<number> {
    const key = this.#key(breaker, 'probe');
    const ms = this.#leaseMs as number;
    const left = Number(await this.#redis.eval(LEASE_SCRIPT, 1, key, this.origin, ms));
    // 0: ours. Otherwise the holder's time left; gone meanwhile (-2): try again after a short while.
    return left === 0 ? 0 : left > 0 ? left : Math.min(ms, 100);
  }

  publish(message: FleetMessage): void {
    const envelope: Envelope = { ...message, origin: this.origin };
    const text = JSON.stringify(envelope);
    const key = this.#key(message.breaker);
    // The TTL comes from the sender (its clock, its reset timeout), not from this process's wall clock: a
    // breaker on a test clock (or a skewed one) would otherwise set a TTL of minus months. A message without
    // one (hand-made) falls back to its wall-clock `untilMs`.
    const ttlMs = message.ttlMs ?? (message.untilMs ?? 0) - Date.now();
    // Any report (a probe's close, or its failure's new open) ends the probe lease — before it is announced.
    const write =
      message.state === 'open'
        ? this.#redis.set(key, text, 'PX', Math.max(1, Math.round(ttlMs)))
        : this.#redis.del(key);
    const released =
      this.#leaseMs === false ? write : write.then(() => this.#redis.del(this.#key(message.breaker, 'probe')));
    released
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
    if (!this.#subscribed) this.#subscribe();
    return () => {
      set.delete(listener);
    };
  }

  #subscribe(): void {
    const attempt = this.#sub.subscribe(this.#channel).then(
      () => this.#inPlace.resolve(),
      (error: unknown) => {
        // close() tears the subscriber down, possibly with its SUBSCRIBE still in flight: not a fault.
        if (this.#closed) return;
        this.#log.warn({ err: error }, 'fleet subscribe failed; tried again when the connection is ready');
        // Not in place: the subscriber's next 'ready' tries again (ioredis re-subscribes only what succeeded).
        if (this.#subscribed === attempt) this.#subscribed = undefined;
      },
    );
    this.#subscribed ??= attempt;
  }

  /**
   * Resolves once the SUBSCRIBE is in place (tests, and apps that want to be sure before serving); rejects with
   * `BackendUnavailableError` past `timeoutMs` (default core's command timeout) — Redis down, the SUBSCRIBE still
   * queued: it takes effect once the connection is back.
   */
  async ready(timeoutMs = DEFAULT_COMMAND_TIMEOUT_MS): Promise<void> {
    if (!this.#subscribed && this.#listeners.size === 0) return; // no breaker listens: nothing to subscribe
    if (this.#closed) return; // (a SUBSCRIBE queued while reconnecting may never settle after the teardown)
    await boundBackendCall(this.#inPlace.promise, { backend: 'redis', operation: 'subscribe', timeoutMs });
  }

  /** The shared key, its `ttlMs` being the key's PTTL now: the time left as Redis measures it. */
  async current(breaker: string): Promise<FleetMessage | undefined> {
    const key = this.#key(breaker);
    const reply = (await this.#redis.eval(CURRENT_SCRIPT, 1, key)) as [string, number] | null;
    const text = reply?.[0];
    const pttl = Number(reply?.[1] ?? 0);
    const m = text ? this.#parse(text) : undefined;
    if (m?.state !== 'open') return m;
    if (pttl <= 0) return undefined;
    const { origin: _origin, untilMs: _until, ...message } = m;
    return { ...message, ttlMs: pttl };
  }

  /** Stops listening: the owned subscriber disconnects, a given one unsubscribes. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      this.#listeners.clear();
      this.#resync.clear();
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
