/** A worker that does nothing until stopped: the runner's own tests use it (ready, SIGTERM, lifetime). */
import { announceReady, reportResult, runWorker, workerConfig } from '../worker-runtime';

const config = workerConfig<{ lifetimeMs: number; echo: unknown }>();

runWorker(async (stop) => {
  announceReady();
  reportResult({ echo: config.echo });
  await new Promise<void>((resolve) => stop.addEventListener('abort', () => resolve(), { once: true }));
}, config.lifetimeMs);
