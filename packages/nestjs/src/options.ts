import type { BreakerOptions, BreakerRegistry } from '@ballast/circuit-breaker';
import type { Config, CreateConfigOptions } from '@ballast/config-center';
import {
  InvalidOptionsError,
  type Logger,
  type OptionIssue,
  type RedisClient,
  type RedisConnectionOptions,
  type ShutdownReport,
} from '@ballast/core';
import type { Discovery, DiscoveryOptions, RegisterOptions } from '@ballast/discovery';
import type { EventBus, EventBusOptions } from '@ballast/event-bus';
import type { LockManager, LockManagerOptions } from '@ballast/lock';
import type { CreateQueueOptions, WorkerOptions } from '@ballast/queue';
import type { OrchestratorOptions, SagaOrchestrator } from '@ballast/saga';

/** A Redis client, or what `createRedis` takes (a URL or connection options); the module closes what it creates. */
export type RedisInput = string | RedisConnectionOptions | RedisClient;

/** One queue `BallastModule` creates and provides under `getQueueToken(name)`. */
export interface QueueRegistration {
  name: string;
  /** `createQueue` options; defaults: the module's `queueDefaults`, then `backend: 'redis'` on the module's Redis. */
  options?: CreateQueueOptions;
  /** Options of the worker started for this queue's `@Task` methods (concurrency, drainTimeoutMs, …). */
  worker?: Omit<WorkerOptions, 'autorun'>;
}

/**
 * What `BallastModule.forRoot` takes (and `forRootAsync`'s factory returns). Every piece is optional and
 * created only when given; an instance may be given instead of options. Pieces take the module's `redis`,
 * `prefix` and `logger` unless their own options say otherwise.
 */
export interface BallastModuleOptions {
  /** Register the module globally (default true), so feature modules inject without importing it. */
  isGlobal?: boolean;
  /** The default Redis connection (`@InjectRedis()`), used by every piece below that needs Redis. */
  redis?: RedisInput;
  /** More named Redis connections: `@InjectRedis('cache')`. */
  connections?: Record<string, RedisInput>;
  /** First key segment of every piece (each package's default is `ballast`). */
  prefix?: string;
  logger?: Logger;
  /**
   * Circuit breakers: a registry, or defaults of a new one that becomes the process-wide registry
   * (`setBreakerRegistry`) so `@CircuitBreaker` methods use it. Unset: the process-wide registry is provided.
   */
  breakers?: BreakerRegistry | BreakerOptions;
  /** A lock manager (`true`: on the module's Redis); it becomes `@WithLock`'s manager (`setLockManager`). */
  lock?: true | LockManagerOptions | LockManager;
  /** The event bus `@OnEvent` handlers subscribe to (`source` and `events` are required). */
  // biome-ignore lint/suspicious/noExplicitAny: any event schemas
  eventBus?: EventBusOptions<any> | EventBus<any>;
  /** A saga orchestrator (`true`: a `RedisSagaStore` on the module's Redis, or memory); `@Saga` classes register on it. */
  saga?: true | OrchestratorOptions | SagaOrchestrator;
  /** Service discovery; `register` registers this instance at bootstrap and deregisters it at shutdown. */
  discovery?: (DiscoveryOptions & { register?: Omit<RegisterOptions, 'shutdown'> }) | Discovery;
  /** The config center (`createConfig` options, or a started `Config`). */
  // biome-ignore lint/suspicious/noExplicitAny: any config schema
  config?: CreateConfigOptions<any> | Config<any>;
  /** Queues provided under `getQueueToken(name)` (more with `BallastModule.forFeature`). */
  queues?: readonly QueueRegistration[];
  /** Options merged under every queue's own. */
  queueDefaults?: CreateQueueOptions;
  /**
   * Bound of the whole graceful shutdown (stop intake → drain → release locks → deregister → close
   * connections). Default 25 000 ms, inside Kubernetes' 30 s grace period. A step that overruns is reported
   * with a `ShutdownTimeoutError` and the next steps still run.
   */
  shutdownTimeoutMs?: number;
  /**
   * After a signal-triggered shutdown (`app.enableShutdownHooks()`), exit with code 0 when every step closed
   * and 1 otherwise, instead of dying by the signal Nest re-raises. Default true.
   */
  exitOnSignal?: boolean;
  /** Called with the shutdown report (steps in order, status, duration) once shutdown finished. */
  onShutdown?: (report: ShutdownReport) => void;
}

export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 25_000;

/** What `forRootAsync` takes: a factory (with `inject`ed providers from `imports`), as `@nestjs/config` needs. */
export interface BallastModuleAsyncOptions {
  isGlobal?: boolean;
  // biome-ignore lint/suspicious/noExplicitAny: Nest's own types for imports/inject
  imports?: any[];
  // biome-ignore lint/suspicious/noExplicitAny: Nest's own types for imports/inject
  inject?: any[];
  // biome-ignore lint/suspicious/noExplicitAny: the factory's parameters are the injected providers
  useFactory: (...args: any[]) => BallastModuleOptions | Promise<BallastModuleOptions>;
  /** Queues known when the module is declared (their tokens must exist before the factory runs). */
  queues?: readonly QueueRegistration[];
}

/** Checks what the module itself reads (each piece's options are checked by its own factory). */
export function checkModuleOptions(o: BallastModuleOptions, where: string): void {
  const issues: OptionIssue[] = [];
  const bad = (path: string, expected: string, value: unknown) =>
    issues.push({ path, expected, received: describe(value), message: `expected ${expected}` });
  if (o === null || typeof o !== 'object') {
    bad('(root)', 'an object', o);
  } else {
    const t = o.shutdownTimeoutMs;
    if (t !== undefined && (typeof t !== 'number' || !Number.isFinite(t) || t <= 0)) {
      bad('shutdownTimeoutMs', 'a positive number of ms', t);
    }
    if (o.prefix !== undefined && (typeof o.prefix !== 'string' || o.prefix.length === 0)) {
      bad('prefix', 'a non-empty string', o.prefix);
    }
    const names = new Set<string>();
    for (const [i, q] of (o.queues ?? []).entries()) {
      if (typeof q?.name !== 'string' || q.name.length === 0) bad(`queues[${i}].name`, 'a non-empty string', q?.name);
      else if (names.has(q.name)) bad(`queues[${i}].name`, 'a name not registered twice', q.name);
      else names.add(q.name);
    }
    if (o.eventBus && !isInstance(o.eventBus) && typeof (o.eventBus as { source?: unknown }).source !== 'string') {
      bad('eventBus.source', 'a string (this service’s name)', (o.eventBus as { source?: unknown }).source);
    }
  }
  if (issues.length > 0) throw new InvalidOptionsError(where, issues);
}

function describe(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  return typeof v === 'string' ? JSON.stringify(v) : typeof v === 'object' ? 'object' : `${typeof v} ${String(v)}`;
}

/** A piece given as an instance (a class instance with a `close` method) rather than as options. */
export function isInstance(v: unknown): boolean {
  return (
    typeof v === 'object' &&
    v !== null &&
    Object.getPrototypeOf(v) !== Object.prototype &&
    typeof (v as { close?: unknown }).close === 'function'
  );
}
