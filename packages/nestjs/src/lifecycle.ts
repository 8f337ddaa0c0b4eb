import { getBreakerRegistry, setBreakerRegistry } from '@ballast/circuit-breaker';
import { ShutdownRegistry, type ShutdownReport } from '@ballast/core';
import type { Registration } from '@ballast/discovery';
import type { Subscription } from '@ballast/event-bus';
import { getLockManager, setLockManager } from '@ballast/lock';
import { createWorker, type Handlers, type Worker } from '@ballast/queue';
import { sagaOf } from '@ballast/saga';
import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { setCurrentResources } from './current';
import { BallastExplorer } from './explorer';
import { DEFAULT_SHUTDOWN_TIMEOUT_MS } from './options';
import { BallastResources } from './resources';

/** The shutdown steps, in the order they run. */
export const SHUTDOWN_STEPS = ['stop-intake', 'drain', 'release-locks', 'deregister', 'close-connections'] as const;

/**
 * Starts what the explorer found and stops it in order. Module init: `@WithLock` gets the module's lock
 * manager, `@Task` queues resolve. Bootstrap: `@Saga` classes register, `@OnEvent` handlers subscribe, one
 * worker per queue with `@Task` methods starts, the instance registers with discovery. Shutdown
 * (`app.close()`, or a signal with `app.enableShutdownHooks()`): stop intake → drain in-flight work →
 * release locks → deregister → close connections, bounded by `shutdownTimeoutMs`.
 */
