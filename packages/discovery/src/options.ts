import {
  backoffOptionsSchema,
  type Clock,
  DEFAULT_COMMAND_TIMEOUT_MS,
  functionSchema,
  type Logger,
  objectSchema,
  type RedisClient,
  type ShutdownRegistry,
} from '@ballast/core';
import { z } from 'zod';
import type { DiscoveryBackend } from './backend';
import type { ConsulClient } from './consul-client';
import type { HealthCheckFn } from './health';

const urlString = z.string().url();
const staticEntry = z.union([urlString, z.array(urlString).min(1)]);

export const discoveryOptionsSchema = z
  .object({
    /** Consul agent to register with and discover from (the `consul` npm package underneath). */
    consul: z
      .object({
        /**
         * `host:port` with an optional `http://`/`https://`. Default `CONSUL_HTTP_ADDR`, else `http://127.0.0.1:8500`;
         * `CONSUL_HTTP_SSL`, `CONSUL_HTTP_SSL_VERIFY`, `CONSUL_CACERT`, … apply as Consul's CLI reads them (from `env`).
         */
        url: z.string().min(1).optional(),
        /** ACL token (`X-Consul-Token`). Default `CONSUL_HTTP_TOKEN`. */
        token: z.string().min(1).optional(),
        /** Timeout of non-blocking Consul calls. */
        timeoutMs: z.number().int().positive().default(5_000),
        /**
         * Consistency of health reads: `stale` (default — any server answers, so reads scale and survive a leader
         * election), `default` (the leader, may be briefly stale during an election) or `consistent` (the leader
         * after a quorum check).
         */
        consistency: z.enum(['default', 'stale', 'consistent']).default('stale'),
        /** A `stale` answer whose `X-Consul-LastContact` exceeds this is re-read with `default` consistency. */
        maxStaleMs: z.number().int().min(0).default(5_000),
        /** Datacenter to discover in (`?dc=`); default the agent's. */
        dc: z.string().min(1).optional(),
        /** Namespace (`?ns=`, Consul Enterprise); default the token's. */
        ns: z.string().min(1).optional(),
        /** Replace the HTTP client (tests, another library). */
        client: objectSchema<ConsulClient>('consul.client').optional(),
      })
      .strict()
      .optional(),
    /** Redis registry instead of Consul (heartbeated entries + pub/sub). */
    redis: objectSchema<RedisClient>('redis').optional(),
    /** Bound of each Redis command: past it (Redis down, hung), core's `BackendUnavailableError`. */
    commandTimeoutMs: z.number().positive().default(DEFAULT_COMMAND_TIMEOUT_MS),
    /** Any backend (e.g. `new MemoryBackend()`). At most one of consul / redis / backend. */
    backend: objectSchema<DiscoveryBackend>('backend').optional(),
    prefix: z.string().min(1).default('ballast'),
    /** Fresh-cache lifetime of registry results when the watch cannot confirm them (seed 003: 60 s). */
    cacheTtlMs: z.number().int().positive().default(60_000),
    /** Fresh-cache lifetime of static / env results (seed 003: 30 s). */
    staticTtlMs: z.number().int().positive().default(30_000),
    /** Serve a stale registry result while the registry errors, at most this old. */
    maxStaleMs: z.number().positive().default(Number.POSITIVE_INFINITY),
    /** Static fallback: service → URL or URLs. */
    static: z.record(z.string(), staticEntry).default({}),
    /** Environment fallback variable for a service; default `USERS` → `USERS_SERVICE_URL` (comma-separated URLs). */
    envVar: functionSchema<(service: string) => string>('envVar').optional(),
    /** Where environment variables are read: the `<SERVICE>_SERVICE_URL` fallback and `CONSUL_*`. Default `process.env`. */
    env: z.record(z.string(), z.string().optional()).optional(),
    /** Blocking-query `wait` of each watch round. */
    watchWaitMs: z.number().int().positive().max(600_000).default(30_000),
    /** A watch nobody used for this long stops (the next lookup restarts it). */
    watchIdleMs: z.number().int().positive().default(120_000),
    /** Backoff between failed watch rounds (full jitter). */
    watchBackoff: backoffOptionsSchema.default({ initialMs: 250, maxMs: 30_000, factor: 2, jitter: 'full' }),
    /** Watch request rate limit per service: a bucket of `burst` refilled at `perSecond`. */
    watchRateLimit: z
      .object({ burst: z.number().int().positive().default(5), perSecond: z.number().positive().default(10) })
      .strict()
      .default({ burst: 5, perSecond: 10 }),
    /** Default `pick` strategy (seed 000: round-robin). */
    strategy: z.enum(['round-robin', 'random', 'least-outstanding']).default('round-robin'),
    /**
     * Below this share (%) of passing instances, `pick` spreads over all instances, critical ones included (Envoy's
     * panic mode). Default 0 = off: traffic goes to critical instances only when configured (Envoy uses 50).
     */
    panicThresholdPercent: z.number().min(0).max(100).default(0),
    /**
     * Envoy-style outlier ejection fed by reported outcomes (`target().done`, `withInstance`, `report`): after
     * `consecutiveFailures` failures in a row (or, with `failureRate`, a failure share over a window) an instance
     * leaves `pick` for `baseEjectionMs` × its ejection count (≤ `maxEjectionMs`); at most `maxEjectionPercent` %
     * of the instances at once, but always one. `false`: off.
     */
    outlierDetection: z
      .union([
        z.literal(false),
        z
          .object({
            consecutiveFailures: z.number().int().min(1).default(5),
            baseEjectionMs: z.number().int().positive().default(30_000),
            maxEjectionMs: z.number().int().positive().default(300_000),
            maxEjectionPercent: z.number().min(0).max(100).default(10),
            failureRate: z
              .object({
                threshold: z.number().gt(0).max(1),
                minRequests: z.number().int().min(1).default(20),
                windowMs: z.number().int().positive().default(10_000),
              })
              .strict()
              .optional(),
          })
          .strict(),
      ])
      .default({ consecutiveFailures: 5, baseEjectionMs: 30_000, maxEjectionMs: 300_000, maxEjectionPercent: 10 }),
    clock: objectSchema<Clock>('clock').optional(),
    logger: objectSchema<Logger>('logger').optional(),
    random: functionSchema<() => number>('random').optional(),
  })
  .strict()
  .refine((o) => [o.consul, o.redis, o.backend].filter((x) => x !== undefined).length <= 1, {
    message: 'give at most one of consul, redis, backend',
    path: ['backend'],
  });

