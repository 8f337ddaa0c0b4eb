/**
 * Seed 002's health checker: named checks run every `intervalMs`; after `failureThreshold` failing rounds it
 * turns degraded mode on through config-center's DegradedModeSwitch, after `recoveryThreshold` passing rounds
 * it turns it off. A check that throws counts as failing; the loop never throws.
 */
import type { DegradedModeSwitch } from '@ballast/config-center';

export type Check = () => Promise<boolean> | boolean;

export interface CheckResult {
  name: string;
  healthy: boolean;
  error?: string;
}

export class HealthChecker {
  #timer: ReturnType<typeof setInterval> | undefined;
  #failing = 0;
  #passing = 0;
  #running = false;
  last: CheckResult[] = [];

  constructor(
    readonly checks: Record<string, Check>,
    readonly degraded: DegradedModeSwitch,
    readonly options: {
      intervalMs?: number;
      failureThreshold?: number;
      recoveryThreshold?: number;
      onFlip?: (degraded: boolean, results: CheckResult[]) => void;
      onError?: (error: unknown) => void;
    } = {},
  ) {}

  start(): this {
    this.#timer = setInterval(() => void this.runOnce(), this.options.intervalMs ?? 1_000);
    this.#timer.unref();
    return this;
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async runOnce(): Promise<CheckResult[]> {
    if (this.#running) return this.last;
    this.#running = true;
    try {
      this.last = await Promise.all(
        Object.entries(this.checks).map(async ([name, check]) => {
          try {
            return { name, healthy: Boolean(await check()) };
          } catch (error) {
            return { name, healthy: false, error: error instanceof Error ? error.message : String(error) };
          }
        }),
      );
      const healthy = this.last.every((r) => r.healthy);
      if (healthy) {
        this.#passing++;
        this.#failing = 0;
      } else {
        this.#failing++;
        this.#passing = 0;
      }
      if (!healthy && !this.degraded.degraded && this.#failing >= (this.options.failureThreshold ?? 2)) {
        const failed = this.last.filter((r) => !r.healthy).map((r) => r.name);
        await this.degraded.setDegraded(true, `health check failed: ${failed.join(', ')}`);
        this.options.onFlip?.(true, this.last);
      } else if (healthy && this.degraded.degraded && this.#passing >= (this.options.recoveryThreshold ?? 2)) {
        await this.degraded.setDegraded(false, 'health checks pass again');
        this.options.onFlip?.(false, this.last);
      }
    } catch (error) {
      this.options.onError?.(error);
    } finally {
      this.#running = false;
    }
    return this.last;
  }
}
