import http from 'node:http';
import https from 'node:https';
import {
  BackendUnavailableError,
  type BallastError,
  type ConsulEndpoint,
  isBackendFailure,
  resolveConsulEndpoint,
} from '@ballast/core';
import { DiscoveryBackendError } from './errors';

/** The Consul health entry fields discovery reads. */
export interface ConsulHealthEntry {
  Service: {
    ID: string;
    Service: string;
    Address: string;
    /** Consul omits it when 0. */
    Port?: number;
    Tags: string[] | null;
    Meta: Record<string, string> | null;
    Weights?: { Passing: number; Warning: number };
  };
  Node: { Address: string };
  Checks: { Status: 'passing' | 'warning' | 'critical' }[];
}

/** How fresh a read must be (Consul's consistency modes): `stale` lets any server answer. */
export type ConsulConsistency = 'default' | 'stale' | 'consistent';

/** Query parameters every read takes (Consul's common query options). */
export interface ConsulQueryScope {
  consistency?: ConsulConsistency;
  /** `?dc=`: another datacenter (an unknown one answers 500). */
  dc?: string;
  /** `?ns=`: the namespace (Consul Enterprise). */
  ns?: string;
  /** `?filter=`: a Consul filter expression over the health entries, e.g. `Service.Meta.version == "2"`. */
  filter?: string;
}

/**
 * The few Consul calls discovery makes, behind an interface so tests and other clients can stand in.
 * The default implementation speaks Consul's HTTP API over node:http(s) with a keep-alive agent.
 */
export interface ConsulClient {
  /** `PUT /v1/agent/service/register` with Consul's JSON body (`Name`, `ID`, `Weights`, `Checks`, …). */
  registerService(definition: Record<string, unknown>): Promise<void>;
  deregisterService(id: string): Promise<void>;
  /** `PUT /v1/agent/check/pass|warn|fail/:id`; rejects with status 404 when the agent does not know it. */
  updateTtl(checkId: string, status: 'passing' | 'warning' | 'critical', note?: string): Promise<void>;
  /** Service IDs the local agent knows (anti-entropy). */
  agentServiceIds(): Promise<Set<string>>;
  /**
   * `GET /v1/health/service/:name` with optional blocking `index` + `wait`, consistency, dc, ns and filter.
   * `lastContactMs`/`knownLeader` are Consul's `X-Consul-LastContact`/`X-Consul-KnownLeader` (how stale the answer
   * may be).
   */
  healthService(
    name: string,
    options: ConsulQueryScope & {
      tag?: string;
      index?: number;
      waitMs?: number;
      signal?: AbortSignal;
      timeoutMs: number;
    },
  ): Promise<{
    index: number;
    entries: ConsulHealthEntry[];
    lastContactMs?: number;
    knownLeader?: boolean;
    /** `X-Consul-Results-Filtered-By-ACLs: true`: the token could not see some instances. */
    filteredByAcls?: boolean;
  }>;
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

/** Consul took longer than the request's timeout. */
class ConsulTimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

/**
 * Consul unreachable or silent (refused, reset, timed out): core's `BackendUnavailableError` (backend `consul`).
 * Consul answering with an error: `DiscoveryBackendError` with its HTTP status and Consul's message.
 */
const wrap = (what: string, err: unknown): BallastError => {
  if (isBackendFailure(err) || err instanceof ConsulTimeoutError)
    return new BackendUnavailableError('consul', what, err);
  return new DiscoveryBackendError(`Consul ${what} failed: ${(err as Error)?.message ?? String(err)}`, undefined, {
    cause: err,
  });
};

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** A `ConsulClient` over node:http(s) on an endpoint given as options or environment. */
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
  const secure = endpoint.url.startsWith('https:');
  // TLS settings from the environment (CA, client cert, SSL_VERIFY=false, SNI) go on the agent.
  const agent = secure
    ? new https.Agent({ keepAlive: true, ...(endpoint.tls ?? {}) })
    : new http.Agent({ keepAlive: true });
  const headers: Record<string, string> = endpoint.token ? { 'x-consul-token': endpoint.token } : {};

