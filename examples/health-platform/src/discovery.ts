/**
 * The one place the demo does discovery, on @ballast/discovery: every instance registers with an HTTP check
 * on its `/health` (every second, so the story sees changes fast), lookups are served from the cache one
 * blocking watch per service keeps current, `resolve` picks round-robin (seed 000), and `clearCache` is the
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

export class ServiceRegistry {
  readonly discovery: Discovery;
  readonly #registrations = new Map<string, Registration>();
  readonly #known = new Set<string>();

  constructor(consulUrl: string, options: { cacheTtlMs?: number } = {}) {
    this.discovery = createDiscovery({
      consul: { url: consulUrl },
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

  /** A base URL of a passing instance, round-robin. */
  resolve(service: string): Promise<string> {
    return this.discovery.resolve(service);
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
