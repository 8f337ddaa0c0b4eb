/**
 * A config client of the discovery-config scenario: @ballast/config-center watching a Consul KV prefix, with a
 * schema that has no defaults (a wiped prefix is an invalid config). It samples `config.get()` every few ms and
 * counts gaps — a sample that is undefined or fails the schema — which must stay 0 while the agent restarts
 * without data (last-known-good), and reports the generation it serves so the parent sees a re-push arrive, and
 * how many remote updates the schema refused (the wiped prefix reaching it).
 */

import { consulKv, createConfig, isConfigValidationError, isRemoteResetError } from '@ballast/config-center';
import { createLogger } from '@ballast/core';
import { z } from 'zod';
import type { ConfigClientConfig, ConfigReport } from '../shared/discovery-config';
import { announceReady, reportResult, runWorker, workerConfig } from '../worker-runtime';

const config = workerConfig<ConfigClientConfig>();
const schema = z.object({ app: z.object({ value: z.number().int(), generation: z.number().int().positive() }) });

runWorker(async (stop) => {
  const cfg = await createConfig({
    schema,
    sources: [consulKv({ prefix: config.prefix, url: config.consulUrl, waitMs: 5_000, retryMaxMs: 500 })],
    logger: createLogger({ level: 'silent' }),
  });
  let samples = 0;
  let gaps = 0;
  let generation = 0;
  let rejected = 0;
  const report = (final = false) => {
    const r: ConfigReport = {
      kind: 'config',
      samples,
      gaps,
      generation,
      rejected,
      at: Date.now(),
      ...(final ? { final } : {}),
    };
    reportResult(r);
  };
  // The wiped prefix is refused: as a reset of the remote (its version went back to 0: RemoteResetError, unless
  // acceptRemoteReset), or else by the schema (a config without `app`, validate-then-swap).
  const offError = cfg.onError((error) => {
    if (!isRemoteResetError(error) && !isConfigValidationError(error)) return;
    rejected++;
    report();
  });
  const sample = () => {
    samples++;
    const snap = cfg.get();
    const ok = schema.safeParse(snap);
    if (!ok.success || ok.data.app.value !== ok.data.app.generation * 10) {
      gaps++;
      return;
    }
    if (ok.data.app.generation !== generation) {
      generation = ok.data.app.generation;
      report();
    }
  };
  const sampler = setInterval(sample, config.sampleEveryMs);
  const reporter = setInterval(() => report(), 500);
  announceReady();
  report();
  await new Promise<void>((resolve) => stop.addEventListener('abort', () => resolve(), { once: true }));
  clearInterval(sampler);
  clearInterval(reporter);
  offError();
  report(true);
  await cfg.close();
}, config.lifetimeMs);
