import { EventEmitter } from 'node:events';
import https from 'node:https';
import {
  BackendUnavailableError,
  type BallastError,
  type ConsulEndpoint,
  isBackendFailure,
  resolveConsulEndpoint,
} from '@ballast/core';
import Consul from 'consul';
import { DiscoveryBackendError } from './errors';

/** The Consul health entry fields discovery reads. */
export interface ConsulHealthEntry {
  Service: {
    ID: string;
    Service: string;
    Address: string;
    Port: number;
    Tags: string[] | null;
    Meta: Record<string, string> | null;
  };
  Node: { Address: string };
  Checks: { Status: 'passing' | 'warning' | 'critical' }[];
}

/**
 * The few Consul calls discovery makes, behind an interface so tests and other clients can stand in.
 * The default implementation uses the `consul` npm package.
 */
export interface ConsulClient {
  registerService(definition: Record<string, unknown>): Promise<void>;
  deregisterService(id: string): Promise<void>;
  /** `PUT /v1/agent/check/pass|warn|fail/:id`; rejects with status 404 when the agent does not know it. */
  updateTtl(checkId: string, status: 'passing' | 'warning' | 'critical', note?: string): Promise<void>;
  /** Service IDs the local agent knows (anti-entropy). */
  agentServiceIds(): Promise<Set<string>>;
  /** `GET /v1/health/service/:name` with optional blocking `index` + `wait`. */
  healthService(
    name: string,
    options: { tag?: string; index?: number; waitMs?: number; signal?: AbortSignal; timeoutMs: number },
  ): Promise<{ index: number; entries: ConsulHealthEntry[] }>;
  close(): void;
}

export interface ConsulConnection {
  /**
   * Agent address, `host:port` with an optional `http://`/`https://`, e.g. `127.0.0.1:8500`. Default
   * `CONSUL_HTTP_ADDR`, else `http://127.0.0.1:8500`; `CONSUL_HTTP_SSL`, `CONSUL_HTTP_SSL_VERIFY`, `CONSUL_CACERT`, …
   * apply as Consul's CLI reads them (core's `resolveConsulEndpoint`). A bad value throws `InvalidConsulConfigError`.
   */
  url?: string;
  /** ACL token sent as `X-Consul-Token`. Default `CONSUL_HTTP_TOKEN`. */
  token?: string;
  /** Where the `CONSUL_*` variables are read. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Per-request timeout for non-blocking calls. */
  timeoutMs: number;
}

type Err = Error & { statusCode?: number; response?: { statusCode?: number } };

/**
 * Consul unreachable or silent (refused, reset, papi's `TimeoutError`): core's `BackendUnavailableError`
 * (backend `consul`). Consul answering with an error: `DiscoveryBackendError` with its HTTP status.
 */
const wrap = (what: string, err: unknown): BallastError => {
  const e = err as Err;
  // papi's TimeoutError keeps `name` 'Error': its class says it.
  if (isBackendFailure(err) || (err instanceof Error && [err.name, err.constructor.name].includes('TimeoutError'))) {
    return new BackendUnavailableError('consul', what, err);
  }
  const status = e?.statusCode ?? e?.response?.statusCode;
  return new DiscoveryBackendError(`Consul ${what} failed: ${e?.message ?? String(err)}`, status, { cause: err });
};

/** A `ConsulClient` on the `consul` npm package (2.x): keep-alive agent, token, blocking index/wait. */
export function createConsulClient(connection: ConsulConnection): ConsulClient {
  const endpoint = resolveConsulEndpoint({
    ...(connection.url === undefined ? {} : { address: connection.url }),
    ...(connection.token === undefined ? {} : { token: connection.token }),
    ...(connection.env ? { env: connection.env } : {}),
  });
  return consulClientFor(endpoint, connection.timeoutMs);
}

/** `createConsulClient` on an endpoint already resolved. */
export function consulClientFor(endpoint: ConsulEndpoint, timeoutMs: number): ConsulClient {
  const consul = new Consul({
    // @ts-expect-error baseUrl is supported by the implementation (papi) but missing from the typings
    baseUrl: `${endpoint.url}/v1`,
    defaults: endpoint.token ? { token: endpoint.token } : undefined,
    // TLS settings from the environment (CA, client cert, SSL_VERIFY=false, SNI) need an agent of their own.
    ...(endpoint.tls ? { agent: new https.Agent({ keepAlive: true, ...endpoint.tls }) } : {}),
  });
  const timeout = timeoutMs;
  // The typings omit the per-request options (timeout, ctx) the implementation accepts.
  type Call = (opts: Record<string, unknown>) => Promise<unknown>;
  const api = consul as unknown as {
    agent: { service: { register: Call; deregister: Call; list: Call }; check: { pass: Call; warn: Call; fail: Call } };
    health: { service: Call };
  };
  return {
    async registerService(definition) {
      try {
        await api.agent.service.register({ ...definition, timeout });
      } catch (err) {
        throw wrap('service register', err);
      }
    },
    async deregisterService(id) {
      try {
        await api.agent.service.deregister({ id, timeout });
      } catch (err) {
        throw wrap('service deregister', err);
      }
    },
    async updateTtl(checkId, status, note) {
      const verb = status === 'passing' ? 'pass' : status === 'warning' ? 'warn' : 'fail';
      try {
        await api.agent.check[verb]({ id: checkId, note, timeout });
      } catch (err) {
        throw wrap('check update', err);
      }
    },
    async agentServiceIds() {
      try {
        const list = (await api.agent.service.list({ timeout })) as Record<string, unknown>;
        return new Set(Object.keys(list ?? {}));
      } catch (err) {
        throw wrap('agent services', err);
      }
    },
    async healthService(name, o) {
      o.signal?.throwIfAborted();
      const ctx = Object.assign(new EventEmitter(), { includeResponse: true });
      const onAbort = () => ctx.emit('cancel');
      o.signal?.addEventListener('abort', onAbort, { once: true });
      try {
        const opts: Record<string, unknown> = { service: name, ctx, timeout: o.timeoutMs };
        if (o.tag) opts.tag = o.tag;
        if (o.index !== undefined && o.index > 0) {
          opts.index = String(o.index);
          if (o.waitMs !== undefined) opts.wait = `${Math.max(1, Math.round(o.waitMs))}ms`;
        }
        const [res, body] = (await api.health.service(opts)) as [
          { headers: Record<string, string | undefined> },
          ConsulHealthEntry[],
        ];
        return { index: Number(res.headers['x-consul-index'] ?? 0), entries: body ?? [] };
      } catch (err) {
        throw wrap('health query', err);
      } finally {
        o.signal?.removeEventListener('abort', onAbort);
      }
    },
    close() {
      consul.destroy();
    },
  };
}
