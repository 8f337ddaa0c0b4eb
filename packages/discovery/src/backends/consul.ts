import type {
  AgentCheckDefinition,
  CheckDefinition,
  DiscoveryBackend,
  InstanceStatus,
  QueryOptions,
  QueryResult,
  RegistrationSpec,
  ServiceInstance,
} from '../backend';
import { instanceUrl, worstStatus } from '../backend';
import type { ConsulClient, ConsulConsistency, ConsulHealthEntry } from '../consul-client';
import { DiscoveryBackendError, RegistrationLostError } from '../errors';

const goDuration = (ms: number) => `${Math.max(1, Math.round(ms))}ms`;
/** Consul names a registration's single check `service:<id>`. */
export const checkIdFor = (serviceId: string) => `service:${serviceId}`;

export interface ConsulBackendOptions {
  client: ConsulClient;
  /** Extra ms a blocking request may take beyond `wait` + wait/16 before it counts as failed. */
  blockingSlackMs?: number;
  /** Consistency of health reads (default `stale`). */
  consistency?: ConsulConsistency;
  /** A `stale` answer whose `X-Consul-LastContact` exceeds this is re-read with `default` consistency (5 000). */
  maxStaleMs?: number;
  dc?: string;
  ns?: string;
}

type Body = Record<string, unknown>;

/** One check as Consul's register body takes it. */
function checkBody(c: CheckDefinition | AgentCheckDefinition, id: string, name: string): Body {
  const b: Body = { CheckID: id, Name: name };
  if ('ttlMs' in c) b.TTL = goDuration(c.ttlMs);
  else {
    if ('http' in c) b.HTTP = c.http;
    else if ('tcp' in c) b.TCP = c.tcp;
    else {
      b.GRPC = c.grpc;
      b.GRPCUseTLS = c.grpcUseTls;
    }
    b.Interval = goDuration(c.intervalMs);
    b.Timeout = goDuration(c.timeoutMs);
  }
  if (c.deregisterCriticalAfterMs !== undefined)
    b.DeregisterCriticalServiceAfter = goDuration(c.deregisterCriticalAfterMs);
  return b;
}

/** Registrations on the local Consul agent; discovery through `health/service` blocking queries. */
export class ConsulBackend implements DiscoveryBackend {
  readonly kind = 'consul' as const;
  readonly runsHttpChecks = true;
  readonly #client: ConsulClient;
  readonly #slackMs: number;
  readonly #scope: { consistency: ConsulConsistency; dc?: string; ns?: string };
  readonly #maxStaleMs: number;

  constructor(options: ConsulBackendOptions) {
    this.#client = options.client;
    this.#slackMs = options.blockingSlackMs ?? 5_000;
    this.#maxStaleMs = options.maxStaleMs ?? 5_000;
    this.#scope = {
      consistency: options.consistency ?? 'stale',
      ...(options.dc === undefined ? {} : { dc: options.dc }),
      ...(options.ns === undefined ? {} : { ns: options.ns }),
    };
  }

  /** `PUT /v1/agent/service/register` with Consul's JSON body (Weights, EnableTagOverride, Checks). */
  async register(spec: RegistrationSpec): Promise<void> {
    const def: Body = {
      ID: spec.id,
      Name: spec.name,
      Address: spec.address,
      Port: spec.port,
      Tags: [...spec.tags],
      Meta: { ...spec.meta },
      EnableTagOverride: spec.enableTagOverride ?? false,
    };
    if (spec.weights) def.Weights = { Passing: spec.weights.passing, Warning: spec.weights.warning };
    const checks: Body[] = [];
    const c = spec.check;
    if (c) {
      const check = checkBody(c, checkIdFor(spec.id), `${spec.name} health`);
      if (spec.status) check.Status = spec.status;
      checks.push(check);
    }
    // Consul numbers a service's unnamed checks service:<id>:1, :2, …; the primary check keeps service:<id>.
    (spec.checks ?? []).forEach((x, i) => {
      checks.push(checkBody(x, `${checkIdFor(spec.id)}:${i + 2}`, `${spec.name} check ${i + 2}`));
    });
    if (checks.length === 1) def.Check = checks[0];
    else if (checks.length > 1) def.Checks = checks;
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
    const scope = { ...this.#scope, ...(options.filter === undefined ? {} : { filter: options.filter }) };
    let res = await this.#client.healthService(name, {
      ...scope,
      tag: options.tag,
      index: options.index,
      waitMs: blocking ? waitMs : undefined,
      signal: options.signal,
      timeoutMs: blocking ? waitMs + waitMs / 16 + this.#slackMs : this.#slackMs,
    });
    // A server out of touch with the leader for longer than we accept: ask the leader (Consul's max-stale rule).
    if (scope.consistency === 'stale' && (res.lastContactMs ?? 0) > this.#maxStaleMs) {
      res = await this.#client.healthService(name, {
        ...scope,
        consistency: 'default',
        tag: options.tag,
        signal: options.signal,
        timeoutMs: this.#slackMs,
      });
    }
    // Consul filters what the token may not read instead of refusing (200 [] + X-Consul-Results-Filtered-By-ACLs):
    // "no instances" would hide a missing or weak token.
    if (res.filteredByAcls && res.entries.length === 0) {
      throw new DiscoveryBackendError(
        `Consul health query for "${name}": results filtered by ACLs (the token cannot read this service)`,
        403,
      );
    }
    return { index: res.index, instances: res.entries.map(toInstance) };
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
    port: e.Service.Port ?? 0,
    tags: e.Service.Tags ?? [],
    meta: e.Service.Meta ?? {},
    status: worstStatus(e.Checks.map((c) => c.Status)),
    url: instanceUrl(address, e.Service.Port ?? 0),
    ...(e.Service.Weights
      ? { weights: { passing: e.Service.Weights.Passing, warning: e.Service.Weights.Warning } }
      : {}),
  };
}
