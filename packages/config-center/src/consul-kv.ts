import http from 'node:http';
import https from 'node:https';
import { BackendTimeoutError, BackendUnavailableError, resolveConsulEndpoint } from '@ballast/core';
import { RemoteUnavailableError } from './errors';

/** One KV pair as Consul returns it, value decoded from base64 to UTF-8 (`null`: empty value). */
export interface KvPair {
  key: string;
  value: string | null;
  modifyIndex: number;
  /** Consul's opaque per-key `Flags` (config-center stores the version a single-key commit wrote). */
  flags: number;
}

export interface KvListOptions {
  /** Blocking query: hold until the prefix's index exceeds this (Consul's `?index=`). */
  index?: number;
  /** Blocking query wait (`?wait=<n>ms`). */
  waitMs?: number;
  signal?: AbortSignal;
}

/** One KV operation of a `/v1/txn` (https://developer.hashicorp.com/consul/api-docs/txn, "KV Operations"). */
export interface KvTxnOp {
  verb:
    | 'set'
    | 'cas'
    | 'lock'
    | 'unlock'
    | 'get'
    | 'get-or-empty'
    | 'get-tree'
    | 'check-index'
    | 'check-session'
    | 'check-not-exists'
    | 'delete'
    | 'delete-tree'
    | 'delete-cas';
  key: string;
  /** UTF-8; sent base64-encoded. */
  value?: string;
  flags?: number;
  index?: number;
  session?: string;
}

/** A transaction's answer: applied (200, with the KV results) or rolled back (409, with every failed operation). */
export type KvTxnResult = { ok: true; results: KvPair[] } | { ok: false; errors: { opIndex: number; what: string }[] };

/** The few Consul KV calls config-center makes, behind one small interface. */
export interface ConsulKv {
  /** `GET /v1/kv/<prefix>?recurse[&index&wait]`: pairs under `prefix` and the `X-Consul-Index`. 404 → none. */
  list(prefix: string, options?: KvListOptions): Promise<{ index: number; pairs: KvPair[] }>;
  /** `GET /v1/kv/<prefix>?keys`: key names only. */
  keys(prefix: string, signal?: AbortSignal): Promise<string[]>;
  /** `GET /v1/kv/<key>`. */
  get(key: string, signal?: AbortSignal): Promise<KvPair | undefined>;
  /** `PUT /v1/kv/<key>[?cas=<index>][&flags=<n>]`: false when the check-and-set failed (`cas=0`: only if absent). */
  put(key: string, value: string, options?: { cas?: number; flags?: number; signal?: AbortSignal }): Promise<boolean>;
  /** `DELETE /v1/kv/<key>[?cas=<index>][?recurse]`. */
  delete(key: string, options?: { cas?: number; recurse?: boolean; signal?: AbortSignal }): Promise<boolean>;
  /**
   * `PUT /v1/txn`: every operation or none. A rolled-back transaction (409) resolves `{ ok: false, errors }`; more
   * operations than the agent allows (413) rejects with `RemoteUnavailableError`.
   */
  txn(ops: readonly KvTxnOp[], signal?: AbortSignal): Promise<KvTxnResult>;
}

