/**
 * Service registry on Consul's agent/health HTTP API — the one place the demo does discovery.
 *
 * @ballast/discovery had not landed when this example was written, so this is the simplest honest stand-in:
 * register with an HTTP check on `/health`, resolve passing instances round-robin (seed 000's
 * ServiceDiscovery), cache the instance list like seed 003's Consul cache, clear it on demand. Swap this
 * module for @ballast/discovery's client when it lands; nothing else in the example talks to Consul.
 */

export interface Instance {
  id: string;
  service: string;
  address: string;
  port: number;
  status: 'passing' | 'warning' | 'critical';
}

interface HealthEntry {
  Service: { ID: string; Service: string; Address: string; Port: number };
  Checks: { Status: 'passing' | 'warning' | 'critical'; ServiceID: string }[];
}

export class NoInstanceError extends Error {
  readonly code = 'NO_INSTANCE';
  constructor(readonly service: string) {
    super(`no passing instance of ${service}`);
    this.name = 'NoInstanceError';
  }
}

export class ServiceRegistry {
  readonly #consul: string;
  readonly #cacheTtlMs: number;
  readonly #cache = new Map<string, { at: number; instances: Instance[] }>();
  readonly #next = new Map<string, number>();
  readonly #registered = new Set<string>();

  constructor(consulUrl: string, options: { cacheTtlMs?: number } = {}) {
    this.#consul = consulUrl.replace(/\/$/, '');
    this.#cacheTtlMs = options.cacheTtlMs ?? 5_000;
  }

  async register(service: string, id: string, port: number, options: { intervalMs?: number } = {}): Promise<void> {
    const res = await fetch(`${this.#consul}/v1/agent/service/register`, {
      method: 'PUT',
      body: JSON.stringify({
        ID: id,
        Name: service,
        Address: '127.0.0.1',
        Port: port,
        Tags: ['health-platform'],
        Check: {
          HTTP: `http://127.0.0.1:${port}/health`,
          Interval: `${Math.max(1, Math.round((options.intervalMs ?? 1_000) / 1_000))}s`,
          Timeout: '2s',
        },
      }),
    });
    if (!res.ok) throw new Error(`Consul register ${id}: ${res.status} ${await res.text()}`);
    this.#registered.add(id);
  }

  async deregister(id: string): Promise<void> {
    this.#registered.delete(id);
    await fetch(`${this.#consul}/v1/agent/service/deregister/${encodeURIComponent(id)}`, { method: 'PUT' }).catch(
      () => {},
    );
  }

  async deregisterAll(): Promise<void> {
    await Promise.all([...this.#registered].map((id) => this.deregister(id)));
  }

  /** Every instance of `service` with its aggregated check status (for the dashboard). */
  async instances(service: string): Promise<Instance[]> {
    const res = await fetch(`${this.#consul}/v1/health/service/${encodeURIComponent(service)}`);
    if (!res.ok) return [];
    const entries = (await res.json()) as HealthEntry[];
    return entries.map((e) => {
      const own = e.Checks.filter((c) => c.ServiceID === e.Service.ID);
      const status = own.some((c) => c.Status === 'critical')
        ? 'critical'
        : own.some((c) => c.Status === 'warning')
          ? 'warning'
          : 'passing';
      return { id: e.Service.ID, service: e.Service.Service, address: e.Service.Address, port: e.Service.Port, status };
    });
  }

  async services(): Promise<string[]> {
    const res = await fetch(`${this.#consul}/v1/catalog/services`);
    if (!res.ok) return [];
    return Object.keys((await res.json()) as Record<string, string[]>).filter((s) => s !== 'consul');
  }

  /** A base URL of a passing instance, round-robin; the list is cached for `cacheTtlMs`. */
  async resolve(service: string): Promise<string> {
    const picked = await this.pick(service);
    return `http://${picked.address}:${picked.port}`;
  }

  async pick(service: string): Promise<Instance> {
    let cached = this.#cache.get(service);
    if (!cached || Date.now() - cached.at > this.#cacheTtlMs || cached.instances.length === 0) {
      const passing = (await this.instances(service)).filter((i) => i.status === 'passing');
      cached = { at: Date.now(), instances: passing };
      this.#cache.set(service, cached);
    }
    if (cached.instances.length === 0) throw new NoInstanceError(service);
    const n = this.#next.get(service) ?? 0;
    this.#next.set(service, n + 1);
    return cached.instances[n % cached.instances.length]!;
  }

  /** Seed 003's `POST /service-cache/clear`: forget cached instance lists. Returns how many were dropped. */
  clearCache(): number {
    const n = this.#cache.size;
    this.#cache.clear();
    return n;
  }

  /** Resolves once every named service has `count` passing instances (checks run every second). */
  async waitPassing(expected: Record<string, number>, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const counts = await Promise.all(
        Object.entries(expected).map(async ([s, n]) => {
          const passing = (await this.instances(s)).filter((i) => i.status === 'passing').length;
          return passing >= n;
        }),
      );
      if (counts.every(Boolean)) return;
      if (Date.now() > deadline) throw new Error('services did not pass their health checks in time');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
