/** Health of one instance as the registry sees it (Consul's check states). */
export type InstanceStatus = 'passing' | 'warning' | 'critical';

/** One registered instance of a service. */
export interface ServiceInstance {
  /** Unique per instance (Consul service ID). */
  readonly id: string;
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly tags: readonly string[];
  readonly meta: Readonly<Record<string, string>>;
  /** Worst status of its checks; discovery serves only `passing` ones (Consul's `?passing`). */
  readonly status: InstanceStatus;
  /** `http://address:port` (or the URL it came from, for static and env sources). */
  readonly url: string;
  /** Consul's weights by status, when the registry has them. */
  readonly weights?: { readonly passing: number; readonly warning: number };
}

/** The health check a registration carries. */
export type CheckDefinition =
  | {
      /** Polled by the agent (Consul) or by the registry itself (Redis, memory backends). */
      http: string;
      intervalMs: number;
      timeoutMs: number;
      /** Consul removes the service after it is critical this long (≥ 1 min). */
      deregisterCriticalAfterMs?: number;
    }
  | {
      /** The registry heartbeats every ttl/3; a missed TTL turns the instance critical. */
      ttlMs: number;
      deregisterCriticalAfterMs?: number;
    };

/** A check only an agent runs (Consul): TCP connect or the gRPC health protocol. */
export type AgentCheckDefinition =
  | Extract<CheckDefinition, { http: string }>
  | { tcp: string; intervalMs: number; timeoutMs: number; deregisterCriticalAfterMs?: number }
  | {
      grpc: string;
      grpcUseTls: boolean;
      intervalMs: number;
      timeoutMs: number;
      deregisterCriticalAfterMs?: number;
    };

export interface RegistrationSpec {
  id: string;
  name: string;
  address: string;
  port: number;
  tags: readonly string[];
  meta: Readonly<Record<string, string>>;
  check?: CheckDefinition;
  /** More checks the agent runs (backends with `runsHttpChecks` only). */
  checks?: readonly AgentCheckDefinition[];
  weights?: { passing: number; warning: number };
  enableTagOverride?: boolean;
  /** Initial status (default `critical` for checked registrations, as Consul; `passing` without a check). */
  status?: InstanceStatus;
}

export interface QueryOptions {
  tag?: string;
  /** A registry-side filter expression (Consul's `?filter=`); backends without one refuse it. */
  filter?: string;
  /** Blocking query: return when the result's index exceeds this (0 = answer at once). */
  index?: number;
  /** Longest a blocking query may hold. */
  waitMs?: number;
  signal?: AbortSignal;
}

export interface QueryResult {
  /** Opaque, growing while the backend lives; may go backwards after a backend reset. */
  index: number;
  /** Every registered instance of the service, any status. */
  instances: ServiceInstance[];
}

/**
 * Where registrations live and where discovery reads them: Consul's agent/catalog, Redis keys with TTL +
 * pub/sub, or process memory. All pass the same contract suite (test/backend.contract.ts).
 */
export interface DiscoveryBackend {
  readonly kind: 'consul' | 'redis' | 'memory';
  /** Consul runs HTTP checks itself; Redis and memory need the registry to poll and heartbeat. */
  readonly runsHttpChecks: boolean;
  register(spec: RegistrationSpec): Promise<void>;
  deregister(id: string): Promise<void>;
  /** Reports a TTL check result; throws `RegistrationLostError` when the backend no longer knows the id. */
  heartbeat(id: string, status: InstanceStatus, output?: string): Promise<void>;
  /** Anti-entropy: is this registration still known? */
  isRegistered(id: string): Promise<boolean>;
  /** Instances of `name`; with `index` > 0, a blocking query. */
  query(name: string, options?: QueryOptions): Promise<QueryResult>;
  close(): Promise<void>;
}

export const instanceUrl = (address: string, port: number): string =>
  `http://${address.includes(':') && !address.startsWith('[') ? `[${address}]` : address}:${port}`;

/** Worst of a set of statuses (critical > warning > passing). */
export function worstStatus(statuses: Iterable<InstanceStatus>): InstanceStatus {
  let worst: InstanceStatus = 'passing';
  for (const s of statuses) {
    if (s === 'critical') return 'critical';
    if (s === 'warning') worst = 'warning';
  }
  return worst;
}
