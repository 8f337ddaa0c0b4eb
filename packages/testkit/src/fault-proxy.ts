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
    const link: Link = { client, upstream, toUpstream: [], toClient: [] };
    this.#links.add(link);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.on('data', (chunk: Buffer) => {
      if (this.#frozen) link.toUpstream.push(chunk);
      else upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (this.#frozen) link.toClient.push(chunk);
      else client.write(chunk);
    });
    // Either side ending or failing ends the link; errors are the test's doing (cut, a stopped server).
    const drop = () => this.#drop(link);
    for (const s of [client, upstream]) {
      s.on('error', drop);
      s.on('close', drop);
    }
  }

  #flush(link: Link): void {
    for (const chunk of link.toUpstream.splice(0)) link.upstream.write(chunk);
    for (const chunk of link.toClient.splice(0)) link.client.write(chunk);
  }

  #drop(link: Link): void {
    if (!this.#links.delete(link)) return;
    link.client.destroy();
    link.upstream.destroy();
  }
}
