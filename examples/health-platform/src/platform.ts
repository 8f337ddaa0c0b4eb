/**
 * Starts the platform: as separate processes under the supervisor (the default when Redis answers: every
 * process shares state through it), or every service in this one process (without Redis, and for tests that
 * need the gateway object itself). Either way the story gets a `Stack`.
 */
import { writeFileSync } from 'node:fs';
import type { Queue } from '@ballast/queue';
import { platformConfigStore } from './config';
import { ActivityLog, type RunningService } from './context';
import { startGateway } from './gateway';
import { GROUPS, SERVICES, startEntry } from './groups';
import { type Infra, infraEnv } from './infra';
import { installMetrics } from './metrics';
import type { OwnRedis } from './own-redis';
import { type Runtime, startRuntime } from './runtime';
import type { SagaFeed } from './sagas';
import { Supervisor } from './supervisor';

export interface Stack {
  mode: 'processes' | 'one process';
  infra: Infra;
  config: Runtime['config'];
  activity: ActivityLog;
  feed: SagaFeed;
  gatewayUrl: string;
  /** Service name and instance count, for the header. */
  services: { name: string; instances: number }[];
  /** The supervisor, when the services run as separate processes. */
  supervisor?: Supervisor;
  /** Where a hand-started service finds this stack's environment (processes mode). */
  envFile?: string;
  /** The demo's own `redis-server`, when it runs one (story step 17 restarts it); the demo stops it on exit. */
  ownRedis?: OwnRedis;
  /** Why the demo runs no Redis of its own (`REDIS_URL` given, `redis-server` not installed…). */
  noOwnRedis?: string;
  /** Resolves once every service has all its instances passing their health checks in discovery. */
  waitPassing(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** How many passing instances of each service a started platform has. */
function expectedInstances(processes: boolean): Record<string, number> {
  return Object.fromEntries(
    SERVICES.map((s) => [s, s === 'rag-service' || (processes && s === 'health-data-service') ? 2 : 1]),
  );
}

/**
 * The gateway with its /metrics (the OTel SDK's Prometheus exporter is process-wide: the gateway's process) and
 * the dashboard. `queue`: xiaoke's queue when it runs in this process (the in-memory one cannot be reached from a
 * handle of its own); otherwise the gateway opens its own handle on the queue's shared backend.
 */
export async function startGatewayService(
  rt: Runtime,
  options: { queue?: Queue<unknown>; digest?: Queue<unknown> } = {},
) {
  const metrics = installMetrics();
  const xiaoke = await import('./services/xiaoke');
  const ownQueue = options.queue ? undefined : xiaoke.createXiaokeQueue(rt.ctx);
  const ownDigest = options.digest ? undefined : xiaoke.createDigestQueue(rt.ctx);
  const configStore = platformConfigStore(rt.ctx.configPlace);
  const gateway = await startGateway(rt.ctx, metrics, {
    feed: await rt.sagas(),
    services: SERVICES,
    queue: (options.queue ?? ownQueue) as Queue<unknown>,
    digest: (options.digest ?? ownDigest) as Queue<unknown>,
    configStore,
  });
  return {
    ...gateway,
    async close() {
      await gateway.close();
      await ownQueue?.close().catch(() => {});
      await ownDigest?.close().catch(() => {});
      await configStore.close().catch(() => {});
      await metrics.close().catch(() => {});
    },
  };
}

/** Every service in this process (the in-memory backends only work within one process). */
export async function startPlatform(options: { verbose?: boolean } = {}) {
  const rt = await startRuntime(options);
  const services: RunningService[] = [];
  for (const g of GROUPS) {
    if (g.processesOnly) continue;
    for (const e of g.starts) if (e !== 'api-gateway') services.push(...(await startEntry(rt, e)));
  }
  const xiaoke = services.find(
    (s): s is RunningService & { queue: Queue<unknown>; digest: Queue<unknown> } => 'queue' in s,
  );
  const gateway = await startGatewayService(rt, xiaoke ? { queue: xiaoke.queue, digest: xiaoke.digest } : {});
  await rt.registry.waitPassing(expectedInstances(false));
  let closed = false;
  return {
    mode: 'one process' as const,
    infra: rt.infra,
    config: rt.config,
    activity: rt.ctx.activity,
    feed: await rt.sagas(),
    gatewayUrl: gateway.url,
    services: [...services, gateway].map((s) => ({ name: s.name, instances: s.instances.length })),
    ctx: rt.ctx,
    gateway,
    waitPassing: (timeoutMs = 15_000) => rt.registry.waitPassing(expectedInstances(false), timeoutMs),
    async close() {
      if (closed) return;
      closed = true;
      await gateway.close();
      for (const s of [...services].reverse()) await s.close().catch(() => {});
      await rt.close();
    },
  } satisfies Stack & Record<string, unknown>;
}

/** Every group in its own process under the supervisor; this process holds the backends, the log and the story. */
export async function startProcesses(options: { verbose?: boolean; log?: (line: string) => void } = {}) {
  let supervisor: Supervisor | undefined;
  const activity = new ActivityLog({ group: 'supervisor', pid: process.pid }, (a) => supervisor?.forwardOwn(a));
  const rt = await startRuntime({ ...options, activity, process: 'supervisor' });
  const env = infraEnv(rt.infra, rt.jwtSecret);
  const envFile = rt.infra.logFile.replace(/\.log$/, '.env');
  writeFileSync(
    envFile,
    `${Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n')}\n`,
    { mode: 0o600 },
  );
  supervisor = new Supervisor(
    GROUPS.map((g) => g.name),
    { env, activity, log: options.log ?? ((line) => console.log(`   ${line}`)) },
  );
  try {
    await supervisor.start();
    await rt.registry.waitPassing(expectedInstances(true), 30_000);
  } catch (error) {
    await supervisor.stop().catch(() => {});
    await rt.close().catch(() => {});
    throw error;
  }
  const sup = supervisor;
  let closed = false;
  return {
    mode: 'processes' as const,
    infra: rt.infra,
    config: rt.config,
    activity,
    feed: await rt.sagas(),
    gatewayUrl: sup.gatewayUrl!,
    services: [...sup.procs.values()].flatMap((p) =>
      p.services.map((s) => ({ name: s.name, instances: s.instances.length })),
    ),
    supervisor: sup,
    envFile,
    waitPassing: (timeoutMs = 15_000) => rt.registry.waitPassing(expectedInstances(true), timeoutMs),
    async close() {
      if (closed) return;
      closed = true;
      await sup.stop();
      await rt.close();
    },
  } satisfies Stack;
}
