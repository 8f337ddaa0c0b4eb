import {
  type Clock,
  childLogger,
  InvalidOptionsError,
  type Logger,
  parseOptions,
  resolveConsulEndpoint,
  systemClock,
} from '@ballast/core';
import type { DiscoveryBackend, ServiceInstance } from './backend';
import { ConsulBackend } from './backends/consul';
import { MemoryBackend } from './backends/memory';
import { RedisBackend } from './backends/redis';
import { ServiceUnavailableError } from './errors';
import { discoveryInstruments } from './metrics';
import {
  type DiscoveryOptions,
  discoveryOptionsSchema,
  type RegisterOptions,
  type ResolvedDiscoveryOptions,
} from './options';
import { type Outcome, OutlierDetector } from './outliers';
import { Picker, type PickStrategy, routable } from './pickers';
import { type Registration, registerService } from './registry';
import { acquireWatch, type BackendLease, leaseConsulBackend, leaseRedisBackend, type WatchHandle } from './shared';
import { ServiceWatch, type WatchSnapshot } from './watch';

/** Where a lookup's answer came from. */
export type LookupSource = 'registry' | 'static' | 'env';

export interface LookupResult {
  /** Every instance known (any status) — `pick` uses it for the panic threshold. */
  readonly all: readonly ServiceInstance[];
  /** The passing ones. */
  readonly instances: readonly ServiceInstance[];
  readonly source: LookupSource;
  /** Served from the fresh cache without touching the registry. */
  readonly cached: boolean;
  /** A registry result older than its TTL, served because the registry is failing (stale-if-error). */
  readonly stale: boolean;
  /** Age of the data in ms. */
  readonly ageMs: number;
}

export interface LookupOptions {
  tag?: string;
  /**
   * Consul's filter expression over the health entries (`?filter=`), e.g. `Service.Meta.version == "2"`; a
   * lookup with a filter has a watch of its own. Consul only.
   */
  filter?: string;
}

/** The watch key of a lookup: name, tag and filter. */
const lookupKey = (name: string, o: LookupOptions) =>
  `${name}${o.tag ? `\u0000${o.tag}` : ''}${o.filter === undefined ? '' : `\u0001${o.filter}`}`;
/** `name`, `name#tag`, `name?filter=…`, as diagnostics and the gauge show a watch. */
const displayKey = (key: string) => key.replace('\u0000', '#').replace('\u0001', '?filter=');

const consulScope = (c: NonNullable<ResolvedDiscoveryOptions['consul']>) => ({
  consistency: c.consistency,
  maxStaleMs: c.maxStaleMs,
  ...(c.dc === undefined ? {} : { dc: c.dc }),
  ...(c.ns === undefined ? {} : { ns: c.ns }),
});

interface Use {
  handle: WatchHandle;
  lastUsed: number;
  subscribers: number;
}

interface CacheEntry {
  all: readonly ServiceInstance[];
  passing: readonly ServiceInstance[];
  source: LookupSource;
  at: number;
  ttlMs: number;
}

/** Upper-cased, non-alphanumerics → `_`, plus `_SERVICE_URL`: `user` → `USER_SERVICE_URL` (seed 003). */
export const defaultEnvVar = (service: string) => `${service.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_SERVICE_URL`;

function fromUrls(service: string, urls: readonly string[]): ServiceInstance[] {
  return urls.map((raw) => {
    const u = new URL(raw);
    const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
    return {
      id: raw,
      name: service,
      address: u.hostname,
      port,
      tags: [],
      meta: {},
      status: 'passing' as const,
      url: raw.replace(/\/+$/, ''),
    };
  });
}

/**
 * Service discovery with a registry (Consul, Redis or memory), one shared blocking watch per service, a
 * TTL cache, pickers and the fallback chain fresh cache → registry → stale-if-error → static → env.
 */
export class Discovery {
  readonly backend: DiscoveryBackend;
  readonly #o: ResolvedDiscoveryOptions;
  readonly #clock: Clock;
  readonly #log: Logger | undefined;
  readonly #cache = new Map<string, CacheEntry>();
  /** This Discovery's use of the (process-wide, shared) watches. */
  readonly #watches = new Map<string, Use>();
  readonly #pickers = new Map<string, Picker>();
  readonly #outstandingCounts = new Map<string, Map<string, number>>();
  readonly #detectors = new Map<string, OutlierDetector>();
  readonly #registrations = new Set<Registration>();
  readonly #envVar: (s: string) => string;
  readonly #env: Record<string, string | undefined>;
  readonly #instruments = discoveryInstruments();
  readonly #stopObserving: () => void;
  readonly #lease: BackendLease | undefined;
  #idleSweep: ReturnType<Clock['setInterval']> | undefined;
  #closed = false;

