/**
 * The one place the demo does discovery, on @ballast/discovery: every instance registers with an HTTP check
 * on its `/health` (every second, so the story sees changes fast), lookups are served from the cache one
 * blocking watch per service keeps current, `target` picks round-robin (seed 000) among the instances outlier
 * detection has not ejected (every HTTP client reports each call's outcome to it), and `clearCache` is the
 * gateway's `POST /service-cache/clear` (seed 003's Consul cache).
 */
import {
  createDiscovery,
  type Discovery,
  isServiceUnavailableError,
  type Registration,
  type ServiceInstance,
} from '@ballast/discovery';

export interface Instance {
  id: string;
  service: string;
  address: string;
  port: number;
  status: ServiceInstance['status'];
}

export const isNoInstanceError = isServiceUnavailableError;

/** How long an instance's first ejection lasts (each further one lasts this × its count, at most 60 s). */
export const OUTLIER_EJECTION_MS = 10_000;

export class ServiceRegistry {
  readonly discovery: Discovery;
  readonly #registrations = new Map<string, Registration>();
  readonly #known = new Set<string>();

  constructor(consulUrl: string, options: { cacheTtlMs?: number } = {}) {
    this.discovery = createDiscovery({
      consul: { url: consulUrl },
      // Envoy's outlier ejection, fed by every call's outcome (`target` below): 5 failures in a row (a 5xx, a
      // timeout, a refused connection) hold an instance out of picking for 10 s (the package's default is 30 s;
      // the demo shortens it, as it shortens the breaker reset), longer each time it is ejected again. Its health
      // check may well pass meanwhile: that is what ejection is for.
      outlierDetection: {
        consecutiveFailures: 5,
        baseEjectionMs: OUTLIER_EJECTION_MS,
        maxEjectionMs: 60_000,
        maxEjectionPercent: 50,
      },
      ...(options.cacheTtlMs === undefined ? {} : { cacheTtlMs: options.cacheTtlMs }),
    });
  }

  async register(service: string, id: string, port: number): Promise<void> {
    const registration = await this.discovery.register({
      name: service,
      id,
      address: '127.0.0.1',
      port,
      tags: ['health-platform'],
      check: { intervalMs: 1_000, timeoutMs: 2_000 },
      shutdown: false,
    });
    this.#registrations.set(id, registration);
    this.#known.add(service);
  }

  async deregister(id: string): Promise<void> {
    const registration = this.#registrations.get(id);
    this.#registrations.delete(id);
    await registration?.close().catch(() => {});
  }

  /** Every instance of `service` with its check status (for the dashboard). */
  async instances(service: string): Promise<Instance[]> {
    try {
      const { all } = await this.discovery.lookup(service);
      return all.map((i) => ({ id: i.id, service: i.name, address: i.address, port: i.port, status: i.status }));
    } catch {
      return [];
    }
  }

  /**
   * A passing instance, round-robin, minus those outlier detection ejected: what the HTTP clients take as
   * `resolve`. The client calls `done({ ok })` when each try ends, so failures count towards ejection and
   * in-flight calls are known.
   */
  readonly target = (service: string): ReturnType<Discovery['target']> => this.discovery.target(service);

  /** Instance ids of `service` this process's outlier detection holds out of picking now. */
  ejected(service: string): string[] {
    return this.discovery.ejected(service);
  }

  /** Seed 003's `POST /service-cache/clear`: forget cached answers. Returns how many services were known. */
  clearCache(): number {
    this.discovery.clearCache();
    return this.#known.size;
  }

  /** Resolves once every named service has `count` passing instances (checks run every second). */
  async waitPassing(expected: Record<string, number>, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ok = await Promise.all(
        Object.entries(expected).map(async ([s, n]) => (await this.discovery.discover(s).catch(() => [])).length >= n),
      );
      if (ok.every(Boolean)) return;
      if (Date.now() > deadline) throw new Error('services did not pass their health checks in time');
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async close(): Promise<void> {
    await this.discovery.close();
  }
}
