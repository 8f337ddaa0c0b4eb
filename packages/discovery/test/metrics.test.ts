import { FakeClock } from '@ballast/testkit';
import { useInMemoryMetrics } from '@ballast/testkit/otel';
import { expect, it } from 'vitest';
import type { DiscoveryBackend } from '../src/backend';
import { MemoryBackend } from '../src/backends/memory';
import { createDiscovery } from '../src/discovery';

const collect = useInMemoryMetrics();

type Point = { attributes: Record<string, unknown>; value: unknown };
const points = async (name: string) => ((await collect())(name)?.dataPoints ?? []) as unknown as Point[];
const sum = async (name: string, attrs: Record<string, unknown>) =>
  (await points(name))
    .filter((p) => Object.entries(attrs).every(([k, v]) => p.attributes[k] === v))
    .reduce((a, p) => a + Number(p.value), 0);

it('counts cache hits/misses, fallbacks, watch requests/errors and observes instances per service', async () => {
  const backend = new MemoryBackend();
  const d = createDiscovery({ backend, env: { GONE_SERVICE_URL: 'http://10.0.0.1:1' } });
  await backend.register({ id: 'a1', name: 'a', address: 'x', port: 1, tags: [], meta: {}, status: 'passing' });
  await backend.register({ id: 'a2', name: 'a', address: 'y', port: 1, tags: [], meta: {}, status: 'critical' });
  await d.discover('a');
  await d.discover('a');
  await d.discover('a');
  expect(await sum('ballast_discovery_cache_misses_total', { service: 'a' })).toBe(1);
  expect(await sum('ballast_discovery_cache_hits_total', { service: 'a' })).toBe(2);
  expect(await sum('ballast_discovery_watch_requests_total', { service: 'a' })).toBeGreaterThanOrEqual(1);
  expect(await sum('ballast_discovery_instances', { service: 'a', status: 'passing' })).toBe(1);
  expect(await sum('ballast_discovery_instances', { service: 'a', status: 'all' })).toBe(2);

  // A failing registry: a watch error, then the env fallback.
  const clock = new FakeClock();
  const broken = {
    ...backend,
    kind: 'memory',
    runsHttpChecks: false,
    query: () => Promise.reject(new Error('down')),
  } as unknown as DiscoveryBackend;
  const e = createDiscovery({ backend: broken, clock, env: { GONE_SERVICE_URL: 'http://10.0.0.1:1' } });
  expect((await e.lookup('gone')).source).toBe('env');
  expect(await sum('ballast_discovery_watch_errors_total', { service: 'gone' })).toBe(1);
  expect(await sum('ballast_discovery_fallbacks_total', { service: 'gone', source: 'env' })).toBe(1);
  await d.close();
  await e.close();
});
