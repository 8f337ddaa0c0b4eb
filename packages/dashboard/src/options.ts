/**
 * What a dashboard shows and who may act. Every source is optional: a panel whose source is not given is not
 * shown. Sources are typed structurally (the few methods the dashboard calls), so any version of the packages
 * with those methods fits, and a test double is a plain object.
 */
import type { IncomingMessage } from 'node:http';
import type { BreakerRegistry } from '@ballast/circuit-breaker';
import type { ConfigStore } from '@ballast/config-center';
import { type Clock, InvalidOptionsError } from '@ballast/core';
import type { DiscoveryBackend } from '@ballast/discovery';
import type { DeadLetter, GroupInfo, StreamId } from '@ballast/event-bus';
import type { LockBackend, LockManager } from '@ballast/lock';
import type { Queue } from '@ballast/queue';
import type { SagaOrchestrator } from '@ballast/saga';

/** Every action the dashboard can take; `authorize` sees one of these with its target. */
export type DashboardActionName =
  | 'breaker.open'
  | 'breaker.close'
  | 'breaker.isolate'
  | 'breaker.release'
  | 'queue.pause'
  | 'queue.resume'
  | 'queue.dead.replay'
  | 'queue.dead.remove'
  | 'stream.dlq.replay'
  | 'stream.dlq.delete'
  | 'saga.dlq.retry'
  | 'saga.cancel'
  | 'config.rollback'
  | 'config.flag';

export interface DashboardAction {
  name: DashboardActionName;
  /** What it acts on: a breaker, queue, `bus/type`, saga id or dead-letter id, config name. */
  target: string;
  /** Ids an action is about (dead jobs, dead letters, the version rolled back to, the flag's key), when it has some. */
  ids?: readonly string[];
}

/** Decides whether the request may take the action. Anything but `true` refuses (403). */
export type Authorize = (req: IncomingMessage, action: DashboardAction) => boolean | Promise<boolean>;

// biome-ignore lint/suspicious/noExplicitAny: queues and buses of any payload type
type Any = any;

export type DashboardQueue = Pick<
  Queue<Any>,
  'name' | 'counts' | 'list' | 'getJob' | 'listDead' | 'replayDead' | 'pause' | 'resume' | 'isPaused'
> &
  /** Newer queues: removing dead jobs and listing job schedulers (the panel hides what a queue lacks). */
  Partial<Pick<Queue<Any>, 'job' | 'listSchedulers'>>;
/** The bus methods the streams panel calls (method signatures: a bus of any event map fits). */
export interface DashboardBus {
  groups(type: string): Promise<GroupInfo[]>;
  dlq: {
    list(type: string, options?: { count?: number; after?: StreamId }): Promise<DeadLetter[]>;
    inspect(type: string, id: StreamId): Promise<DeadLetter | undefined>;
    replay(type: string, id: StreamId): Promise<StreamId | undefined>;
    delete(type: string, id: StreamId): Promise<boolean>;
  };
}
export type DashboardSagas = Pick<SagaOrchestrator, 'list' | 'get' | 'deadLetters' | 'retryDeadLetter' | 'cancel'>;
export type DashboardBreakers = Pick<BreakerRegistry, 'names' | 'has' | 'get' | 'stats'>;
export type DashboardConfigStore = Pick<ConfigStore, 'read' | 'history' | 'getVersion' | 'commit'>;

export interface DashboardStream {
  /** Shown in the UI and in URLs; default `bus` (give distinct names for several buses). */
  name?: string;
  bus: DashboardBus;
  /** Event types to show (a bus does not list the types it has). */
  types: readonly string[];
}

export interface DashboardLocks {
  /** Where the locks live (`RedisLockBackend`, `MemoryLockBackend`…); its `inspect` adds TTLs, tokens, waiters. */
  backend: Pick<LockBackend, 'holders' | 'inspect'>;
  /** Lock keys to show. */
  resources: readonly string[];
  /** This process's manager: its acquisition statistics per key prefix. */
  manager?: Pick<LockManager, 'stats'>;
}

export interface DashboardDiscovery {
  backend: Pick<DiscoveryBackend, 'query' | 'kind'>;
  /** Service names to show. */
  services: readonly string[];
  /** This process's discovery client: instances its outlier detection ejected from picking are marked. */
  client?: { ejected(service: string): string[] };
}

export interface DashboardConfig {
  /** Shown in the UI, kept in rollback messages. */
  name: string;
  store: DashboardConfigStore;
}

export interface DashboardOptions {
  /** Where it is mounted; every URL it answers starts with it. Default `/ballast`. */
  basePath?: string;
  /** Shown as the page title. Default `Ballast`. */
  title?: string;
  queues?: readonly DashboardQueue[];
  buses?: readonly DashboardStream[];
  sagas?: DashboardSagas;
  /** Saga names whose in-flight sagas are listed (default: every name the orchestrator registered). */
  sagaNames?: readonly string[];
  breakers?: DashboardBreakers;
  locks?: DashboardLocks;
  discovery?: DashboardDiscovery;
  config?: DashboardConfig;
  /**
   * Called before every action. Without it the dashboard is read-only: every action is refused with 403.
   */
  authorize?: Authorize;
  /** How often the live stream (SSE) pushes a fresh summary, ms. Default 2000. */
  liveIntervalMs?: number;
  /** Signs the CSRF tokens. Default: random per process (sessions end with a restart). */
  secret?: string;
  /** Drives the live stream's timer (default the system clock; tests pass `FakeClock`). */
  clock?: Clock;
}

export interface ResolvedOptions extends Omit<DashboardOptions, 'basePath' | 'title' | 'liveIntervalMs'> {
  basePath: string;
  title: string;
  liveIntervalMs: number;
}

/** Checks what types cannot: the base path's shape and the live interval. */
export function resolveOptions(options: DashboardOptions): ResolvedOptions {
  const issues: { path: string; expected: string; received: string; message: string }[] = [];
  const basePath = (options.basePath ?? '/ballast').replace(/\/+$/, '');
  if (
    !/^\/[A-Za-z0-9._~\-/]*$/.test(basePath) ||
    basePath.includes('//') ||
    basePath.split('/').some((s) => s === '.' || s === '..')
  ) {
    issues.push({
      path: 'basePath',
      expected: 'a path like /ballast (not / alone)',
      received: JSON.stringify(options.basePath),
      message: 'basePath must be a non-root absolute path of plain segments',
    });
  }
  const liveIntervalMs = options.liveIntervalMs ?? 2_000;
  if (!(Number.isFinite(liveIntervalMs) && liveIntervalMs >= 100)) {
    issues.push({
      path: 'liveIntervalMs',
      expected: 'number >= 100',
      received: String(options.liveIntervalMs),
      message: 'liveIntervalMs must be at least 100 ms',
    });
  }
  const names = (options.buses ?? []).map((b) => b.name ?? 'bus');
  if (new Set(names).size !== names.length) {
    issues.push({
      path: 'buses',
      expected: 'distinct names',
      received: JSON.stringify(names),
      message: 'give every bus its own name',
    });
  }
  if (issues.length) throw new InvalidOptionsError('createDashboard', issues);
  return { ...options, basePath, title: options.title ?? 'Ballast', liveIntervalMs };
}