export type DiscoveryOptions = z.input<typeof discoveryOptionsSchema>;
export type ResolvedDiscoveryOptions = z.output<typeof discoveryOptionsSchema>;

const httpCheck = z
  .object({
    /** URL the agent (or, without Consul, the registry) polls; default `http://<address>:<port>/health`. */
    http: urlString.optional(),
    /** Seed 000: every 10 s. */
    intervalMs: z.number().int().min(1_000).default(10_000),
    timeoutMs: z.number().int().positive().default(5_000),
    deregisterCriticalAfterMs: z.number().int().min(60_000).optional(),
  })
  .strict();
/** Checks the Consul agent runs (several per service): HTTP, TCP or gRPC, each polled every `intervalMs`. */
const agentCheck = z.union([
  z
    .object({
      http: urlString,
      intervalMs: z.number().int().min(1_000).default(10_000),
      timeoutMs: z.number().int().positive().default(5_000),
      deregisterCriticalAfterMs: z.number().int().min(60_000).optional(),
    })
    .strict(),
  z
    .object({
      /** `host:port` the agent connects to. */
      tcp: z.string().min(1),
      intervalMs: z.number().int().min(1_000).default(10_000),
      timeoutMs: z.number().int().positive().default(5_000),
      deregisterCriticalAfterMs: z.number().int().min(60_000).optional(),
    })
    .strict(),
  z
    .object({
      /** `host:port[/service]` of the gRPC health-checking protocol. */
      grpc: z.string().min(1),
      grpcUseTls: z.boolean().default(false),
      intervalMs: z.number().int().min(1_000).default(10_000),
      timeoutMs: z.number().int().positive().default(5_000),
      deregisterCriticalAfterMs: z.number().int().min(60_000).optional(),
    })
    .strict(),
]);