export interface ConsulKvOptions {
  /**
   * `host:port` with an optional `http://`/`https://` scheme. Default `CONSUL_HTTP_ADDR`, else
   * `http://127.0.0.1:8500`; `CONSUL_HTTP_SSL`, `CONSUL_HTTP_SSL_VERIFY`, `CONSUL_CACERT`, … apply as Consul's CLI
   * reads them (core's `resolveConsulEndpoint`). A bad value throws `InvalidConsulConfigError`.
   */
  url?: string;
  /** Sent as `X-Consul-Token`. Default `CONSUL_HTTP_TOKEN`. */
  token?: string;
  /** Timeout of a non-blocking request. */
  requestTimeoutMs?: number;
  /** Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
}

interface RawPair {
  Key: string;
  Value: string | null;
  ModifyIndex: number;
  Flags?: number;
}

const decode = (p: RawPair): KvPair => ({
  key: p.Key,
  value: p.Value === null ? null : Buffer.from(p.Value, 'base64').toString('utf8'),
  modifyIndex: p.ModifyIndex,
  flags: p.Flags ?? 0,
});

/** Keys are paths: encode each segment, keep the slashes. */
const encodeKey = (key: string) => key.split('/').map(encodeURIComponent).join('/');

interface HttpReply {
  status: number;
  index: number;
  text: string;
  /** `X-Consul-Results-Filtered-By-ACLs: true`: the token could not see some (or all) of the answer. */
  filtered: boolean;
}

/**
 * One request over node:http(s) with a keep-alive agent. Not `fetch`: measured on the propagation bench,
 * undici's per-request cost (1-20 ms each on a loaded machine) was most of a change's path through Consul,
 * and node:http with pooled sockets was 2-3x faster.
 */
function send(
  url: URL,
  agent: http.Agent,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  signal: AbortSignal,
): Promise<HttpReply> {
  const secure = url.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(
      url,
      {
        method,
        headers: body === undefined ? headers : { ...headers, 'content-length': Buffer.byteLength(body) },
        agent,
        signal,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const n = Number(res.headers['x-consul-index']);
          resolve({
            status: res.statusCode ?? 0,
            index: Number.isFinite(n) && n > 0 ? n : 0,
            text: Buffer.concat(chunks).toString('utf8'),
            filtered: res.headers['x-consul-results-filtered-by-acls'] === 'true',
          });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const httpAgent = new http.Agent({ keepAlive: true });
const httpsAgent = new https.Agent({ keepAlive: true });

/** `ConsulKv` over node:http(s). */
export function createConsulKv(options: ConsulKvOptions = {}): ConsulKv {
  const endpoint = resolveConsulEndpoint({
    ...(options.url === undefined ? {} : { address: options.url }),
    ...(options.token === undefined ? {} : { token: options.token }),
    ...(options.env ? { env: options.env } : {}),
  });
  const base = endpoint.url;
  // The shared keep-alive agents, unless TLS settings from the environment need an agent of their own.
  const custom =
    endpoint.tls &&
    (endpoint.tls.ca || endpoint.tls.cert || endpoint.tls.servername || !endpoint.tls.rejectUnauthorized);
  const agent = !endpoint.secure
    ? httpAgent
    : custom
      ? new https.Agent({ keepAlive: true, ...endpoint.tls })
      : httpsAgent;
  const timeoutMs = options.requestTimeoutMs ?? 5_000;
  const headers: Record<string, string> = {};
  if (endpoint.token) headers['X-Consul-Token'] = endpoint.token;
  const where = `consul ${base}`;

  async function call(
    method: string,
    key: string,
    query: Record<string, string | number | undefined>,
    init: { body?: string; signal?: AbortSignal; timeoutMs?: number; path?: string; accept?: number[] } = {},
  ): Promise<HttpReply> {
    const qs = Object.entries(query)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => (v === '' ? k : `${k}=${encodeURIComponent(String(v))}`))
      .join('&');
    const url = new URL(`${base}${init.path ?? `/v1/kv/${encodeKey(key)}`}${qs ? `?${qs}` : ''}`);
    const timeout = AbortSignal.timeout(Math.ceil(init.timeoutMs ?? timeoutMs));
    const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    let res: HttpReply;
    try {
      res = await send(url, agent, method, headers, init.body, signal);
    } catch (error) {
      if (init.signal?.aborted) throw init.signal.reason;
      // Consul unreachable or silent: an outage is core's BackendUnavailableError, as in every package.
      const cause = timeout.aborted ? new BackendTimeoutError(`${method} ${key}`, init.timeoutMs ?? timeoutMs) : error;
      throw new BackendUnavailableError('consul', `${where} ${method} ${key}`, cause);
    }
    if (res.status >= 500) {
      // Consul answered but cannot serve (no cluster leader, an agent that lost its servers): an outage too.
      const answer = `HTTP ${res.status} ${res.text.trim()}`;
      throw new BackendUnavailableError('consul', `${where} ${method} ${key}`, new Error(answer));
    }
    if (res.status >= 400 && res.status !== 404 && !init.accept?.includes(res.status)) {
      throw new RemoteUnavailableError(where, `${method} ${key}: HTTP ${res.status} ${res.text.trim()}`);
    }
    // Consul filters what a token may not read instead of refusing: a prefix read without the right token is a 404
    // (or fewer keys) flagged by this header. Taken as an empty prefix, the config would silently lose its values.
    if (res.filtered) {
      throw new RemoteUnavailableError(
        where,
        `${method} ${key}: results filtered by ACLs (HTTP ${res.status}, X-Consul-Results-Filtered-By-ACLs): the token cannot read this prefix`,
      );
    }
    return res;
  }

  return {
    async list(prefix, o = {}) {
      const blocking = o.index !== undefined && o.index > 0;
      const waitMs = o.waitMs ?? 30_000;
      const res = await call(
        'GET',
        prefix,
        { recurse: '', index: blocking ? o.index : undefined, wait: blocking ? `${waitMs}ms` : undefined },
        // Consul adds up to wait/16 of jitter to a blocking query: allow for it plus a normal request's time.
        {
          ...(o.signal ? { signal: o.signal } : {}),
          timeoutMs: blocking ? waitMs + waitMs / 16 + timeoutMs : timeoutMs,
        },
      );
      if (res.status === 404) return { index: res.index, pairs: [] };
      return { index: res.index, pairs: (JSON.parse(res.text) as RawPair[]).map(decode) };
    },
    async keys(prefix, signal) {
      const res = await call('GET', prefix, { keys: '' }, signal ? { signal } : {});
      if (res.status === 404) return [];
      return JSON.parse(res.text) as string[];
    },
    async get(key, signal) {
      const res = await call('GET', key, {}, signal ? { signal } : {});
      if (res.status === 404) return undefined;
      const [pair] = JSON.parse(res.text) as RawPair[];
      return pair && decode(pair);
    },
    async put(key, value, o = {}) {
      const query = { cas: o.cas, flags: o.flags };
      const res = await call('PUT', key, query, { body: value, ...(o.signal ? { signal: o.signal } : {}) });
      return JSON.parse(res.text) === true;
    },
    async delete(key, o = {}) {
      const query = { cas: o.cas, recurse: o.recurse ? '' : undefined };
      const res = await call('DELETE', key, query, o.signal ? { signal: o.signal } : {});
      return res.status === 404 ? false : JSON.parse(res.text) === true;
    },
    async txn(ops, signal) {
      const body = JSON.stringify(
        ops.map((o) => ({
          KV: {
            Verb: o.verb,
            Key: o.key,
            ...(o.value === undefined ? {} : { Value: Buffer.from(o.value, 'utf8').toString('base64') }),
            ...(o.flags === undefined ? {} : { Flags: o.flags }),
            ...(o.index === undefined ? {} : { Index: o.index }),
            ...(o.session === undefined ? {} : { Session: o.session }),
          },
        })),
      );
      const res = await call('PUT', 'txn', {}, { body, path: '/v1/txn', accept: [409], ...(signal ? { signal } : {}) });
      const answer = JSON.parse(res.text) as {
        Results: { KV?: RawPair }[] | null;
        Errors: { OpIndex: number; What: string }[] | null;
      };
      if (res.status === 409) {
        return { ok: false, errors: (answer.Errors ?? []).map((e) => ({ opIndex: e.OpIndex, what: e.What })) };
      }
      return { ok: true, results: (answer.Results ?? []).flatMap((r) => (r.KV ? [decode(r.KV)] : [])) };
    },
  };
}
