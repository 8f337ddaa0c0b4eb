import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Clock, systemClock } from '@ballast/core';
import { DurationError, parseDuration } from './duration';
import { ConsulHttpError, ConsulStore, NODE } from './store';

export interface ConsulEmulatorOptions {
  /** Port to listen on; 0 (default) = a random free port. */
  port?: number;
  /** Interface to bind; default 127.0.0.1. */
  host?: string;
  /** When set, every request (except `status/*`) must carry it as `X-Consul-Token` or `?token=`, else 403. */
  aclToken?: string;
  /** Drives TTL checks, session TTLs, HTTP check intervals, the reaper and blocking-query waits. */
  clock?: Clock;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
}

export interface ConsulEmulator {
  /** `http://<host>:<port>` */
  readonly url: string;
  readonly port: number;
  /** Every request seen since start (or the last `resetRequests`), in arrival order. */
  requests(): readonly RecordedRequest[];
  resetRequests(): void;
  /**
   * Stops and starts again on the same port, dropping open connections (blocking queries see a reset).
   * By default forgets services, checks, KV and sessions and restarts indexes at 1, like an agent restarted
   * without a data dir; `keepData: true` keeps them.
   */
  restart(opts?: { keepData?: boolean }): Promise<void>;
  close(): Promise<void>;
}

const DEFAULT_WAIT_MS = 5 * 60_000;
const MAX_WAIT_MS = 10 * 60_000;
const MAX_KV_BYTES = 512 * 1024;
const LABEL = 'ballast-testkit Consul emulator';

interface Reply {
  status?: number;
  index?: number;
  json?: unknown;
  raw?: Buffer;
}

class Request {
  readonly query: URLSearchParams;
  readonly path: string;
  constructor(
    readonly req: IncomingMessage,
    url: URL,
  ) {
    this.query = url.searchParams;
    this.path = decodeURIComponent(url.pathname);
  }
  get method(): string {
    return this.req.method ?? 'GET';
  }
  flag(name: string): boolean {
    return this.query.has(name) && this.query.get(name) !== 'false';
  }
  uint(name: string): number | undefined {
    const v = this.query.get(name);
    if (v === null || v === '') return undefined;
    if (!/^\d+$/.test(v)) throw new ConsulHttpError(400, `Invalid ${name}: ${v}`);
    return Number(v);
  }
  async body(limit = 10 * 1024 * 1024): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of this.req) {
      size += (chunk as Buffer).length;
      if (size > limit)
        throw new ConsulHttpError(
          413,
          `Request body(${size} bytes) too large, max size: ${limit} bytes. See https://developer.hashicorp.com/docs/agent/config/config-files#kv_max_value_size.`,
        );
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }
  async json(): Promise<unknown> {
    const buf = await this.body();
    if (buf.length === 0) return {};
    try {
      return JSON.parse(buf.toString('utf8'));
    } catch (err) {
      throw new ConsulHttpError(400, `Request decode failed: ${(err as Error).message}`);
    }
  }
}

/**
 * Starts a Consul-compatible HTTP emulator (agent, health, catalog, KV, sessions, status) on node:http,
 * with blocking queries, check TTLs, real HTTP check polling and ACL-token enforcement. It is an emulator
 * of the endpoints Ballast uses, not Consul: it says so in every response (`X-Consul-Emulator`).
 */
