import { type BreakerOptions, BreakerRegistry, getBreakerRegistry } from '@ballast/circuit-breaker';
import { type Config, type CreateConfigOptions, createConfig } from '@ballast/config-center';
import { childLogger, createRedis, getDefaultLogger, type Logger, type RedisClient } from '@ballast/core';
import { createDiscovery, type Discovery, type DiscoveryOptions } from '@ballast/discovery';
import { createEventBus, type EventBus, type EventBusOptions, type EventSchemas } from '@ballast/event-bus';
import { createLockManager, type LockManager, type LockManagerOptions } from '@ballast/lock';
import { type CreateQueueOptions, createQueue, type Queue } from '@ballast/queue';
import { createOrchestrator, type OrchestratorOptions, RedisSagaStore, type SagaOrchestrator } from '@ballast/saga';
import { QueueNotRegisteredError } from './errors';
import { type BallastModuleOptions, isInstance, type QueueRegistration, type RedisInput } from './options';

function isRedisClient(v: RedisInput): v is RedisClient {
  return typeof v === 'object' && v !== null && typeof (v as { duplicate?: unknown }).duplicate === 'function';
}

/**
 * Everything `BallastModule` created or was given, built once from the module options. Injectable as
 * `BallastResources`; each piece is also provided under its own token. A piece not configured is `undefined`.
 */
export class BallastResources {
  readonly options: BallastModuleOptions;
  readonly logger: Logger;
  readonly redis: RedisClient | undefined;
  readonly connections = new Map<string, RedisClient>();
  readonly breakers: BreakerRegistry;
  readonly lock: LockManager | undefined;
  readonly bus: EventBus<EventSchemas> | undefined;
  readonly saga: SagaOrchestrator | undefined;
  readonly discovery: Discovery | undefined;
  // biome-ignore lint/suspicious/noExplicitAny: any config schema
  config: Config<any> | undefined;
  /** Pieces this module created (closed by it at shutdown); given instances are the caller's to close. */
  readonly created = new Set<object>();
  readonly #queues = new Map<string, { queue: Queue; registration: QueueRegistration }>();

  private constructor(options: BallastModuleOptions) {
    this.options = options;
    this.logger = childLogger(options.logger ?? getDefaultLogger(), { component: 'nestjs' });
    const prefix = options.prefix === undefined ? {} : { prefix: options.prefix };
    const log = options.logger === undefined ? {} : { logger: options.logger };
    if (options.redis !== undefined) this.redis = this.#connect(options.redis);
    for (const [name, input] of Object.entries(options.connections ?? {})) {
      this.connections.set(name, this.#connect(input));
    }
    const redis = this.redis === undefined ? {} : { redis: this.redis };

    const b = options.breakers;
    if (b === undefined) this.breakers = getBreakerRegistry();
    else if (isInstance(b)) this.breakers = b as BreakerRegistry;
    else {
      // Made process-wide (for `@CircuitBreaker`) by the lifecycle at module init, put back at shutdown.
      this.breakers = this.#own(new BreakerRegistry(b as BreakerOptions));
    }

    const l = options.lock;
    if (l !== undefined) {
      if (isInstance(l)) this.lock = l as LockManager;
      else {
        const given = l === true ? {} : (l as LockManagerOptions);
        const backend = given.redis || given.backend ? {} : redis;
        this.lock = this.#own(createLockManager({ ...prefix, ...log, ...backend, ...given }));
      }
    }

    const e = options.eventBus;
    if (e !== undefined) {
      if (isInstance(e)) this.bus = e as EventBus<EventSchemas>;
      else {
        const given = e as EventBusOptions<EventSchemas>;
        const transport = given.redis || given.transport ? {} : redis;
        this.bus = this.#own(createEventBus({ ...prefix, ...log, ...transport, ...given }));
      }
    }

    const s = options.saga;
    if (s !== undefined) {
      if (isInstance(s)) this.saga = s as SagaOrchestrator;
      else {
        const given = s === true ? {} : (s as OrchestratorOptions);
        const store =
          given.store || this.redis === undefined
            ? {}
            : {
                store: new RedisSagaStore({ redis: this.redis, ...(options.prefix ? { prefix: options.prefix } : {}) }),
              };
        this.saga = this.#own(createOrchestrator({ ...log, ...store, ...given }));
      }
    }

    const d = options.discovery;
    if (d !== undefined) {
      if (isInstance(d)) this.discovery = d as Discovery;
      else {
        const { register: _register, ...given } = d as DiscoveryOptions & { register?: unknown };
        const backend = given.redis || given.backend || given.consul ? {} : redis;
        this.discovery = this.#own(createDiscovery({ ...prefix, ...log, ...backend, ...given }));
      }
    }
    for (const q of options.queues ?? []) this.registerQueue(q);
  }

  /** Builds the resources; the config center starts here (its first read is async). */
  static async create(options: BallastModuleOptions): Promise<BallastResources> {
    const r = new BallastResources(options);
    try {
      const c = options.config;
      if (c !== undefined) {
        // biome-ignore lint/suspicious/noExplicitAny: any config schema
        r.config = isInstance(c) ? (c as Config<any>) : r.#own(await createConfig(c as CreateConfigOptions<any>));
      }
    } catch (error) {
      await r.closeAll();
      throw error;
    }
    return r;
  }

  #own<T extends object>(piece: T): T {
    this.created.add(piece);
    return piece;
  }

