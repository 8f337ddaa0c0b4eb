/**
 * The emulator's HTTP plumbing: a request with Consul's query-parameter and body rules, and the reply every
 * endpoint returns, written with Consul's headers (`X-Consul-Index`, leader headers, `X-Consul-Emulator`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ConsulHttpError } from './model';
import type { ConsulStore } from './store';

export const LABEL = 'ballast-testkit Consul emulator';

export interface Reply {
  status?: number;
  index?: number;
  json?: unknown;
  raw?: Buffer;
  /**
   * Which Consul headers the answer carries: `all` (reads: index + leader headers), `leader` (read-only /v1/txn:
   * `X-Consul-LastContact`/`X-Consul-KnownLeader` only), `none` (writes). Default `all`.
   */
  meta?: 'all' | 'leader' | 'none';
  /** More response headers (e.g. `X-Consul-Results-Filtered-By-ACLs`). */
  headers?: Record<string, string>;
}

export class Request {
  readonly query: URLSearchParams;
  readonly path: string;
  constructor(
    readonly req: IncomingMessage,
    url: URL,
  ) {
    this.query = url.searchParams;
    this.path = decodeURIComponent(url.pathname);
    this.rawPath = decodeURIComponent((req.url ?? '/').split('?')[0] as string);
  }
  /** The path as sent, before URL normalisation resolves `..` segments (Consul checks KV keys on it). */
  readonly rawPath: string;
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

export function send(s: ConsulStore, res: ServerResponse, reply: Reply, contentType?: string): void {
  if (res.writableEnded || res.destroyed) return;
  res.statusCode = reply.status ?? 200;
  const meta = reply.meta ?? 'all';
  if (meta === 'all') res.setHeader('X-Consul-Index', String(Math.max(1, reply.index ?? s.index)));
  if (meta !== 'none') {
    res.setHeader('X-Consul-KnownLeader', 'true');
    res.setHeader('X-Consul-LastContact', '0');
  }
  res.setHeader('X-Consul-Emulator', LABEL);
  for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
  if (reply.raw !== undefined) {
    res.setHeader('Content-Type', contentType ?? 'application/octet-stream');
    res.end(reply.raw);
  } else if (reply.json !== undefined) {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify(reply.json));
  } else {
    res.end();
  }
}
