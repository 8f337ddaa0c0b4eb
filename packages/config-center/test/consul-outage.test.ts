// Consul unreachable, hung or unable to serve (HTTP 5xx, e.g. "No cluster leader") under the Consul KV store: a
// read fails with core's BackendUnavailableError (backend 'consul'), as every package's outages do, within
// requestTimeoutMs. A refusal (HTTP 403) is not an outage: RemoteUnavailableError names the status.
import { createServer as createHttpServer } from 'node:http';
import { isBackendUnavailableError } from '@ballast/core';
import { useDeadEndpoints } from '@ballast/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { ConsulConfigStore } from '../src/backends/consul';

const dead = useDeadEndpoints();

describe('Consul KV store with Consul down', () => {
  for (const hung of [false, true]) {
    it(`read fails typed when Consul is ${hung ? 'hung' : 'unreachable'}`, async () => {
      const store = new ConsulConfigStore({
        prefix: 'services/outage/',
        url: await dead.url(hung ? 'hung' : 'down'),
        requestTimeoutMs: 300,
      });
      const t = performance.now();
      const error = await store.read().catch((e: unknown) => e);
      expect(isBackendUnavailableError(error)).toBe(true);
      expect(error).toMatchObject({ backend: 'consul' });
      expect(performance.now() - t).toBeLessThan(1_500);
      await store.close();
    });
  }
});

describe('Consul KV store when Consul answers 5xx', () => {
  it('"No cluster leader" (500) is an outage: BackendUnavailableError naming Consul and the status', async () => {
    // https://developer.hashicorp.com/consul/api-docs/features/consistency: without a leader the servers answer
    // 500 "No cluster leader" to consistent and default-mode reads.
    const http = createHttpServer((_req, res) => {
      res.statusCode = 500;
      res.end('No cluster leader');
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const { port: p } = http.address() as { port: number };
    const store = new ConsulConfigStore({ prefix: 'services/outage/', url: `http://127.0.0.1:${p}` });
    try {
      const error = await store.read().catch((e: unknown) => e);
      expect(isBackendUnavailableError(error)).toBe(true);
      expect(error).toMatchObject({ backend: 'consul' });
      expect(String(error)).toContain('No cluster leader');
    } finally {
      await store.close();
      await new Promise((resolve) => http.close(resolve));
    }
  });
});
