import type {
  DiscoveryBackend,
  InstanceStatus,
  QueryOptions,
  QueryResult,
  RegistrationSpec,
  ServiceInstance,
} from '../backend';
import { instanceUrl, worstStatus } from '../backend';
import type { ConsulClient, ConsulHealthEntry } from '../consul-client';
import { type DiscoveryBackendError, RegistrationLostError } from '../errors';

const goDuration = (ms: number) => `${Math.max(1, Math.round(ms))}ms`;
/** Consul names a registration's single check `service:<id>`. */
export const checkIdFor = (serviceId: string) => `service:${serviceId}`;

export interface ConsulBackendOptions {
  client: ConsulClient;
  /** Extra ms a blocking request may take beyond `wait` + wait/16 before it counts as failed. */
  blockingSlackMs?: number;
}

/** Registrations on the local Consul agent; discovery through `health/service` blocking queries. */
export class ConsulBackend implements DiscoveryBackend {
  readonly kind = 'consul' as const;
  readonly runsHttpChecks = true;
  readonly #client: ConsulClient;
  readonly #slackMs: number;

  constructor(options: ConsulBackendOptions) {
    this.#client = options.client;
    this.#slackMs = options.blockingSlackMs ?? 5_000;
  }

  async register(spec: RegistrationSpec): Promise<void> {
    const def: Record<string, unknown> = {
      id: spec.id,
      name: spec.name,
      address: spec.address,
      port: spec.port,
      tags: [...spec.tags],
      meta: { ...spec.meta },
    };
    const c = spec.check;
    if (c) {
      const check: Record<string, unknown> = { checkid: checkIdFor(spec.id), name: `${spec.name} health` };
      if ('http' in c) {
        check.http = c.http;
        check.interval = goDuration(c.intervalMs);
        check.timeout = goDuration(c.timeoutMs);
      } else {
        check.ttl = goDuration(c.ttlMs);
      }
      if (spec.status) check.status = spec.status;
      if (c.deregisterCriticalAfterMs !== undefined)
        check.deregistercriticalserviceafter = goDuration(c.deregisterCriticalAfterMs);
      def.check = check;
    }
    await this.#client.registerService(def);
  }

  async deregister(id: string): Promise<void> {
    try {
      await this.#client.deregisterService(id);
    } catch (err) {
      if ((err as DiscoveryBackendError).status === 404) return; // already gone: the goal is reached
      throw err;
    }
  }

  async heartbeat(id: string, status: InstanceStatus, output?: string): Promise<void> {
    try {
      await this.#client.updateTtl(checkIdFor(id), status, output);
    } catch (err) {
      if ((err as DiscoveryBackendError).status === 404) throw new RegistrationLostError(id);
      throw err;
    }
  }

  async isRegistered(id: string): Promise<boolean> {
    return (await this.#client.agentServiceIds()).has(id);
  }

  async query(name: string, options: QueryOptions = {}): Promise<QueryResult> {
    const blocking = (options.index ?? 0) > 0;
    const waitMs = options.waitMs ?? 300_000;
    const { index, entries } = await this.#client.healthService(name, {
      tag: options.tag,
      index: options.index,
      waitMs: blocking ? waitMs : undefined,
      signal: options.signal,
      timeoutMs: blocking ? waitMs + waitMs / 16 + this.#slackMs : this.#slackMs,
    });
    return { index, instances: entries.map(toInstance) };
  }

  async close(): Promise<void> {
    this.#client.close();
  }
}

function toInstance(e: ConsulHealthEntry): ServiceInstance {
  const address = e.Service.Address || e.Node.Address; // Consul: empty service address = the node's
  return {
    id: e.Service.ID,
    name: e.Service.Service,
    address,
    port: e.Service.Port,
    tags: e.Service.Tags ?? [],
    meta: e.Service.Meta ?? {},
    status: worstStatus(e.Checks.map((c) => c.Status)),
    url: instanceUrl(address, e.Service.Port),
  };
}