  function send(
    what: string,
    method: string,
    path: string,
    query: Record<string, string | undefined>,
    o: { body?: unknown; timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<Reply> {
    const url = new URL(`${endpoint.url}/v1${path}`);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, v);
    const body = o.body === undefined ? undefined : JSON.stringify(o.body);
    const limit = o.timeoutMs ?? timeoutMs;
    return new Promise<Reply>((resolve, reject) => {
      o.signal?.throwIfAborted();
      const req = (secure ? https : http).request(url, {
        method,
        agent,
        headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
        ...(o.signal ? { signal: o.signal } : {}),
      });
      const timer = setTimeout(
        () => req.destroy(new ConsulTimeoutError(`Consul did not answer ${what} within ${limit} ms`)),
        limit,
      );
      timer.unref?.();
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') });
        });
      });
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      req.end(body);
    }).then(
      (reply) => {
        if (reply.status >= 200 && reply.status < 300) return reply;
        const message = reply.text.trim() || http.STATUS_CODES[reply.status] || 'error';
        throw new DiscoveryBackendError(`Consul ${what} failed: ${reply.status} ${message}`, reply.status);
      },
      (err: unknown) => {
        if (o.signal?.aborted) throw o.signal.reason ?? err;
        throw wrap(what, err);
      },
    );
  }

  return {
    async registerService(definition) {
      await send('service register', 'PUT', '/agent/service/register', {}, { body: definition });
    },
    async deregisterService(id) {
      await send('service deregister', 'PUT', `/agent/service/deregister/${encodeURIComponent(id)}`, {});
    },
    async updateTtl(checkId, status, note) {
      const verb = status === 'passing' ? 'pass' : status === 'warning' ? 'warn' : 'fail';
      await send('check update', 'PUT', `/agent/check/${verb}/${encodeURIComponent(checkId)}`, { note });
    },
    async agentServiceIds() {
      const reply = await send('agent services', 'GET', '/agent/services', {});
      return new Set(Object.keys((JSON.parse(reply.text || '{}') as Record<string, unknown>) ?? {}));
    },
    async healthService(name, o) {
      const blocking = o.index !== undefined && o.index > 0;
      const reply = await send(
        o.filter === undefined ? 'health query' : `health query (filter ${JSON.stringify(o.filter)})`,
        'GET',
        `/health/service/${encodeURIComponent(name)}`,
        {
          tag: o.tag,
          index: blocking ? String(o.index) : undefined,
          wait: blocking && o.waitMs !== undefined ? `${Math.max(1, Math.round(o.waitMs))}ms` : undefined,
          stale: o.consistency === 'stale' ? '' : undefined,
          consistent: o.consistency === 'consistent' ? '' : undefined,
          dc: o.dc,
          ns: o.ns,
          filter: o.filter,
        },
        { timeoutMs: o.timeoutMs, ...(o.signal ? { signal: o.signal } : {}) },
      );
      let entries: ConsulHealthEntry[];
      try {
        entries = (JSON.parse(reply.text || '[]') as ConsulHealthEntry[] | null) ?? [];
      } catch (err) {
        throw new DiscoveryBackendError(`Consul health query failed: unreadable answer`, reply.status, { cause: err });
      }
      const lastContact = Number(reply.headers['x-consul-lastcontact']);
      const leader = reply.headers['x-consul-knownleader'];
      return {
        index: Number(reply.headers['x-consul-index'] ?? 0) || 0,
        entries,
        ...(Number.isFinite(lastContact) && reply.headers['x-consul-lastcontact'] !== undefined
          ? { lastContactMs: lastContact }
          : {}),
        ...(leader === undefined ? {} : { knownLeader: leader === 'true' }),
        ...(reply.headers['x-consul-results-filtered-by-acls'] === 'true' ? { filteredByAcls: true } : {}),
      };
    },
    close() {
      agent.destroy();
    },
  };
}