const ttlCheck = z
  .object({
    /** TTL check: the registry heartbeats every ttl/3. */
    ttlMs: z.number().int().min(1_000),
    deregisterCriticalAfterMs: z.number().int().min(60_000).optional(),
  })
  .strict();

export const registerOptionsSchema = z
  .object({
    name: z
      .string()
      .min(1)
      .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . - only'),
    /** Default `<name>-<address>-<port>`. */
    id: z.string().min(1).optional(),
    address: z.string().min(1),
    port: z.number().int().min(1).max(65_535),
    tags: z.array(z.string()).default([]),
    meta: z.record(z.string(), z.string()).default({}),
    /** An HTTP check (default, seed 000) or a TTL check with automatic heartbeats; `false`: none. */
    check: z.union([ttlCheck, httpCheck, z.literal(false)]).default({ intervalMs: 10_000, timeoutMs: 5_000 }),
    /**
     * More checks the Consul agent runs besides `check` (HTTP, TCP, gRPC); the instance is passing only when all
     * pass. Consul only: a Redis or memory registry refuses them.
     */
    checks: z.array(agentCheck).default([]),
    /** Consul's DNS SRV weights by status (default 1 and 1); instances carry them as `weights`. */
    weights: z
      .object({ passing: z.number().int().min(1), warning: z.number().int().min(0) })
      .strict()
      .optional(),
    /** Let anti-entropy keep tags edited in the catalog by others (Consul's `EnableTagOverride`). */
    enableTagOverride: z.boolean().default(false),
    /** With a TTL check, heartbeats report this checker's status (healthy → passing, degraded → warning). */
    health: objectSchema<{ readonly status: 'healthy' | 'degraded' | 'unhealthy' }>('health').optional(),
    /** How often the registry asks the backend whether it still knows us (agent restarted → re-register). */
    antiEntropyIntervalMs: z.number().int().positive().default(30_000),
    /** Deregisters on graceful shutdown; default core's process registry, `false` to opt out. */
    shutdown: z.union([objectSchema<ShutdownRegistry>('shutdown'), z.literal(false)]).optional(),
    /**
     * With the default shutdown registry, SIGTERM/SIGINT run it (core's `handleSignals`, installed once per process)
     * so the instance is deregistered when the orchestrator stops the process. `false` to opt out (the application
     * handles signals itself and calls `getShutdownRegistry().shutdown()`).
     */
    deregisterOnSignal: z.boolean().default(true),
  })
  .strict();

export type RegisterOptions = z.input<typeof registerOptionsSchema>;

export const healthCheckerOptionsSchema = z
  .object({
    /** name → check (see redisCheck, httpCheck, or any async function: a DB check is a custom function). */
    checks: z.record(
      z.string(),
      // The object branch first: on a tie, errors are reported for the first branch, and `{ run: <not a
      // function> }` must name `checks.<name>.run`.
      z.union([
        z
          .object({
            run: functionSchema<HealthCheckFn>('check.run'),
            /** A failing non-critical check makes the aggregate `degraded`. Default true. */
            critical: z.boolean().optional(),
          })
          .strict(),
        functionSchema<HealthCheckFn>('check'),
      ]),
    ),
    /** Seed 002: every 30 s. */
    intervalMs: z.number().int().positive().default(30_000),
    /** Seed 002: 10 s per check. */
    timeoutMs: z.number().int().positive().default(10_000),
    /** HTTP status the /health handler answers when unhealthy (seed 004: 500). */
    unhealthyStatusCode: z.number().int().min(400).max(599).default(500),
    clock: objectSchema<Clock>('clock').optional(),
    logger: objectSchema<Logger>('logger').optional(),
  })
  .strict();

export type HealthCheckerOptions = z.input<typeof healthCheckerOptionsSchema>;
