import { type Clock, systemClock } from './clock';
import { BallastError } from './errors';
import type { Logger } from './logger';
import { processWide } from './process-wide';

/** Anything that holds resources: consumers, lock holders, registrations, connections. */
export interface Closeable {
  close(): Promise<void> | void;
}

export type CloseFn = () => Promise<void> | void;

export class ShutdownTimeoutError extends BallastError {
  static readonly code = 'SHUTDOWN_TIMEOUT';
  /**
   * @param timeoutMs the limit that ran out: the step's own, or — when `totalTimeoutMs` is given — what was
   *   left of the whole shutdown's.
   */
  constructor(name: string, timeoutMs: number, totalTimeoutMs?: number) {
    super(
      new.target.code,
      totalTimeoutMs === undefined
        ? `"${name}" did not close within ${timeoutMs} ms`
        : `"${name}" did not close before the shutdown deadline (${totalTimeoutMs} ms for all steps)`,
    );
  }
}

export interface ShutdownStep {
  name: string;
  status: 'closed' | 'failed' | 'timeout';
  durationMs: number;
  error?: unknown;
}

export interface ShutdownReport {
  /** Steps in the order they ran: reverse of registration. */
  steps: ShutdownStep[];
  ok: boolean;
  durationMs: number;
}

export interface RegisterOptions {
  /** Per-resource limit; default the registry's `stepTimeoutMs`. */
  timeoutMs?: number;
}

export interface ShutdownRegistryOptions {
  /** Limit for one resource's close. Default 10 000 ms. */
  stepTimeoutMs?: number;
  /**
   * Limit for the whole shutdown, every step together. Default 30 000 ms. Each step gets the smaller of its own
   * limit and what is left of this one; once it has run out, the remaining steps are still called (a quick,
   * synchronous close still completes) but not waited for: they are reported as `timeout`.
   */
  totalTimeoutMs?: number;
  clock?: Clock;
  logger?: Logger;
}

interface Entry {
  name: string;
  close: CloseFn;
  timeoutMs: number;
}

/**
 * One graceful-shutdown registry: resources register as they start; `shutdown()` closes them in reverse
 * start order (consumers drain before the connections they use close), each bounded by a timeout so one
 * stuck resource cannot hold the process, and all of them by an overall deadline so N stuck resources cannot
 * hold it N times as long. A failing or slow step is reported and the next one still runs.
 */
export class ShutdownRegistry {
  readonly #entries: Entry[] = [];
  readonly #stepTimeoutMs: number;
  readonly #totalTimeoutMs: number;
  readonly #clock: Clock;
  readonly #logger: Logger | undefined;
  #shutdown: Promise<ShutdownReport> | undefined;

  constructor(options: ShutdownRegistryOptions = {}) {
    this.#stepTimeoutMs = options.stepTimeoutMs ?? 10_000;
    this.#totalTimeoutMs = options.totalTimeoutMs ?? 30_000;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger;
  }

