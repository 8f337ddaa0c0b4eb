/** What every service gets: backends, registry, config, the internal HTTP client, event buses, the activity log. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHttpClient, type HttpClient } from '@ballast/circuit-breaker';
import { EventEmitter, type Logger } from '@ballast/core';
import { createHealthChecker, type HealthCheck, type HealthChecker, redisCheck } from '@ballast/discovery';
import {
  createEventBus,
  type EventBus,
  type HealthPlatformEvents,
  healthPlatformEvents,
  MemoryTransport,
  type Transport,
} from '@ballast/event-bus';
import type { LockManager } from '@ballast/lock';
import type { ConfigPlace, PlatformConfig } from './config';
import type { ServiceRegistry } from './discovery';
import { listen, type Router, send } from './http';
import type { Infra } from './infra';

export type Bus = EventBus<HealthPlatformEvents>;

/** One line of what happened, for the story's checks and the dashboard. */
export interface Activity {
  at: number;
  service: string;
  kind: string;
  text: string;
  data?: Record<string, unknown>;
  /** The process group (and its pid) it happened in, when the platform runs as separate processes. */
  group?: string;
  pid?: number;
}

export class ActivityLog {
  readonly #items: Activity[] = [];
  readonly #added = new EventEmitter<Activity>('activity');
  readonly onAdded = this.#added.event;

  /**
   * @param origin stamped on every activity added here (a service process's group and pid)
   * @param forward called with each activity added here (not with ingested ones): a service process sends
   *   them to its supervisor, which passes them on to every other process.
   */
  constructor(
    readonly origin: { group?: string; pid?: number } = {},
    readonly forward?: (a: Activity) => void,
  ) {}

  add(service: string, kind: string, text: string, data?: Record<string, unknown>): void {
    const a: Activity = { at: Date.now(), service, kind, text, ...(data && { data }), ...this.origin };
    this.ingest(a);
    this.forward?.(a);
  }

