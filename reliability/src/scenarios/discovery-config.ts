/**
 * discovery-config: the Consul emulator (in this process) is restarted WITHOUT data — an agent restart that
 * forgets services, checks and KV — while service processes are registered through @ballast/discovery (TTL
 * and HTTP checks), a watcher process subscribes to them, and a config-center client watches a KV prefix.
 * Holds when every instance is re-registered and discoverable again within the window (time measured per
 * restart), the watcher sees all instances again, the config client never serves an undefined or invalid
 * config (last-known-good: `gaps` 0 over all samples) and picks up the value re-pushed after each restart.
 */
import { pushToConsul } from '@ballast/config-center';
import { startConsulEmulator } from '@ballast/testkit/consul';
import { spawnWorker, stopAll, type WorkerHandle } from '../child';
import { Checks, type Ledger } from '../ledger';
import { delay, type Scenario, type ScenarioContext, waitUntil } from '../scenario';
import type {
  ConfigClientConfig,
  ConfigReport,
  DiscoveryServiceConfig,
  DiscoveryWatcherConfig,
  ServiceSpec,
  WatchReport,
} from '../shared/discovery-config';

export interface DiscoveryConfigCounts {
  /** Agent restarts without data. */
  restarts: number;
  services: ServiceSpec[];
  /** After a restart: how long every instance has to be discoverable again and the re-push to arrive. */
  windowMs: number;
  /** Quiet time between restarts (the config keeps being sampled). */
  pauseMs: number;
  timeoutMs: number;
}

export const discoveryConfigCounts: Record<'short' | 'long', DiscoveryConfigCounts> = {
  short: {
    restarts: 2,
    services: [
      { name: 'chaos-ttl', check: 'ttl', instances: 3 },
      { name: 'chaos-http', check: 'http', instances: 3 },
    ],
    windowMs: 20_000,
    pauseMs: 1_000,
    timeoutMs: 90_000,
  },
  long: {
    restarts: 20,
    services: [
      { name: 'chaos-ttl', check: 'ttl', instances: 10 },
      { name: 'chaos-http', check: 'http', instances: 10 },
    ],
    windowMs: 30_000,
    pauseMs: 3_000,
    timeoutMs: 20 * 60_000,
  },
};

const KV_PREFIX = 'services/chaos-config/';

