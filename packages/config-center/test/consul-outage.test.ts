// Consul unreachable or hung under the Consul KV store: a read fails with RemoteUnavailableError whose cause is
// core's BackendUnavailableError (backend 'consul'), within requestTimeoutMs.
import { createServer, type Server, type Socket } from 'node:net';
import { isBackendUnavailableError } from '@ballast/core';
import { afterAll, describe, expect, it } from 'vitest';
import { ConsulConfigStore } from '../src/backends/consul';
import { isRemoteUnavailableError } from '../src/errors';

const servers: Server[] = [];
const sockets: Socket[] = [];
afterAll(() => {
  for (const s of sockets) s.destroy();
  for (const s of servers) s.close();
});
function port(hung: boolean): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer((socket) => sockets.push(socket)).listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      if (hung) {
        servers.push(s);
        resolve(port);
      } else s.close(() => resolve(port));
    });
  });
}

describe('Consul KV store with Consul down', () => {
  for (const hung of [false, true]) {
    it(`read fails typed when Consul is ${hung ? 'hung' : 'unreachable'}`, async () => {
      const store = new ConsulConfigStore({
        prefix: 'services/outage/',
        url: `http://127.0.0.1:${await port(hung)}`,
        requestTimeoutMs: 300,
      });
      const t = performance.now();
      const error = await store.read().catch((e: unknown) => e);
      expect(isRemoteUnavailableError(error)).toBe(true);
      const cause = (error as Error).cause;
      expect(isBackendUnavailableError(cause)).toBe(true);
      expect(cause).toMatchObject({ backend: 'consul' });
      expect(performance.now() - t).toBeLessThan(1_500);
      await store.close();
    });
  }
});