  /** An activity of another process. */
  ingest(a: Activity): void {
    this.#items.push(a);
    if (this.#items.length > 500) this.#items.shift();
    this.#added.emit(a);
  }

  /** Every activity (already logged since `since`) that matches. */
  filter(pred: (a: Activity) => boolean, since = 0): Activity[] {
    return this.#items.filter((a) => a.at >= since && pred(a));
  }

  recent(n = 30): Activity[] {
    return this.#items.slice(-n);
  }

  find(pred: (a: Activity) => boolean, since = 0): Activity | undefined {
    return this.#items.find((a) => a.at >= since && pred(a));
  }

  /** Resolves with the first activity (already logged since `since`, or coming) that matches. */
  waitFor(pred: (a: Activity) => boolean, timeoutMs = 10_000, since = 0): Promise<Activity> {
    const found = this.find(pred, since);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for activity`));
      }, timeoutMs);
      const off = this.onAdded((a) => {
        if (!pred(a)) return;
        clearTimeout(timer);
        off();
        resolve(a);
      });
    });
  }
}

export interface RunningService {
  name: string;
  instances: { id: string; port: number }[];
  close(): Promise<void>;
}

export class Ctx {
  readonly client: HttpClient;
  readonly #transport: Transport | undefined;
  readonly #buses: Bus[] = [];
  /**
   * Set when one service is started by hand into a running stack (`src/service.ts <service> --instance N`):
   * every `serve` of this process starts that one instance, `<name>-N`, beside the stack's own.
   */
  instance: number | undefined;

  constructor(
    readonly infra: Infra,
    readonly registry: ServiceRegistry,
    readonly config: PlatformConfig,
    readonly locks: LockManager,
    readonly activity: ActivityLog = new ActivityLog(),
    /** Where this run's configs live (a service's own config, like xiaoke's, goes beside the platform's). */
    readonly configPlace: ConfigPlace = { consulUrl: infra.consulUrl, prefix: infra.prefix, process: 'main' },
  ) {
    this.#transport = infra.redis ? undefined : new MemoryTransport();
    // Service-to-service calls: discovery round-robin (minus ejected outliers), a breaker per target service (seed 003's defaults:
    // 50 % failures over 10 s with at least 10 calls), seed 003's timeouts and retry of idempotent calls.
    // The gateway has its own breakers (the ones the story and the dashboard watch).
    this.client = createHttpClient({
      resolve: registry.target,
      timeoutMs: 5_000,
      retry: { maxRetries: 2, initialMs: 50 },
      // The demo's shortened reset (seed 003: 30 s), so the story's recovery step sees these close too.
      breaker: { resetTimeoutMs: config.get('gateway.breakerResetMs') },
      serviceId: 'health-platform',
      logger: infra.logger,
    });
  }

  get log(): Logger {
    return this.infra.logger;
  }

  /** An event bus publishing as `source` (Redis Streams under this run's prefix, or one shared memory transport). */
  bus(source: string): Bus {
    const bus = createEventBus({
      ...(this.infra.redis ? { redis: this.infra.redis, prefix: `${this.infra.prefix}:` } : {}),
      ...(this.#transport ? { transport: this.#transport } : {}),
      source,
      events: healthPlatformEvents,
      logger: this.infra.logger,
    });
    this.#buses.push(bus);
    return bus;
  }

  /**
   * Starts `count` instances of `name` on `router` (ids `<name>-<first>`, `<name>-<first + 1>`…), each registered
   * in discovery with an HTTP check on its `/health`: @ballast/discovery's health checker, with a Redis check
   * (critical: without Redis the service cannot work) and one check per downstream service it calls (not critical:
   * a missing dependency makes it `degraded`, still 200 — the registry must not take a healthy service out of
   * rotation because another one is down). `checker`: a service's own checker instead (xiaoke's).
   */
  async serve(
    name: string,
    router: Router | ((req: IncomingMessage, res: ServerResponse) => void),
    options: { count?: number; first?: number; dependsOn?: string[]; checker?: HealthChecker } = {},
  ) {
    let { count = 1, first = 1 } = options;
    if (this.instance !== undefined) {
      first = this.instance;
      count = 1;
    }
    const own = !options.checker;
    const health =
      options.checker ??
      createHealthChecker({ checks: this.baseChecks(options.dependsOn ?? []), intervalMs: 1_000, timeoutMs: 800 });
    if (own) health.start();
    const instances: { id: string; port: number; close(): Promise<void> }[] = [];
    for (let i = first; i < first + count; i++) {
      const id = `${name}-${i}`;
      const server = await listen(router, {
        onError: (e) => this.log.warn({ err: e, service: name }, 'request failed'),
        raw: (req, res) => {
          if (req.url === '/health') {
            health.handler(req, res);
            return true;
          }
          // The chaos switch `chaos.failInstance`: this one instance answers 500 to everything but its health
          // check, which keeps passing — a failure only outlier ejection (fed by the callers' outcomes) catches.
          if (this.config.get('chaos.failInstance') === id) {
            this.activity.add(name, 'chaos-500', `${id}: 500 (chaos.failInstance)`, { instance: id });
            send(res, 500, { error: `chaos: instance ${id} failing`, instance: id });
            return true;
          }
          if (req.url === '/whoami') {
            send(res, 200, { service: name, instance: id });
            return true;
          }
          return false;
        },
      });
      await this.registry.register(name, id, server.port);
      instances.push({ id, port: server.port, close: server.close });
    }
    return {
      name,
      instances: instances.map(({ id, port }) => ({ id, port })),
      close: async () => {
        await Promise.all(instances.map((i) => this.registry.deregister(i.id)));
        await Promise.all(instances.map((i) => i.close()));
        if (own) health.stop();
      },
    } satisfies RunningService;
  }

  /** Redis (when the run has it) and each downstream service having a passing instance in discovery. */
  baseChecks(dependsOn: string[]): Record<string, HealthCheck> {
    const checks: Record<string, HealthCheck> = {};
    if (this.infra.redis) checks.redis = redisCheck(this.infra.redis);
    for (const dep of dependsOn) {
      checks[dep] = {
        critical: false,
        run: async () => {
          const passing = await this.registry.discovery.discover(dep);
          return passing.length > 0 ? 'healthy' : { status: 'degraded', details: `no passing instance of ${dep}` };
        },
      };
    }
    return checks;
  }

  async closeBuses(): Promise<void> {
    await Promise.all(this.#buses.map((b) => b.close()));
  }
}
