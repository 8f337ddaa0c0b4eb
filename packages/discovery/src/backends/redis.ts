import {
  type Clock,
  childLogger,
  defineScript,
  duplicateClient,
  guardRedis,
  type Logger,
  type RedisClient,
  runScript,
  systemClock,
  watchConnection,
} from '@ballast/core';
import type {
  DiscoveryBackend,
  InstanceStatus,
  QueryOptions,
  QueryResult,
  RegistrationSpec,
  ServiceInstance,
} from '../backend';
import { instanceUrl } from '../backend';
import { RegistrationLostError } from '../errors';
import { changesChannel, serviceKeys } from '../keys';
import deregisterSource from '../lua/deregister.lua';
import heartbeatSource from '../lua/heartbeat.lua';
import querySource from '../lua/query.lua';
import registerSource from '../lua/register.lua';

const REGISTER = defineScript('discovery:register', registerSource);
const HEARTBEAT = defineScript('discovery:heartbeat', heartbeatSource);
const DEREGISTER = defineScript('discovery:deregister', deregisterSource);
const QUERY = defineScript('discovery:query', querySource);

/** An untouched instances hash expires after a day (nothing heartbeats it any more). */
const HASH_EXPIRY_MS = 86_400_000;

export interface RedisBackendOptions {
  redis: RedisClient;
  /** Connection for SUBSCRIBE; default `redis.duplicate()`, created on the first blocking query. */
  subscriber?: RedisClient;
  prefix?: string;
  /** While a blocking query waits, re-read this often so TTL expiry (which no one announces) is seen. */
  sweepIntervalMs?: number;
  clock?: Clock;
  /** Each command's bound (core's `guardRedis`): past it, `BackendUnavailableError`. Default 5 s. */
  commandTimeoutMs?: number;
  /** Where the subscriber connection it creates reports losing and regaining Redis. */
  logger?: Logger;
}

interface Record_ {
  id: string;
  name: string;
  address: string;
  port: number;
  tags: string[] | Record<string, never>;
  meta: Record<string, string>;
  eff: InstanceStatus;
}

/**
 * Registrations as Redis hash fields with heartbeat timestamps (a TTL instance not heartbeated in time is
 * critical, then removed after `deregisterCriticalAfterMs`), a per-service index, and pub/sub wake-ups for
 * blocking queries. For teams without Consul.
 */
export class RedisBackend implements DiscoveryBackend {
  readonly kind = 'redis' as const;
  readonly runsHttpChecks = false;
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #channel: string;
  readonly #sweepMs: number;
  readonly #clock: Clock;
  readonly #ownsSub: boolean;
  #sub: RedisClient | undefined;
  readonly #log: Logger | undefined;
  #subscribed: Promise<unknown> | undefined;
  readonly #listeners = new Map<string, Set<() => void>>();
  /** Where each registration lives, so heartbeat/deregister by id know the service. */
  readonly #names = new Map<string, string>();

  constructor(options: RedisBackendOptions) {
    this.#redis = guardRedis(options.redis, { commandTimeoutMs: options.commandTimeoutMs });
    this.#log = options.logger;
    this.#prefix = options.prefix ?? 'ballast';
    this.#channel = changesChannel(this.#prefix);
    this.#sweepMs = options.sweepIntervalMs ?? 1_000;
    this.#clock = options.clock ?? systemClock;
    this.#sub = options.subscriber;
    this.#ownsSub = options.subscriber === undefined;
  }

  #keys(name: string) {
    const k = serviceKeys(this.#prefix, name);
    return [k.instances, k.index];
  }

