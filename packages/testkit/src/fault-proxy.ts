// A TCP proxy that breaks the network on command: freeze (a partition: sockets open, nothing flows), resume, cut.
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

export interface FaultProxyOptions {
  /** Where connections are forwarded: `{ host, port }`, `'host:port'`, or a URL such as `redis://127.0.0.1:6379`. */
  target: { host?: string; port: number } | string;
  /** Interface to listen on (default `127.0.0.1`). */
  host?: string;
  /** Port to listen on (default 0: a spare one). */
  port?: number;
}

/** One proxied connection: the client's socket and the one to the target. */
interface Link {
  client: Socket;
  upstream: Socket;
  /** Bytes read while frozen, per direction, forwarded on resume in order. */
  toUpstream: Buffer[];
  toClient: Buffer[];
  /** Bytes on their way under `delay()`, per direction: due time (ms, `performance.now()`) and chunk, in order. */
  lateUpstream: Lane;
  lateClient: Lane;
}

/** One direction of a delayed link: chunks leave in arrival order once due. */
interface Lane {
  queue: { at: number; chunk: Buffer }[];
  timer: ReturnType<typeof setTimeout> | undefined;
}

function parseTarget(target: FaultProxyOptions['target']): { host: string; port: number } {
  if (typeof target !== 'string') return { host: target.host ?? '127.0.0.1', port: target.port };
  const url = new URL(target.includes('://') ? target : `tcp://${target}`);
  const port = Number(url.port);
  if (!Number.isInteger(port) || port <= 0) throw new Error(`FaultProxy: target "${target}" has no port`);
  return { host: url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1', port };
}

/**
 * A TCP proxy between your client and a server (Redis, RabbitMQ, an HTTP service) that fails the link the way
 * networks do: `freeze()` stops forwarding in both directions while every socket stays open (a partition or
 * a stalled peer: the client sees no error, only silence), `resume()` delivers what was held back, `cut()`
 * destroys the live connections (a reset; new ones are accepted). Start it with `FaultProxy.start()`.
 */
export class FaultProxy implements AsyncDisposable {
  readonly #server: Server;
  readonly #target: { host: string; port: number };
  readonly #links = new Set<Link>();
  #frozen = false;
  #delayMs = 0;
  #down = false;
  #closed = false;
  /** The host the proxy listens on. */
  readonly host: string;
  /** The port the proxy listens on: point your client here. */
  readonly port: number;

  private constructor(server: Server, target: { host: string; port: number }, host: string, port: number) {
    this.#server = server;
    this.#target = target;
    this.host = host;
    this.port = port;
    server.on('connection', (client) => this.#accept(client));
  }

  /** Listens on a spare loopback port (or `options.port`) and forwards each connection to `options.target`. */
  static start(options: FaultProxyOptions): Promise<FaultProxy> {
    const target = parseTarget(options.target);
    const host = options.host ?? '127.0.0.1';
    const server = createServer();
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => {
        server.off('error', reject);
        server.on('error', () => {}); // after listening: nothing a test could act on
        const { port } = server.address() as { port: number };
        resolve(new FaultProxy(server, target, host, port));
      });
    });
  }

  /** `<scheme>://<host>:<port>` of the proxy, e.g. `proxy.url('redis')` for an ioredis client. */
  url(scheme = 'redis'): string {
    return `${scheme}://${this.host}:${this.port}`;
  }

  /** Live proxied connections. */
  get connections(): number {
    return this.#links.size;
  }

  get frozen(): boolean {
    return this.#frozen;
  }

  /** Stops forwarding both ways; sockets stay open and new connections are accepted but frozen too. */
  freeze(): void {
    this.#frozen = true;
  }

  /**
   * Adds latency: every chunk read from now on is forwarded `ms` later (each direction, order kept; a chunk
   * never overtakes one read before it). `delay(0)` ends it (chunks already under way still arrive late).
   */
  delay(ms: number): void {
    if (!(ms >= 0) || !Number.isFinite(ms))
      throw new RangeError(`FaultProxy.delay(ms) needs a finite ms >= 0, got ${ms}`);
    this.#delayMs = ms;
  }

  /** The latency `delay()` set (0: none). */
  get delayMs(): number {
    return this.#delayMs;
  }

  /** Forwards again, first what was held back while frozen. */
  resume(): void {
    this.#frozen = false;
    for (const link of this.#links) this.#flush(link);
  }

  /** Destroys every live connection (both sockets); the proxy keeps accepting new ones. */
  cut(): void {
    for (const link of this.#links) this.#drop(link);
  }

  /**
   * The server is down as the client sees it: live connections are destroyed and new ones are closed at once,
   * until `up()`. (`cut()` alone lets the client reconnect straight away.)
   */
  down(): void {
    this.#down = true;
    this.cut();
  }

  /** Accepts and forwards new connections again after `down()`. */
  up(): void {
    this.#down = false;
  }

  /** Stops listening and destroys every connection. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #accept(client: Socket): void {
    if (this.#closed || this.#down) {
      client.destroy();
      return;
    }
    const upstream = tcpConnect(this.#target.port, this.#target.host);
    const link: Link = {
      client,
      upstream,
      toUpstream: [],
      toClient: [],
      lateUpstream: { queue: [], timer: undefined },
      lateClient: { queue: [], timer: undefined },
    };
    this.#links.add(link);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.on('data', (chunk: Buffer) => {
      if (this.#frozen) link.toUpstream.push(chunk);
      else this.#send(link.lateUpstream, upstream, chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (this.#frozen) link.toClient.push(chunk);
      else this.#send(link.lateClient, client, chunk);
    });
    // Either side ending or failing ends the link; errors are the test's doing (cut, a stopped server).
    const drop = () => this.#drop(link);
    for (const s of [client, upstream]) {
      s.on('error', drop);
      s.on('close', drop);
    }
  }

  #flush(link: Link): void {
    for (const chunk of link.toUpstream.splice(0)) this.#send(link.lateUpstream, link.upstream, chunk);
    for (const chunk of link.toClient.splice(0)) this.#send(link.lateClient, link.client, chunk);
  }

  /** Writes `chunk` now, or `delayMs` from now behind whatever this direction still has under way. */
  #send(lane: Lane, to: Socket, chunk: Buffer): void {
    if (this.#delayMs === 0 && lane.queue.length === 0) {
      to.write(chunk);
      return;
    }
    lane.queue.push({ at: performance.now() + this.#delayMs, chunk });
    if (!lane.timer) this.#drain(lane, to);
  }

  #drain(lane: Lane, to: Socket): void {
    lane.timer = undefined;
    const now = performance.now();
    while (lane.queue.length > 0 && lane.queue[0]!.at <= now) {
      const { chunk } = lane.queue.shift()!;
      if (!to.destroyed) to.write(chunk);
    }
    const next = lane.queue[0];
    if (next) lane.timer = setTimeout(() => this.#drain(lane, to), Math.max(0, next.at - now));
  }

  #drop(link: Link): void {
    if (!this.#links.delete(link)) return;
    for (const lane of [link.lateUpstream, link.lateClient]) {
      if (lane.timer) clearTimeout(lane.timer);
      lane.queue.length = 0;
    }
    link.client.destroy();
    link.upstream.destroy();
  }
}
