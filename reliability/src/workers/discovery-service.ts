/**
 * A service process of the discovery-config scenario: registers instances with the Consul emulator through
 * @ballast/discovery — TTL checks (heartbeats every ttl/3; a 404 re-registers at once) or HTTP checks of a
 * /health this process serves (re-registered by the anti-entropy round). The agent is restarted without data
 * under it: the registrations must come back by themselves.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '@ballast/core';
import { createDiscovery } from '@ballast/discovery';
import type { DiscoveryServiceConfig } from '../shared/discovery-config';
import { announceReady, runWorker, workerConfig } from '../worker-runtime';

const config = workerConfig<DiscoveryServiceConfig>();

runWorker(async (stop) => {
  const server = createServer((req, res) => {
    res.writeHead(req.url === '/health' ? 200 : 404, { 'content-type': 'application/json' });
    res.end('{"status":"healthy"}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const discovery = createDiscovery({ consul: { url: config.consulUrl }, logger: createLogger({ level: 'silent' }) });
  for (const s of config.services) {
    for (let i = 0; i < s.instances; i++) {
      await discovery.register({
        name: s.name,
        id: `${s.name}-${i}`,
        address: '127.0.0.1',
        port,
        check:
          s.check === 'ttl'
            ? { ttlMs: 3_000 }
            : { http: `http://127.0.0.1:${port}/health`, intervalMs: 1_000, timeoutMs: 1_000 },
        antiEntropyIntervalMs: 1_000,
        shutdown: false,
      });
    }
  }
  announceReady();
  await new Promise<void>((resolve) => stop.addEventListener('abort', () => resolve(), { once: true }));
  await discovery.close();
  await new Promise<void>((r) => server.close(() => r()));
}, config.lifetimeMs);
