import { createServer, type Socket } from 'node:net';
import { freePort } from './redis-server';

/** A loopback port nothing listens on: connecting is refused at once (a backend that is down). */
export function unreachablePort(): Promise<number> {
  return freePort();
}

export interface SilentServer {
  port: number;
  /** `http://127.0.0.1:<port>` (for HTTP clients such as Consul's). */
  url: string;
  /** Destroys the connections it holds and stops listening. */
  close(): Promise<void>;
}

/**
 * A loopback server that accepts connections and never answers (a hung backend): a client waits until its own
 * timeout, which is what outage tests check is bounded.
 */
export async function startSilentServer(): Promise<SilentServer> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as { port: number };
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
