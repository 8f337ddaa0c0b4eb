// Consul unreachable or hung: register fails with core's BackendUnavailableError (backend 'consul') within
// the Consul timeout, not with an untyped HTTP error.
import { isBackendUnavailableError } from '@ballast/core';
import { useDeadEndpoints } from '@ballast/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { createDiscovery } from '../src/index';

const dead = useDeadEndpoints();

describe('discovery with Consul down', () => {
  for (const hung of [false, true]) {
    it(`register fails typed when Consul is ${hung ? 'hung' : 'unreachable'}`, async () => {
      const discovery = createDiscovery({ consul: { url: await dead.url(hung ? 'hung' : 'down'), timeoutMs: 300 } });
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
