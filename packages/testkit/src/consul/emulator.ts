/**
 * The emulator's lifecycle: the public options and handle, the node:http server that records each request and
 * hands it to the routes, and restart/close on the same port.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { type Clock, systemClock } from '@ballast/core';
import { DurationError } from './duration';
import { Request, send } from './http';
import { ConsulHttpError } from './model';
import { route } from './routes';
import { ConsulStore } from './store';

export interface ConsulEmulatorOptions {
  /** Port to listen on; 0 (default) = a random free port. */
  port?: number;
  /** Interface to bind; default 127.0.0.1. */
  host?: string;
  /**
   * Default-deny ACLs with this one token allowed everything (`X-Consul-Token`, Bearer, or `?token=`, which wins).
   * Without a token, reads are filtered and writes refused as Consul does for the anonymous token; another token
   * is 403 "ACL not found".
   */
  aclToken?: string;
  /** Tokens that exist but are granted nothing: filtered like the anonymous token, and told so by the header. */
  aclDeniedTokens?: readonly string[];
  /** Drives TTL checks, session TTLs, HTTP check intervals, the reaper and blocking-query waits. */
  clock?: Clock;
  /** Serve HTTPS with this PEM key and certificate (as an agent with `tls.defaults` + an https port). */
  tls?: { key: string; cert: string };
  /**
   * Operations allowed in one `/v1/txn` (Consul's `maxTxnOps`); default 128 as the Transactions API page documents
   * ("Up to 128 operations"); 64 to emulate older releases (`agent/txn_endpoint.go` had `maxTxnOps = 64`).
   */
  maxTxnOps?: number;
  /**
   * Randomness of the first probe of a new HTTP/TCP check (Consul waits a random time within the interval).
   * Default `Math.random`; `() => 0` probes at once.
   */
  random?: () => number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
}

export interface ConsulEmulator {
  /** `http://<host>:<port>` (`https://` with the `tls` option) */
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

/**
 * Starts a Consul-compatible HTTP emulator (agent, health, catalog, KV, sessions, status) on node:http,
 * with blocking queries, check TTLs, real HTTP check polling and ACL-token enforcement. It is an emulator
 * of the endpoints Ballast uses, not Consul: it says so in every response (`X-Consul-Emulator`).
 */
export async function startConsulEmulator(options: ConsulEmulatorOptions = {}): Promise<ConsulEmulator> {
  const clock = options.clock ?? systemClock;
  const host = options.host ?? '127.0.0.1';
  let store = new ConsulStore(clock, options.random);
  let recorded: RecordedRequest[] = [];
  let server: Server | undefined;
  let port = options.port ?? 0;

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://emulator');
    let r: Request;
    try {
      r = new Request(req, url);
    } catch {
      // Go's URL parser refuses a malformed escape the same way; thrown here, it would crash the host process.
      const text = `invalid URL escape "${url.pathname.slice(url.pathname.lastIndexOf('%'))}"`;
      send(store, res, { status: 400, raw: Buffer.from(text) }, 'text/plain; charset=utf-8');
      return;
    }
    recorded.push({ method: r.method, path: r.path, query: Object.fromEntries(url.searchParams) });
    const current = store;
    // Only reads served from the state store carry query metadata: writes and the agent's (and status) own
    // endpoints answer without X-Consul-Index or leader headers (agent/http.go: setMeta is called by reads only).
    const local = r.method !== 'GET' || r.path.startsWith('/v1/agent/') || r.path.startsWith('/v1/status/');
    route(current, r, res, options).then(
      (reply) => send(current, res, local && reply.meta === undefined ? { ...reply, meta: 'none' } : reply),
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

  const listen = async () => {
    const srv = options.tls
      ? createTlsServer({ key: options.tls.key, cert: options.tls.cert }, handle)
      : createServer(handle);
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
      return `${options.tls ? 'https' : 'http'}://${hostForUrl}:${port}`;
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
      if (!opts.keepData) store = new ConsulStore(clock, options.random);
      await listen();
    },
    close: stop,
  };
}
