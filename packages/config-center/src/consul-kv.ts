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
}

export interface ConsulKvOptions {
  /** `http://host:8500`; a bare `host:port` gets `http://`. */
  url: string;
  /** Sent as `X-Consul-Token`. */
  token?: string;
  /** Timeout of a non-blocking request. */
  requestTimeoutMs?: number;
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

/** `ConsulKv` over global `fetch`. */
export function createConsulKv(options: ConsulKvOptions): ConsulKv {
  const base = (/^https?:\/\//i.test(options.url) ? options.url : `http://${options.url}`).replace(/\/+$/, '');
  const timeoutMs = options.requestTimeoutMs ?? 5_000;
  const headers: Record<string, string> = {};
  if (options.token) headers['X-Consul-Token'] = options.token;
  const where = `consul ${base}`;

  async function call(
    method: string,
    key: string,
    query: Record<string, string | number | undefined>,
    init: { body?: string; signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<Response> {
    const qs = Object.entries(query)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => (v === '' ? k : `${k}=${encodeURIComponent(String(v))}`))
      .join('&');
    const url = `${base}/v1/kv/${encodeKey(key)}${qs ? `?${qs}` : ''}`;
    const timeout = AbortSignal.timeout(Math.ceil(init.timeoutMs ?? timeoutMs));
    const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    let res: Response;
    try {
      res = await fetch(url, { method, headers, signal, ...(init.body !== undefined ? { body: init.body } : {}) });
    } catch (error) {
      if (init.signal?.aborted) throw init.signal.reason;
      const reason = timeout.aborted
        ? `${method} ${key}: no answer within the timeout`
        : `${method} ${key}: ${String((error as Error)?.cause ?? error)}`;
      throw new RemoteUnavailableError(where, reason, { cause: error });
    }
    if (res.status >= 400 && res.status !== 404) {
      const text = await res.text().catch(() => '');
      throw new RemoteUnavailableError(where, `${method} ${key}: HTTP ${res.status} ${text.trim()}`);
    }
    return res;
  }

  const indexOf = (res: Response) => {
    const n = Number(res.headers.get('X-Consul-Index'));
    return Number.isFinite(n) && n > 0 ? n : 0;
  };

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
      const index = indexOf(res);
      if (res.status === 404) {
        await res.body?.cancel();
        return { index, pairs: [] };
      }
      return { index, pairs: ((await res.json()) as RawPair[]).map(decode) };
    },
    async keys(prefix, signal) {
      const res = await call('GET', prefix, { keys: '' }, signal ? { signal } : {});
      if (res.status === 404) {
        await res.body?.cancel();
        return [];
      }
      return (await res.json()) as string[];
    },
    async get(key, signal) {
      const res = await call('GET', key, {}, signal ? { signal } : {});
      if (res.status === 404) {
        await res.body?.cancel();
        return undefined;
      }
      const [pair] = (await res.json()) as RawPair[];
      return pair && decode(pair);
    },
    async put(key, value, o = {}) {
      const query = { cas: o.cas, flags: o.flags };
      const res = await call('PUT', key, query, { body: value, ...(o.signal ? { signal: o.signal } : {}) });
      return (await res.json()) === true;
    },
    async delete(key, o = {}) {
      const query = { cas: o.cas, recurse: o.recurse ? '' : undefined };
      const res = await call('DELETE', key, query, o.signal ? { signal: o.signal } : {});
      return res.status === 404 ? false : (await res.json()) === true;
    },
  };
}
