// Consul unreachable or hung: register fails with core's BackendUnavailableError (backend 'consul') within
// the Consul timeout, not with an untyped HTTP error.
import { isBackendUnavailableError } from '@ballast/core';
import { type SilentServer, startSilentServer, unreachablePort } from '@ballast/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { createDiscovery } from '../src/index';

const silent: SilentServer[] = [];
afterAll(async () => {
  for (const s of silent) await s.close();
});
/** A port that accepts connections and never answers (a hung agent), or none listening at all. */
async function port(hung: boolean): Promise<number> {
  if (!hung) return unreachablePort();
  const s = await startSilentServer();
  silent.push(s);
  return s.port;
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