  async register(spec: RegistrationSpec): Promise<void> {
    const c = spec.check;
    const rec = {
      id: spec.id,
      name: spec.name,
      address: spec.address,
      port: spec.port,
      tags: [...spec.tags],
      meta: { ...spec.meta },
      ttl: c && 'ttlMs' in c ? c.ttlMs : 0,
      dereg: c?.deregisterCriticalAfterMs ?? 0,
      status: spec.status ?? (c ? 'critical' : 'passing'),
    };
    const previous = this.#names.get(spec.id);
    if (previous && previous !== spec.name) await this.deregister(spec.id);
    this.#names.set(spec.id, spec.name);
    await runScript(this.#redis, REGISTER, this.#keys(spec.name), [
      spec.id,
      JSON.stringify(rec),
      this.#channel,
      spec.name,
      HASH_EXPIRY_MS,
    ]);
  }

  async deregister(id: string): Promise<void> {
    const name = this.#names.get(id);
    if (name === undefined) return;
    await runScript(this.#redis, DEREGISTER, this.#keys(name), [id, this.#channel, name]);
    this.#names.delete(id);
  }

  async heartbeat(id: string, status: InstanceStatus): Promise<void> {
    const name = this.#names.get(id);
    if (name === undefined) throw new RegistrationLostError(id);
    const r = await runScript<number>(this.#redis, HEARTBEAT, this.#keys(name), [
      id,
      status,
      this.#channel,
      name,
      HASH_EXPIRY_MS,
    ]);
    if (r === -1) throw new RegistrationLostError(id);
  }

  async isRegistered(id: string): Promise<boolean> {
    const name = this.#names.get(id);
    if (name === undefined) return false;
    return (await this.#redis.hexists(serviceKeys(this.#prefix, name).instances, id)) === 1;
  }

  async #read(name: string, tag?: string): Promise<QueryResult> {
    const [index, raws] = await runScript<[number, string[]]>(this.#redis, QUERY, this.#keys(name), [
      this.#channel,
      name,
    ]);
    const instances: ServiceInstance[] = [];
    for (const raw of raws) {
      const r = JSON.parse(raw) as Record_;
      const tags = Array.isArray(r.tags) ? r.tags : []; // cjson encodes an empty array as {}
      if (tag && !tags.includes(tag)) continue;
      instances.push({
        id: r.id,
        name: r.name,
        address: r.address,
        port: r.port,
        tags,
        meta: r.meta ?? {},
        status: r.eff,
        url: instanceUrl(r.address, r.port),
      });
    }
    instances.sort((a, b) => (a.id < b.id ? -1 : 1));
    // One above the counter: a service nobody registered yet (no counter: 0) is at 1, and its first registration
    // (counter 1) at 2 — a blocking query at 1 returns then. (A missing counter used to read as 1, the value the
    // first registration gives it: a query made on the empty service waited its whole waitMs.)
    return { index: Number(index) + 1, instances };
  }

  async #ensureSubscribed(): Promise<void> {
    if (!this.#subscribed) {
      if (!this.#sub) {
        this.#sub = duplicateClient(this.#redis, 'subscriber');
        // Ours: without a listener its 'error' events (Redis down) would be unhandled.
        const logger = this.#log ?? childLogger(undefined, { component: 'discovery' });
        watchConnection(this.#sub, { logger, backend: 'redis', connection: 'discovery subscriber' });
      }
      const sub = this.#sub;
      sub.on('message', (channel: string, message: string) => {
        if (channel !== this.#channel) return;
        for (const l of [...(this.#listeners.get(message) ?? [])]) l();
      });
      this.#subscribed = sub.subscribe(this.#channel);
    }
    await this.#subscribed;
  }

  async query(name: string, options: QueryOptions = {}): Promise<QueryResult> {
    const min = options.index ?? 0;
    if (min > 0) await this.#ensureSubscribed(); // subscribe before reading: no lost wake-up
    let result = await this.#read(name, options.tag);
    if (min <= 0 || result.index > min) return result;
    const deadline = this.#clock.monotonic() + (options.waitMs ?? 300_000);
    while (result.index <= min && !options.signal?.aborted) {
      const left = deadline - this.#clock.monotonic();
      if (left <= 0) break;
      await this.#waitChange(name, Math.min(left, this.#sweepMs), options.signal);
      result = await this.#read(name, options.tag);
    }
    return result;
  }

  #waitChange(name: string, ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      let listeners = this.#listeners.get(name);
      if (!listeners) {
        listeners = new Set();
        this.#listeners.set(name, listeners);
      }
      const done = () => {
        listeners?.delete(done);
        if (listeners?.size === 0) this.#listeners.delete(name);
        this.#clock.clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      listeners.add(done);
      const timer = this.#clock.setTimeout(done, ms);
      timer.unref();
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  async close(): Promise<void> {
    for (const set of this.#listeners.values()) for (const l of [...set]) l();
    if (this.#sub && this.#ownsSub) this.#sub.disconnect();
  }
}