export async function runDiscoveryConfig(ctx: ScenarioContext, counts: DiscoveryConfigCounts): Promise<Ledger> {
  const started = Date.now();
  const checks = new Checks();
  const emulator = await startConsulEmulator();
  const workers: WorkerHandle[] = [];
  const lifetimeMs = counts.timeoutMs + 30_000;
  const expected = new Map(counts.services.map((s) => [s.name, s.instances]));
  const totalInstances = counts.services.reduce((a, s) => a + s.instances, 0);
  const push = (generation: number) =>
    pushToConsul(KV_PREFIX, { app: { value: generation * 10, generation } }, { url: emulator.url });
  // What the agent itself answers: passing instances of a service (independent of the watcher's view).
  const passing = async (name: string) => {
    try {
      const res = await fetch(`${emulator.url}/v1/health/service/${name}?passing=1`);
      return res.ok ? ((await res.json()) as unknown[]).length : 0;
    } catch {
      return 0;
    }
  };
  const allPassing = async () => {
    for (const s of counts.services) if ((await passing(s.name)) < s.instances) return false;
    return true;
  };
  const reregisterMs: number[] = [];
  const watcherResumeMs: number[] = [];
  const configPickupMs: number[] = [];
  let instancesLost = 0;
  let watcherMisses = 0;
  let pushMisses = 0;
  let restartsDone = 0;
  let wipesSeen = 0;

  try {
    await push(1);
    const service = spawnWorker({
      script: 'discovery-service.ts',
      name: 'service',
      config: { consulUrl: emulator.url, services: counts.services, lifetimeMs } satisfies DiscoveryServiceConfig,
      lifetimeMs,
    });
    const watcher = spawnWorker({
      script: 'discovery-watcher.ts',
      name: 'watcher',
      config: { consulUrl: emulator.url, services: [...expected.keys()], lifetimeMs } satisfies DiscoveryWatcherConfig,
      lifetimeMs,
    });
    const client = spawnWorker({
      script: 'discovery-config-client.ts',
      name: 'config-client',
      config: { consulUrl: emulator.url, prefix: KV_PREFIX, sampleEveryMs: 2, lifetimeMs } satisfies ConfigClientConfig,
      lifetimeMs,
    });
    workers.push(service, watcher, client);
    await Promise.all(workers.map((w) => w.ready));
    const watchView = () => {
      const last = new Map<string, WatchReport>();
      for (const r of watcher.results as WatchReport[]) last.set(r.service, r);
      return last;
    };
    const watcherSeesAll = (since: number) => {
      const view = watchView();
      return [...expected].every(([name, n]) => {
        const r = view.get(name);
        return r !== undefined && r.at >= since && r.passing >= n;
      });
    };
    const rejected = () => {
      const reports = client.results as ConfigReport[];
      return reports[reports.length - 1]?.rejected ?? 0;
    };
    const served = () => {
      const reports = client.results as ConfigReport[];
      return reports[reports.length - 1]?.generation ?? 0;
    };
    const up = await waitUntil(
      async () => (await allPassing()) && watcherSeesAll(0) && served() === 1,
      counts.windowMs,
    );
    checks.check(up, 'the services, the watcher or the config client never came up before the first restart');
    ctx.log(`discovery-config: ${totalInstances} instances registered and watched; config generation 1 served`);

    for (let i = 0; up && i < counts.restarts && Date.now() - started < counts.timeoutMs - counts.windowMs; i++) {
      await delay(counts.pauseMs * (0.5 + ctx.random()));
      const rejectedBefore = rejected();
      const t0 = Date.now();
      await emulator.restart({ keepData: false });
      restartsDone++;
      // Re-registration, as the agent sees it: each service's instances passing again.
      const back = new Map<string, number>();
      await waitUntil(
        async () => {
          for (const s of counts.services) {
            if (!back.has(s.name) && (await passing(s.name)) >= s.instances) back.set(s.name, Date.now() - t0);
          }
          return back.size === counts.services.length;
        },
        counts.windowMs,
        50,
      );
      for (const s of counts.services) {
        const ms = back.get(s.name);
        if (ms === undefined) instancesLost += s.instances - (await passing(s.name));
        else reregisterMs.push(ms);
      }
      // The watcher's view: a report after the restart with every instance passing.
      let resumed = await waitUntil(() => watcherSeesAll(t0), 3_000, 50);
      if (!resumed) {
        // The emulator restarts empty and the same registrations bring its index back to where it was: a watch
        // that resumed once they were done got the same index and instances and had nothing new to report. Give
        // every service a change a live watch must report — one more (check-less, so passing) instance — then take
        // it away again.
        const probe = (name: string, verb: 'register' | 'deregister') =>
          fetch(
            verb === 'register'
              ? `${emulator.url}/v1/agent/service/register`
              : `${emulator.url}/v1/agent/service/deregister/${name}-probe`,
            verb === 'register'
              ? { method: 'PUT', body: JSON.stringify({ ID: `${name}-probe`, Name: name, Port: 1 }) }
              : { method: 'PUT' },
          ).catch(() => undefined);
        for (const s of counts.services) await probe(s.name, 'register');
        resumed = await waitUntil(() => watcherSeesAll(t0), Math.max(1_000, counts.windowMs - (Date.now() - t0)), 50);
        for (const s of counts.services) await probe(s.name, 'deregister');
      }
      if (resumed) watcherResumeMs.push(Math.max(...[...watchView().values()].map((r) => r.at)) - t0);
      else watcherMisses++;
      // The config: the client must have read the wiped prefix (and refused it) before the value is re-pushed,
      // else last-known-good was not exercised.
      if (await waitUntil(() => rejected() > rejectedBefore, counts.windowMs, 20)) wipesSeen++;
      // A re-push must arrive.
      const generation = restartsDone + 1;
      const pushedAt = Date.now();
      await push(generation);
      if (await waitUntil(() => served() === generation, counts.windowMs, 20))
        configPickupMs.push(Date.now() - pushedAt);
      else pushMisses++;
      ctx.log(
        `discovery-config: restart ${restartsDone}: re-registered in ${[...back.values()].join('/')} ms; watcher ${resumed ? 'resumed' : 'DID NOT resume'}; generation ${served()}`,
      );
    }
    // Keep sampling a moment after the last pickup, then collect the client's final counts.
    await delay(500);
    await stopAll(workers);
    const final = (client.results as ConfigReport[]).find((r) => r.final);
    const samples = final?.samples ?? 0;
    const gaps = final?.gaps ?? -1;

    checks.check(restartsDone === counts.restarts, `${restartsDone} of ${counts.restarts} agent restarts done`);
    checks.check(instancesLost === 0, `${instancesLost} instances not re-registered within ${counts.windowMs} ms`);
    checks.check(watcherMisses === 0, `the watcher did not see every instance again after ${watcherMisses} restarts`);
    checks.check(final !== undefined, 'the config client did not report its final counts');
    checks.check(gaps === 0, `${gaps} config samples were undefined or invalid (last-known-good broken)`);
    checks.check(samples > 0, 'the config was never sampled');
    checks.check(
      wipesSeen === restartsDone,
      `the config client saw the wiped prefix after ${wipesSeen} of ${restartsDone} restarts (last-known-good not exercised)`,
    );
    checks.check(pushMisses === 0, `${pushMisses} re-pushed config values were not picked up within the window`);
    const max = (xs: number[]) => (xs.length > 0 ? Math.max(...xs) : -1);
    return {
      scenario: 'discovery-config',
      mode: ctx.mode,
      produced: totalInstances * restartsDone,
      processed: totalInstances * restartsDone - instancesLost,
      lost: instancesLost,
      duplicated: 0,
      durationMs: Date.now() - started,
      details: {
        restarts: restartsDone,
        instances: totalInstances,
        reregisterMaxMs: max(reregisterMs),
        reregisterMs: reregisterMs.join('/'),
        watcherResumeMaxMs: max(watcherResumeMs),
        watcherMisses,
        configSamples: samples,
        configGaps: gaps,
        configWipesRefused: wipesSeen,
        configPickupMaxMs: max(configPickupMs),
        pushMisses,
      },
      failures: checks.failures,
    };
  } finally {
    await stopAll(workers, 2_000);
    await emulator.close();
  }
}

export const scenario: Scenario = {
  name: 'discovery-config',
  description:
    'Consul emulator restarted without data → services re-register, watchers resume, config keeps its last-known-good and picks up a re-push',
  run: (ctx) => {
    const counts = discoveryConfigCounts[ctx.mode];
    return runDiscoveryConfig(ctx, {
      ...counts,
      restarts: Math.max(1, Math.round(counts.restarts * (ctx.scale ?? 1))),
    });
  },
};