export async function startConsulEmulator(options: ConsulEmulatorOptions = {}): Promise<ConsulEmulator> {
  const clock = options.clock ?? systemClock;
  const host = options.host ?? '127.0.0.1';
  let store = new ConsulStore(clock);
  let recorded: RecordedRequest[] = [];
  let server: Server | undefined;
  let port = options.port ?? 0;

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const r = new Request(req, url);
    recorded.push({ method: r.method, path: r.path, query: Object.fromEntries(url.searchParams) });
    const current = store;
    route(current, r, res).then(
      (reply) => send(current, res, reply),
      (err: unknown) => {
        if (err instanceof ConsulHttpError)
          send(current, res, { status: err.status, raw: Buffer.from(err.message) }, 'text/plain; charset=utf-8');
        else if (err instanceof DurationError)
          send(
            current,
            res,
            { status: 400, raw: Buffer.from(`Request decode failed: ${err.message}`) },
            'text/plain; charset=utf-8',
          );
        else
          send(
            current,
            res,
            { status: 500, raw: Buffer.from(String((err as Error)?.message ?? err)) },
            'text/plain; charset=utf-8',
          );
      },
    );
  };

  const send = (s: ConsulStore, res: ServerResponse, reply: Reply, contentType?: string) => {
    if (res.writableEnded || res.destroyed) return;
    res.statusCode = reply.status ?? 200;
    res.setHeader('X-Consul-Index', String(Math.max(1, reply.index ?? s.index)));
    res.setHeader('X-Consul-KnownLeader', 'true');
    res.setHeader('X-Consul-LastContact', '0');
    res.setHeader('X-Consul-Emulator', LABEL);
    if (reply.raw !== undefined) {
      res.setHeader('Content-Type', contentType ?? 'application/octet-stream');
      res.end(reply.raw);
    } else if (reply.json !== undefined) {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify(reply.json));
    } else {
      res.end();
    }
  };

  const route = async (s: ConsulStore, r: Request, res: ServerResponse): Promise<Reply> => {
    const p = r.path;
    if (!p.startsWith('/v1/status/') && options.aclToken !== undefined) {
      const auth = r.req.headers.authorization;
      const token =
        (r.req.headers['x-consul-token'] as string | undefined) ??
        r.query.get('token') ??
        (auth?.startsWith('Bearer ') ? auth.slice(7) : undefined);
      if (token !== options.aclToken) throw new ConsulHttpError(403, token ? 'ACL not found' : 'Permission denied');
    }
    const method = (...allowed: string[]) => {
      if (!allowed.includes(r.method)) throw new ConsulHttpError(405, `method ${r.method} not allowed`);
    };
    let m: RegExpExecArray | null;

    if (p === '/v1/status/leader') {
      method('GET');
      return { json: '127.0.0.1:8300' };
    }
    if (p === '/v1/status/peers') {
      method('GET');
      return { json: ['127.0.0.1:8300'] };
    }
    if (p === '/v1/agent/self') {
      method('GET');
      return {
        json: {
          Config: {
            Datacenter: NODE.datacenter,
            NodeName: NODE.name,
            NodeID: NODE.id,
            Server: true,
            Version: 'emulator',
          },
          Member: { Name: NODE.name, Addr: NODE.address, Port: 8301, Status: 1 },
          Meta: { 'consul-emulator': LABEL },
        },
      };
    }
    if (p === '/v1/agent/service/register') {
      method('PUT');
      s.registerService(await r.json(), r.flag('replace-existing-checks'));
      return {};
    }
    m = /^\/v1\/agent\/service\/deregister\/(.+)$/.exec(p);
    if (m) {
      method('PUT');
      s.deregisterService(m[1] as string);
      return {};
    }
    m = /^\/v1\/agent\/service\/(.+)$/.exec(p);
    if (m) {
      method('GET');
      const svc = s.services.get(m[1] as string);
      if (!svc) throw new ConsulHttpError(404, `unknown service ID: ${m[1]}`);
      return { json: s.serviceJson(svc) };
    }
    if (p === '/v1/agent/services') {
      method('GET');
      return { json: Object.fromEntries([...s.services.values()].map((x) => [x.id, s.serviceJson(x)])) };
    }
    if (p === '/v1/agent/checks') {
      method('GET');
      return { json: Object.fromEntries([...s.checks.values()].map((c) => [c.checkId, s.checkJson(c)])) };
    }
    if (p === '/v1/agent/check/register') {
      method('PUT');
      s.registerCheck(await r.json());
      return {};
    }
    m = /^\/v1\/agent\/check\/deregister\/(.+)$/.exec(p);
    if (m) {
      method('PUT');
      s.deregisterCheck(m[1] as string);
      return {};
    }
    m = /^\/v1\/agent\/check\/(pass|warn|fail|update)\/(.+)$/.exec(p);
    if (m) {
      method('PUT');
      const id = m[2] as string;
      if (m[1] === 'update') {
        const b = (await r.json()) as { Status?: string; Output?: string };
        s.updateTtlCheck(id, b.Status ?? '', b.Output ?? '');
      } else {
        const status = m[1] === 'pass' ? 'passing' : m[1] === 'warn' ? 'warning' : 'critical';
        s.updateTtlCheck(id, status, r.query.get('note') ?? '');
      }
      return {};
    }
    m = /^\/v1\/health\/service\/(.+)$/.exec(p);
    if (m) {
      method('GET');
      const name = m[1] as string;
      const tags = r.query.getAll('tag');
      const passing = r.flag('passing');
      return blocking(s, r, res, () => {
        const out = s.healthService(name, tags, passing);
        return { index: out.index, json: out.body };
      });
    }
    m = /^\/v1\/health\/checks\/(.+)$/.exec(p);
    if (m) {
      method('GET');
      const name = m[1] as string;
      return blocking(s, r, res, () => ({
        index: s.serviceIndex.get(name) ?? s.tables.services,
        json: [...s.checks.values()]
          .filter((c) => s.services.get(c.serviceId)?.name === name)
          .map((c) => s.checkJson(c)),
      }));
    }
    if (p === '/v1/catalog/services') {
      method('GET');
      return blocking(s, r, res, () => ({ index: s.tables.services, json: s.catalogServices() }));
    }
    m = /^\/v1\/catalog\/service\/(.+)$/.exec(p);
    if (m) {
      method('GET');
      const name = m[1] as string;
      const tags = r.query.getAll('tag');
      return blocking(s, r, res, () => ({
        index: s.serviceIndex.get(name) ?? s.tables.services,
        json: [...s.services.values()]
          .filter((x) => x.name === name && tags.every((t) => x.tags.includes(t)))
          .map((x) => ({
            Node: NODE.name,
            Address: NODE.address,
            Datacenter: NODE.datacenter,
            ServiceID: x.id,
            ServiceName: x.name,
            ServiceTags: x.tags,
            ServiceAddress: x.address,
            ServicePort: x.port,
            ServiceMeta: x.meta,
            CreateIndex: x.createIndex,
            ModifyIndex: x.modifyIndex,
          })),
      }));
    }
    m = /^\/v1\/kv\/(.*)$/.exec(p);
    if (m) return kv(s, r, res, m[1] as string);
    if (p === '/v1/session/create') {
      method('PUT');
      const id = s.createSession(await r.json());
      return { json: { ID: id } };
    }
    m = /^\/v1\/session\/destroy\/(.+)$/.exec(p);
    if (m) {
      method('PUT');
      s.destroySession(m[1] as string);
      return { json: true };
    }
    m = /^\/v1\/session\/renew\/(.+)$/.exec(p);
    if (m) {
      method('PUT');
      const sess = s.renewSession(m[1] as string);
      if (!sess) throw new ConsulHttpError(404, `Session id '${m[1]}' not found`);
      return { json: [s.sessionJson(sess)] };
    }
    m = /^\/v1\/session\/info\/(.+)$/.exec(p);
    if (m) {
      method('GET');
      const id = m[1] as string;
      return blocking(s, r, res, () => {
        const sess = s.sessions.get(id);
        return { index: s.tables.sessions, json: sess ? [s.sessionJson(sess)] : [] };
      });
    }
    if (p === '/v1/session/list' || /^\/v1\/session\/node\/.+$/.test(p)) {
      method('GET');
      return blocking(s, r, res, () => ({
        index: s.tables.sessions,
        json: [...s.sessions.values()].map((x) => s.sessionJson(x)),
      }));
    }
    throw new ConsulHttpError(404, '404 page not found');
  };

  const kv = async (s: ConsulStore, r: Request, res: ServerResponse, key: string): Promise<Reply> => {
    if (r.method === 'GET') {
      const recurse = r.flag('recurse');
      const keysOnly = r.flag('keys');
      const raw = r.flag('raw');
      const separator = r.query.get('separator') ?? '';
      return blocking(s, r, res, () => {
        if (keysOnly) {
          const { index, entries } = s.kvList(key);
          const keys = new Set<string>();
          for (const e of entries) {
            const at = separator ? e.key.indexOf(separator, key.length) : -1;
            keys.add(at === -1 ? e.key : e.key.slice(0, at + separator.length));
          }
          return keys.size === 0 ? { status: 404, index } : { index, json: [...keys] };
        }
        if (recurse) {
          const { index, entries } = s.kvList(key);
          return entries.length === 0 ? { status: 404, index } : { index, json: entries.map((e) => s.kvJson(e)) };
        }
        const { index, entry } = s.kvGet(key);
        if (!entry) return { status: 404, index };
        return raw ? { index, raw: entry.value } : { index, json: [s.kvJson(entry)] };
      });
    }
    if (!key) throw new ConsulHttpError(400, 'Missing key name');
    if (r.method === 'PUT') {
      const flags = r.uint('flags');
      const cas = r.uint('cas');
      const acquire = r.query.get('acquire') ?? undefined;
      const release = r.query.get('release') ?? undefined;
      if (acquire !== undefined && release !== undefined)
        throw new ConsulHttpError(400, 'Conflicting flags: acquire=, release=');
      const value = await r.body(MAX_KV_BYTES);
      return { json: s.kvPut(key, value, { flags, cas, acquire, release }) };
    }
    if (r.method === 'DELETE') {
      return { json: s.kvDelete(key, { recurse: r.flag('recurse'), cas: r.uint('cas') }) };
    }
    throw new ConsulHttpError(405, `method ${r.method} not allowed`);
  };

  /** Consul's blocking query: with `?index=N` (N > 0) hold until the result's index exceeds N or `wait` passes. */
  const blocking = (s: ConsulStore, r: Request, res: ServerResponse, evaluate: () => Reply): Promise<Reply> => {
    const minIndex = r.uint('index') ?? 0;
    const waitMs = Math.min(parseDuration(r.query.get('wait') ?? undefined) ?? DEFAULT_WAIT_MS, MAX_WAIT_MS);
    const first = evaluate();
    if (minIndex === 0 || (first.index ?? 1) > minIndex) return Promise.resolve(first);
    return new Promise<Reply>((resolve) => {
      let done = false;
      const finish = (reply: Reply) => {
        if (done) return;
        done = true;
        unsubscribe();
        clock.clearTimeout(timer);
        res.off('close', onClose);
        resolve(reply);
      };
      const unsubscribe = s.onChange(() => {
        const next = evaluate();
        if ((next.index ?? 1) > minIndex) finish(next);
      });
      // Consul adds up to wait/16 of jitter so many watchers do not wake together.
      const timer = clock.setTimeout(() => finish(evaluate()), waitMs + Math.random() * (waitMs / 16));
      timer.unref();
      const onClose = () => finish({});
      res.on('close', onClose);
    });
  };

  const listen = async () => {
    const srv = createServer(handle);
    srv.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, host, () => {
        srv.off('error', reject);
        resolve();
      });
    });
    port = (srv.address() as AddressInfo).port;
    server = srv;
    store.start();
  };

  const stop = async () => {
    store.stop();
    const srv = server;
    server = undefined;
    if (!srv) return;
    await new Promise<void>((resolve) => {
      srv.close(() => resolve());
      srv.closeAllConnections();
    });
  };

  await listen();
  const hostForUrl = host.includes(':') ? `[${host}]` : host;

  return {
    get url() {
      return `http://${hostForUrl}:${port}`;
    },
    get port() {
      return port;
    },
    requests: () => recorded,
    resetRequests: () => {
      recorded = [];
    },
    async restart(opts = {}) {
      await stop();
      // Let in-process clients see their pooled sockets close before the port answers again.
      for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
      if (!opts.keepData) store = new ConsulStore(clock);
      await listen();
    },
    close: stop,
  };
}
