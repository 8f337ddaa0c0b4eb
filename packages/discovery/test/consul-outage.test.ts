// Consul unreachable or hung: register fails with core's BackendUnavailableError (backend 'consul') within
// the Consul timeout, not with an untyped HTTP error.
import { createServer, type Server, type Socket } from 'node:net';
import { isBackendUnavailableError } from '@ballast/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createDiscovery } from '../src/index';

const servers: Server[] = [];
const sockets: Socket[] = [];
afterAll(() => {
  for (const s of sockets) s.destroy();
  for (const s of servers) s.close();
});
/** A port that accepts connections and never answers (a hung agent), or none listening at all. */
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

describe('discovery with Consul down', () => {
  for (const hung of [false, true]) {
    it(`register fails typed when Consul is ${hung ? 'hung' : 'unreachable'}`, async () => {
      const discovery = createDiscovery({ consul: { url: `http://127.0.0.1:${await port(hung)}`, timeoutMs: 300 } });
      const t = performance.now();
      const error = await discovery
        .register({ name: 'users', address: '10.0.0.1', port: 80, check: false })
        .catch((e: unknown) => e);
      expect(isBackendUnavailableError(error)).toBe(true);
      expect(error).toMatchObject({ backend: 'consul', operation: 'service register' });
      expect(performance.now() - t).toBeLessThan(1_500);
      await discovery.close();
    });
  }
});