  #connect(input: RedisInput): RedisClient {
    if (isRedisClient(input)) return input;
    const client = this.#own(createRedis(input));
    // A client the module made reports its connection errors to the logger, never as an unhandled 'error'.
    client.on('error', (err: unknown) => this.logger.warn({ err }, 'redis connection error'));
    return client;
  }

  /** Creates (once) the queue of a registration; a second registration of the same name returns the first. */
  registerQueue(registration: QueueRegistration): Queue {
    const known = this.#queues.get(registration.name);
    if (known) return known.queue;
    const o = this.options;
    const own: CreateQueueOptions = { ...o.queueDefaults, ...registration.options };
    const backend: CreateQueueOptions =
      own.backend === undefined && this.redis !== undefined ? { backend: 'redis', redis: this.redis } : {};
    const withRedis: CreateQueueOptions =
      own.backend === 'rabbitmq' && own.redis === undefined && this.redis !== undefined ? { redis: this.redis } : {};
    const queue = createQueue(registration.name, {
      ...(o.prefix === undefined ? {} : { prefix: o.prefix }),
      ...(o.logger === undefined ? {} : { logger: o.logger }),
      ...backend,
      ...withRedis,
      ...own,
    });
    this.#own(queue);
    this.#queues.set(registration.name, { queue, registration });
    return queue;
  }

  /** A registered queue by name; `QueueNotRegisteredError` names the registration to add. */
  queue(name: string, usedBy = 'getQueue'): Queue {
    const q = this.#queues.get(name);
    if (!q) throw new QueueNotRegisteredError(name, usedBy);
    return q.queue;
  }

  /** Registered queues with their registrations (worker options). */
  queues(): { queue: Queue; registration: QueueRegistration }[] {
    return [...this.#queues.values()];
  }

  /**
   * Closes what this module created, connections last: bus, queues, saga, config, discovery, locks, the
   * breaker registry, then the Redis clients. Failures are logged, never thrown (shutdown must go on).
   */
  async closeAll(): Promise<void> {
    const mine = <T extends object>(p: T | undefined): p is T => p !== undefined && this.created.has(p);
    const step = async (name: string, close: () => Promise<unknown> | unknown) => {
      try {
        await close();
      } catch (err) {
        this.logger.error({ err, resource: name }, 'close failed');
      }
    };
    const bus = this.bus;
    const saga = this.saga;
    const config = this.config;
    const discovery = this.discovery;
    const lock = this.lock;
    await Promise.all([
      mine(bus) ? step('eventBus', () => bus.close()) : undefined,
      ...this.queues()
        .filter((q) => mine(q.queue))
        .map((q) => step(`queue:${q.queue.name}`, () => q.queue.close())),
      mine(saga) ? step('saga', () => saga.close()) : undefined,
      mine(config) ? step('config', () => config.close()) : undefined,
      mine(discovery) ? step('discovery', () => discovery.close()) : undefined,
      mine(lock) ? step('lock', () => lock.close()) : undefined,
      mine(this.breakers) ? step('breakers', () => this.breakers.close()) : undefined,
    ]);
    const clients = [this.redis, ...this.connections.values()].filter(mine);
    // QUIT waits for a reply a client that never connected would not get: that one is just disconnected.
    await Promise.all(clients.map((c) => step('redis', () => (c.status === 'ready' ? c.quit() : c.disconnect()))));
  }
}