  constructor(options: DiscoveryOptions = {}) {
    const o = parseOptions(discoveryOptionsSchema, options, 'createDiscovery');
    this.#o = o;
    this.#clock = o.clock ?? systemClock;
    this.#log = o.logger ? childLogger(o.logger, { component: 'discovery' }) : undefined;
    this.#envVar = o.envVar ?? defaultEnvVar;
    this.#env = o.env ?? process.env;
    const redis = o.redis;
    if (o.backend) this.backend = o.backend;
    else if (redis) {
      const clock = this.#clock;
      const make = () =>
        new RedisBackend({
          redis,
          prefix: o.prefix,
          clock,
          commandTimeoutMs: o.commandTimeoutMs,
          ...(this.#log ? { logger: this.#log } : {}),
        });
      this.#lease = leaseRedisBackend(redis, o.prefix, make);
      this.backend = this.#lease.backend;
    } else if (o.consul?.client)
      this.backend = new ConsulBackend({ client: o.consul.client, ...consulScope(o.consul) });
    else if (o.consul) {
      const endpoint = resolveConsulEndpoint({
        ...(o.consul.url === undefined ? {} : { address: o.consul.url }),
        addressOption: 'consul.url',
        ...(o.consul.token === undefined ? {} : { token: o.consul.token }),
        env: this.#env,
      });
      this.#lease = leaseConsulBackend(endpoint, o.consul.timeoutMs, consulScope(o.consul));
      this.backend = this.#lease.backend;
    } else this.backend = new MemoryBackend({ clock: this.#clock });
    this.#stopObserving = this.#instruments.observe(this);
  }

  // ------------------------------------------------------------------ registration

  /** Registers an instance (see `RegisterOptions`); deregistered by `close()` or graceful shutdown. */
  async register(options: RegisterOptions): Promise<Registration> {
    const reg = await registerService(this.backend, options, {
      clock: this.#clock,
      logger: this.#log,
      onReregister: (name) => this.#instruments.reregistrations.add(1, { service: name }),
      onClose: (r) => this.#registrations.delete(r),
    });
    this.#registrations.add(reg);
    return reg;
  }

  // ------------------------------------------------------------------ lookups

  /** Passing instances of `name` through the fallback chain; throws `ServiceUnavailableError` when none. */
  async discover(name: string, options: LookupOptions = {}): Promise<readonly ServiceInstance[]> {
    return (await this.lookup(name, options)).instances;
  }

  /** Like `discover`, with where the answer came from and how old it is. */
  lookup(name: string, options: LookupOptions = {}): Promise<LookupResult> {
    if (options.filter !== undefined && this.backend.kind !== 'consul') {
      return Promise.reject(
        new InvalidOptionsError('discover', [
          {
            path: 'filter',
            expected: `a Consul registry (this one is ${this.backend.kind})`,
            received: options.filter,
            message: 'filter needs Consul',
          },
        ]),
      );
    }
    const key = lookupKey(name, options);
    const now = this.#clock.now();
    const use = this.#watches.get(key);
    if (use) use.lastUsed = now;
    const watch = use?.handle.watch;
    const e = this.#cache.get(key);
    if (e && e.passing.length > 0) {
      const age = now - e.at;
      const fresh =
        e.source === 'registry' ? age < e.ttlMs || (watch?.healthy === true && !watch.stopped) : age < e.ttlMs;
      if (fresh) {
        this.#instruments.cacheHits.add(1, { service: name });
        return Promise.resolve({
          all: e.all,
          instances: e.passing,
          source: e.source,
          cached: true,
          stale: false,
          ageMs: age,
        });
      }
    }
    this.#instruments.cacheMisses.add(1, { service: name });
    return this.#miss(name, key, options);
  }

  async #miss(name: string, key: string, lookup: LookupOptions): Promise<LookupResult> {
    this.#assertOpen();
    const tried: string[] = [];
    let registryError: unknown;
    const watch = this.#ensureWatch(name, key, lookup).handle.watch;
    let snapshot: WatchSnapshot | undefined;
    if (watch.healthy) snapshot = watch.snapshot;
    else if (watch.lastError !== undefined) registryError = watch.lastError;
    else {
      try {
        snapshot = await watch.first; // cold miss: every caller shares the watch's first request
      } catch (err) {
        registryError = err;
      }
    }
    if (snapshot) {
      const passing = snapshot.instances.filter((i) => i.status === 'passing');
      if (passing.length > 0) {
        return {
          all: snapshot.instances,
          instances: passing,
          source: 'registry',
          cached: false,
          stale: false,
          ageMs: this.#clock.now() - snapshot.at,
        };
      }
      tried.push(`${this.backend.kind}: no passing instances`);
    } else {
      tried.push(`${this.backend.kind}: ${(registryError as Error)?.message ?? String(registryError)}`);
      const e = this.#cache.get(key);
      const ageMs = e ? this.#clock.now() - e.at : 0;
      if (e && e.source === 'registry' && e.passing.length > 0 && ageMs <= this.#o.maxStaleMs) {
        this.#instruments.fallbacks.add(1, { service: name, source: 'stale' });
        this.#log?.warn({ service: name, ageMs, err: registryError }, 'registry failing; serving stale instances');
        return { all: e.all, instances: e.passing, source: 'registry', cached: true, stale: true, ageMs };
      }
      if (e?.source === 'registry')
        tried.push(e.passing.length > 0 ? `stale cache: ${ageMs} ms old, over maxStaleMs` : 'stale cache: empty');
      else tried.push('stale cache: none');
    }
    const fixed = this.#o.static[name];
    if (fixed !== undefined) return this.#fallback(name, key, 'static', typeof fixed === 'string' ? [fixed] : fixed);
    tried.push('static: none');
    const envName = this.#envVar(name);
    const envValue = this.#env[envName];
    if (envValue) {
      const urls = envValue
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      try {
        return this.#fallback(name, key, 'env', urls);
      } catch {
        tried.push(`env ${envName}: not a URL list`);
      }
    } else tried.push(`env ${envName}: unset`);
    this.#instruments.unavailable.add(1, { service: name });
    throw new ServiceUnavailableError(name, tried, registryError === undefined ? undefined : { cause: registryError });
  }

  #fallback(name: string, key: string, source: 'static' | 'env', urls: readonly string[]): LookupResult {
    const instances = fromUrls(name, urls);
    this.#cache.set(key, {
      all: instances,
      passing: instances,
      source,
      at: this.#clock.now(),
      ttlMs: this.#o.staticTtlMs,
    });
    this.#instruments.fallbacks.add(1, { service: name, source });
    return { all: instances, instances, source, cached: false, stale: false, ageMs: 0 };
  }

  #ensureWatch(name: string, key: string, lookup: LookupOptions): Use {
    const existing = this.#watches.get(key);
    if (existing && !existing.handle.watch.stopped) return existing;
    existing?.handle.release();
    const onSnapshot = (s: WatchSnapshot) => {
      const passing = s.instances.filter((i) => i.status === 'passing');
      const current = this.#cache.get(key);
      // A registry answer with no passing instance does not evict a fresh static/env fallback.
      if (passing.length > 0 || !current || current.source === 'registry') {
        this.#cache.set(key, { all: s.instances, passing, source: 'registry', at: s.at, ttlMs: this.#o.cacheTtlMs });
      }
      for (const l of [...(this.#snapshotListeners.get(key) ?? [])]) {
        try {
          l();
        } catch (err) {
          this.#log?.error({ service: name, err }, 'discovery subscriber threw');
        }
      }
    };
    const handle = acquireWatch(
      this.backend,
      key,
      onSnapshot,
      (fanOut) =>
        new ServiceWatch({
          backend: this.backend,
          name,
          tag: lookup.tag,
          filter: lookup.filter,
          waitMs: this.#o.watchWaitMs,
          backoff: this.#o.watchBackoff,
          rateLimit: this.#o.watchRateLimit,
          clock: this.#clock,
          logger: this.#log,
          random: this.#o.random,
          onRequest: () => this.#instruments.watchRequests.add(1, { service: name }),
          onError: () => this.#instruments.watchErrors.add(1, { service: name }),
          onSnapshot: fanOut,
        }),
    );
    const use: Use = { handle, lastUsed: this.#clock.now(), subscribers: 0 };
    this.#watches.set(key, use);
    this.#armIdleSweep();
    return use;
  }

  #armIdleSweep(): void {
    if (this.#idleSweep) return;
    this.#idleSweep = this.#clock.setInterval(
      () => {
        const now = this.#clock.now();
        for (const [key, u] of this.#watches) {
          if (u.subscribers === 0 && now - u.lastUsed >= this.#o.watchIdleMs) {
            this.#watches.delete(key);
            u.handle.release();
          }
        }
      },
      Math.max(1_000, Math.floor(this.#o.watchIdleMs / 2)),
    );
    this.#idleSweep.unref();
  }

  /**
   * Picks one routable instance with `strategy` (default the option's): passing ones (or all below the panic
   * threshold), minus those outlier detection ejected (unless that would leave none).
   */
  async pick(
    name: string,
    strategy: PickStrategy = this.#o.strategy,
    options: LookupOptions = {},
  ): Promise<ServiceInstance> {
    const r = await this.lookup(name, options);
    const candidates = routable(r.all, this.#o.panicThresholdPercent);
    const detector = this.#detectors.get(name);
    const healthy = detector ? candidates.filter((i) => !detector.isEjected(i.id)) : candidates;
    const chosen = this.#picker(name, options).pick(healthy.length > 0 ? healthy : candidates, strategy);
    if (!chosen) throw new ServiceUnavailableError(name, ['pick: no routable instance']);
    return chosen;
  }

  /**
   * A picked instance counted outstanding until `done(outcome?)`: what an HTTP client takes as `resolve`
   * (`createHttpClient({ resolve: discovery.target })` reports each try's completion and outcome), so
   * `least-outstanding` sees requests in flight and outlier detection sees failures. `done` is idempotent.
   */
  readonly target = async (
    service: string,
    options: LookupOptions & { strategy?: PickStrategy } = {},
  ): Promise<{ url: string; instance: ServiceInstance; done: (outcome?: Outcome) => void }> => {
    const instance = await this.pick(service, options.strategy ?? this.#o.strategy, options);
    const end = this.#outstanding(service, instance.id);
    let finished = false;
    return {
      url: instance.url,
      instance,
      done: (outcome) => {
        if (finished) return;
        finished = true;
        end();
        if (outcome) this.report(service, instance.id, outcome);
      },
    };
  };

  /** Runs `fn` with a picked instance, counting it outstanding meanwhile; a throw is reported as a failure. */
  async withInstance<T>(
    name: string,
    fn: (instance: ServiceInstance) => Promise<T> | T,
    strategy: PickStrategy = 'least-outstanding',
  ): Promise<T> {
    const t = await this.target(name, { strategy });
    try {
      const value = await fn(t.instance);
      t.done({ ok: true });
      return value;
    } catch (err) {
      t.done({ ok: false });
      throw err;
    }
  }

  /** Feeds outlier detection with the outcome of one request to `instanceId` of `service`. */
  report(service: string, instanceId: string, outcome: Outcome): void {
    const settings = this.#o.outlierDetection;
    if (settings === false) return;
    let detector = this.#detectors.get(service);
    if (!detector) {
      detector = new OutlierDetector(settings, this.#clock, (id, forMs, why) => {
        this.#instruments.ejections.add(1, { service });
        this.#log?.warn({ service, instance: id, ejectedForMs: forMs }, `instance ejected from picking: ${why}`);
      });
      this.#detectors.set(service, detector);
    }
    detector.report(instanceId, outcome, this.#population(service));
  }

  /** Instance ids of `service` that outlier detection holds out of `pick` now. */
  ejected(service: string): string[] {
    return this.#detectors.get(service)?.ejected() ?? [];
  }

  /** How many instances `service` has (its largest known answer), for the max-ejection percentage. */
  #population(service: string): number {
    let n = 0;
    for (const [key, e] of this.#cache)
      if (key === service || key.startsWith(`${service}\u0000`) || key.startsWith(`${service}\u0001`))
        n = Math.max(n, e.all.length);
    return n;
  }

  #outstanding(service: string, id: string): () => void {
    let counts = this.#outstandingCounts.get(service);
    if (!counts) {
      counts = new Map();
      this.#outstandingCounts.set(service, counts);
    }
    const map = counts;
    map.set(id, (map.get(id) ?? 0) + 1);
    return () => {
      const left = (map.get(id) ?? 1) - 1;
      if (left <= 0) map.delete(id);
      else map.set(id, left);
    };
  }

  /**
   * `service → base URL`, the shape @ballast/circuit-breaker's HTTP client takes as `resolve`:
   * `createHttpClient({ resolve: discovery.resolve })`. Prefer `target`, which also reports completion.
   */
  readonly resolve = async (service: string): Promise<string> => (await this.pick(service)).url;

  /** The picker of one lookup (its own round-robin cursor); outstanding counts are per service. */
  #picker(name: string, options: LookupOptions = {}): Picker {
    const key = lookupKey(name, options);
    let p = this.#pickers.get(key);
    if (!p) {
      let counts = this.#outstandingCounts.get(name);
      if (!counts) {
        counts = new Map();
        this.#outstandingCounts.set(name, counts);
      }
      p = new Picker(this.#o.random, counts);
      this.#pickers.set(key, p);
    }
    return p;
  }

  /** Keeps the watch of `name` running (and calls `listener` on each change) until the returned function. */
  subscribe(
    name: string,
    listener: (instances: readonly ServiceInstance[]) => void,
    options: LookupOptions = {},
  ): () => void {
    this.#assertOpen();
    const key = lookupKey(name, options);
    const use = this.#ensureWatch(name, key, options);
    const watch = use.handle.watch;
    use.subscribers += 1;
    let lastIndex = -1;
    const poll = () => {
      const s = watch.snapshot;
      if (s && s.index !== lastIndex) {
        lastIndex = s.index;
        listener(s.instances.filter((i) => i.status === 'passing'));
      }
    };
    const unsubscribeSnapshot = this.#onSnapshot(key, poll);
    poll();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      unsubscribeSnapshot();
      use.subscribers -= 1;
      use.lastUsed = this.#clock.now();
    };
  }

  readonly #snapshotListeners = new Map<string, Set<() => void>>();
  #onSnapshot(key: string, fn: () => void): () => void {
    let set = this.#snapshotListeners.get(key);
    if (!set) {
      set = new Set();
      this.#snapshotListeners.set(key, set);
    }
    const listeners = set;
    listeners.add(fn);
    return () => void listeners.delete(fn);
  }

  /** Forgets cached results (and restarts the watch) of one service or all: the gateway's `POST /service-cache/clear`. */
  clearCache(name?: string): void {
    for (const key of [...this.#cache.keys()])
      if (name === undefined || key === name || key.startsWith(`${name}\u0000`) || key.startsWith(`${name}\u0001`))
        this.#cache.delete(key);
    for (const [key, u] of [...this.#watches]) {
      if (name !== undefined && key !== name && !key.startsWith(`${name}\u0000`) && !key.startsWith(`${name}\u0001`))
        continue;
      if (u.subscribers > 0) continue; // a subscriber keeps its watch; its next snapshot refills the cache
      this.#watches.delete(key);
      u.handle.release();
    }
  }

  /** Services with a running watch (tests, diagnostics). */
  watchedServices(): string[] {
    return [...this.#watches.entries()].filter(([, u]) => !u.handle.watch.stopped).map(([k]) => displayKey(k));
  }

  /** @internal for the metrics gauge */
  *instanceCounts(): Iterable<{ service: string; passing: number; total: number }> {
    for (const [key, u] of this.#watches) {
      const s = u.handle.watch.snapshot;
      if (!s) continue;
      yield {
        service: displayKey(key),
        passing: s.instances.filter((i) => i.status === 'passing').length,
        total: s.instances.length,
      };
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new ServiceUnavailableError('*', ['discovery is closed']);
  }

  /** Deregisters this process's registrations, stops every watch, closes the backend it created. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#idleSweep) this.#clock.clearInterval(this.#idleSweep);
    await Promise.allSettled([...this.#registrations].map((r) => r.close()));
    const uses = [...this.#watches.values()];
    this.#watches.clear();
    for (const u of uses) u.handle.release();
    await Promise.allSettled(uses.filter((u) => u.handle.watch.stopped).map((u) => u.handle.watch.done));
    this.#stopObserving();
    if (this.#lease) await this.#lease.release();
    else if (!this.#o.backend) await this.backend.close();
  }
}

/** Creates a `Discovery`: `createDiscovery({ consul: { url, token } })`, `{ redis }`, `{ backend }` or memory. */
export function createDiscovery(options: DiscoveryOptions = {}): Discovery {
  return new Discovery(options);
}
