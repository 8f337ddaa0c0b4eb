/**
 * A watcher process of the discovery-config scenario: subscribes (one blocking watch per service) and reports
 * every change of the passing instances as a `RESULT {kind:'watch',…}` line. After the agent restarts, its
 * watches must resume and see the re-registered instances again.
 */
import { createLogger } from '@ballast/core';
import { createDiscovery } from '@ballast/discovery';
import type { DiscoveryWatcherConfig, WatchReport } from '../shared/discovery-config';
import { announceReady, reportResult, runWorker, workerConfig } from '../worker-runtime';

const config = workerConfig<DiscoveryWatcherConfig>();

runWorker(async (stop) => {
  const discovery = createDiscovery({
    consul: { url: config.consulUrl },
    watchWaitMs: 5_000,
    watchBackoff: { initialMs: 100, maxMs: 1_000, factor: 2, jitter: 'full' },
    logger: createLogger({ level: 'silent' }),
  });
  const offs = config.services.map((service) =>
    discovery.subscribe(service, (passing) => {
      const report: WatchReport = { kind: 'watch', service, passing: passing.length, at: Date.now() };
      reportResult(report);
    }),
  );
  announceReady();
  await new Promise<void>((resolve) => stop.addEventListener('abort', () => resolve(), { once: true }));
  for (const off of offs) off();
  await discovery.close();
}, config.lifetimeMs);