  /** Registers a resource; returns a function that removes it (call when it closed by itself). */
  register(name: string, resource: Closeable | CloseFn, options: RegisterOptions = {}): () => void {
    if (this.#shutdown) throw new BallastError('SHUTTING_DOWN', `cannot register "${name}": shutdown has begun`);
    const entry: Entry = {
      name,
      close: typeof resource === 'function' ? resource : () => resource.close(),
      timeoutMs: options.timeoutMs ?? this.#stepTimeoutMs,
    };
    this.#entries.push(entry);
    return () => {
      const i = this.#entries.indexOf(entry);
      if (i >= 0) this.#entries.splice(i, 1);
    };
  }

  get size(): number {
    return this.#entries.length;
  }

  get isShuttingDown(): boolean {
    return this.#shutdown !== undefined;
  }

  /** Closes everything in reverse order. Idempotent: later calls return the first call's report. */
  shutdown(): Promise<ShutdownReport> {
    this.#shutdown ??= this.#run();
    return this.#shutdown;
  }

  async #run(): Promise<ShutdownReport> {
    const started = this.#clock.monotonic();
    const deadline = started + this.#totalTimeoutMs;
    const steps: ShutdownStep[] = [];
    const entries = this.#entries.splice(0).reverse();
    for (const entry of entries) {
      const stepStart = this.#clock.monotonic();
      const left = Math.max(0, deadline - stepStart);
      const step = await this.#closeOne(entry, left < entry.timeoutMs ? left : undefined);
      const done: ShutdownStep = { name: entry.name, durationMs: this.#clock.monotonic() - stepStart, ...step };
      steps.push(done);
      if (done.status === 'closed') this.#logger?.debug({ resource: entry.name }, 'closed');
      else this.#logger?.error({ resource: entry.name, err: done.error }, `close ${done.status}`);
    }
    return { steps, ok: steps.every((s) => s.status === 'closed'), durationMs: this.#clock.monotonic() - started };
  }

  /** Closes one entry within its own timeout, or within `deadlineLeftMs` when the overall deadline is nearer. */
  #closeOne(entry: Entry, deadlineLeftMs: number | undefined): Promise<Pick<ShutdownStep, 'status' | 'error'>> {
    return new Promise((resolve) => {
      const timer = this.#clock.setTimeout(
        () =>
          resolve({
            status: 'timeout',
            error:
              deadlineLeftMs === undefined
                ? new ShutdownTimeoutError(entry.name, entry.timeoutMs)
                : new ShutdownTimeoutError(entry.name, deadlineLeftMs, this.#totalTimeoutMs),
          }),
        deadlineLeftMs ?? entry.timeoutMs,
      );
      Promise.resolve()
        .then(entry.close)
        .then(
          () => resolve({ status: 'closed' }),
          (error: unknown) => resolve({ status: 'failed', error }),
        )
        .finally(() => this.#clock.clearTimeout(timer));
    });
  }
}

export interface SignalHandlingOptions {
  signals?: readonly NodeJS.Signals[];
  /** Exit the process after shutdown (code 0 when every step closed, else 1). Default true. */
  exit?: boolean;
  /** Called with the report before exiting. */
  onShutdown?: (report: ShutdownReport, signal: NodeJS.Signals) => void;
}

/**
 * Opt-in: runs `registry.shutdown()` on SIGTERM/SIGINT. A second signal while shutting down exits at once
 * with code 130. Returns a function that removes the handlers.
 */
export function handleSignals(registry: ShutdownRegistry, options: SignalHandlingOptions = {}): () => void {
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const exit = options.exit ?? true;
  const handler = (signal: NodeJS.Signals) => {
    if (registry.isShuttingDown) {
      if (exit) process.exit(130);
      return;
    }
    void registry.shutdown().then((report) => {
      options.onShutdown?.(report, signal);
      if (exit) process.exit(report.ok ? 0 : 1);
    });
  };
  for (const s of signals) process.on(s, handler);
  return () => {
    for (const s of signals) process.off(s, handler);
  };
}

// Shared by every copy of core in the process (ESM and CJS builds): one shutdown for everything registered.
const defaultRegistry = processWide<ShutdownRegistry>('@ballast/core/shutdownRegistry');

/** The process-wide registry packages register into when not given one. Replaceable for tests. */
export function getShutdownRegistry(): ShutdownRegistry {
  let registry = defaultRegistry.get();
  if (!registry) {
    registry = new ShutdownRegistry();
    defaultRegistry.set(registry);
  }
  return registry;
}

/**
 * Replaces the process-wide registry; returns the one it replaces (`undefined` when none was created yet), so a
 * test can put it back: `const previous = setShutdownRegistry(mine); … setShutdownRegistry(previous)`.
 * `undefined` resets it: the next `getShutdownRegistry()` creates a fresh one.
 */
export function setShutdownRegistry(registry: ShutdownRegistry | undefined): ShutdownRegistry | undefined {
  const previous = defaultRegistry.get();
  defaultRegistry.set(registry);
  return previous;
}