@Injectable()
export class BallastLifecycle implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  readonly #subs: Subscription[] = [];
  readonly #workers: Worker[] = [];
  #registration: Registration | undefined;
  #shutdown: Promise<ShutdownReport> | undefined;
  #restoreLock: (() => void) | undefined;
  #restoreBreakers: (() => void) | undefined;

  constructor(
    @Inject(BallastResources) private readonly resources: BallastResources,
    @Inject(BallastExplorer) private readonly explorer: BallastExplorer,
  ) {}

  /** Workers this module started (one per queue with `@Task` methods). */
  get workers(): readonly Worker[] {
    return this.#workers;
  }

  /** Subscriptions of the `@OnEvent` handlers. */
  get subscriptions(): readonly Subscription[] {
    return this.#subs;
  }

  /** This instance's discovery registration (when `discovery.register` is configured). */
  get registration(): Registration | undefined {
    return this.#registration;
  }

  /** The report of the shutdown, once it ran. */
  get report(): Promise<ShutdownReport> | undefined {
    return this.#shutdown;
  }

  onModuleInit(): void {
    const r = this.resources;
    setCurrentResources(r);
    if (r.lock) {
      this.#restoreLock = swap(getLockManager, setLockManager, r.lock);
    }
    if (r.created.has(r.breakers)) {
      this.#restoreBreakers = swap(getBreakerRegistry, setBreakerRegistry, r.breakers);
    }
  }

  async onApplicationBootstrap(): Promise<void> {
    const r = this.resources;
    let found: ReturnType<BallastExplorer['explore']>;
    try {
      found = this.explorer.explore();
      for (const s of found.sagas) r.saga!.register(sagaOf(s.instance));
      for (const h of found.handlers) {
        this.#subs.push(await r.bus!.subscribe(h.type, (event, ctx) => h.call(event, ctx), h.options));
      }
      const byQueue = new Map<string, { queue: (typeof found.tasks)[number]['queue']; handlers: Handlers }>();
      for (const t of found.tasks) {
        const entry = byQueue.get(t.queue.name) ?? { queue: t.queue, handlers: {} };
        entry.handlers[t.name] = ((job: { data: { args: unknown[] } }) => t.run(job)) as Handlers[string];
        byQueue.set(t.queue.name, entry);
      }
      const registrations = new Map(r.queues().map((q) => [q.queue.name, q.registration]));
      for (const { queue, handlers } of byQueue.values()) {
        const options = registrations.get(queue.name)?.worker ?? {};
        this.#workers.push(createWorker(queue, handlers, { ...options, autorun: true }));
      }
      const d = r.options.discovery as { register?: object } | undefined;
      if (r.discovery && d?.register) {
        this.#registration = await r.discovery.register({ ...d.register, shutdown: false } as never);
      }
    } catch (error) {
      await this.shutdown();
      throw error;
    }
    r.logger.debug(
      {
        handlers: found.handlers.map((h) => `${h.type} → ${h.where}`),
        tasks: found.tasks.map((t) => `${t.queue.name}/${t.name}`),
        sagas: found.sagas.map((s) => s.where),
      },
      'ballast started',
    );
  }

  /**
   * With `app.enableShutdownHooks()`, Nest re-raises the signal once every hook ran, which kills the process
   * by that signal. Unless `exitOnSignal` is false, the process instead exits with code 0 when every step
   * closed and 1 when one failed or timed out, so an orchestrator sees how the shutdown went.
   */
  async onApplicationShutdown(signal?: string): Promise<void> {
    const report = await this.shutdown();
    if (signal && this.resources.options.exitOnSignal !== false) {
      process.exitCode = report.ok ? 0 : 1;
      process.once(signal as NodeJS.Signals, () => process.exit());
    }
  }

  /** Runs the ordered shutdown once (later calls return the same report). Never throws. */
  shutdown(): Promise<ShutdownReport> {
    this.#shutdown ??= this.#run();
    return this.#shutdown;
  }

  async #run(): Promise<ShutdownReport> {
    const r = this.resources;
    const log = r.logger;
    const total = r.options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
    // No logger for the registry: it logs every closed step at info; a library's lifecycle lines are debug.
    const registry = new ShutdownRegistry({ totalTimeoutMs: total, stepTimeoutMs: total });
    let closing: Promise<unknown>[] = [];
    const steps: Record<(typeof SHUTDOWN_STEPS)[number], () => Promise<void> | undefined> = {
      // Each consumer and worker stops reading at once; their in-flight work keeps running.
      'stop-intake': () => {
        for (const w of this.#workers) w.pause();
        closing = [...this.#subs.map((s) => s.close()), ...this.#workers.map((w) => w.close())];
        return undefined;
      },
      drain: async () => {
        const saga = r.saga;
        await Promise.all([
          ...closing,
          ...(saga ? saga.running().map((id) => saga.settled(id).catch(() => undefined)) : []),
        ]);
      },
      // Leases still held (a lock taken outside a drained handler) are released; a manager given to the module
      // is the caller's to close.
      'release-locks': () => (r.lock && r.created.has(r.lock) ? r.lock.close() : undefined),
      deregister: async () => {
        await this.#registration?.close();
        if (r.discovery && r.created.has(r.discovery)) await r.discovery.close();
      },
      'close-connections': () => r.closeAll(),
    };
    // The registry closes in reverse registration order.
    for (const name of [...SHUTDOWN_STEPS].reverse()) {
      registry.register(name, async () => {
        const t0 = performance.now();
        await steps[name]();
        log.debug({ step: name, durationMs: Math.round(performance.now() - t0) }, 'ballast shutdown step');
      });
    }
    const report = await registry.shutdown();
    for (const s of report.steps) {
      if (s.status !== 'closed') log.error({ err: s.error, step: s.name }, `ballast shutdown step ${s.status}`);
    }
    log.debug({ ok: report.ok, durationMs: report.durationMs }, 'ballast shut down');
    // The process-wide manager/registry `@WithLock`/`@CircuitBreaker` use go back to what they were, so a next
    // app in this process (e2e tests) does not inherit closed ones.
    this.#restoreLock?.();
    this.#restoreBreakers?.();
    setCurrentResources(undefined);
    try {
      r.options.onShutdown?.(report);
    } catch (err) {
      log.error({ err }, 'onShutdown threw');
    }
    return report;
  }
}

/**
 * Makes `mine` the process-wide instance; returns a function that puts the previous one back if `mine` is
 * still in place. A getter that throws (no default configured) had none: the slot is emptied again, so a
 * closed instance never stays the default.
 */
function swap<T>(get: () => T, set: (v: T | undefined) => void, mine: T): () => void {
  let previous: T | undefined;
  try {
    previous = get();
  } catch {
    previous = undefined;
  }
  set(mine);
  return () => {
    let current: T | undefined;
    try {
      current = get();
    } catch {
      return;
    }
    if (current === mine) set(previous);
  };
}
