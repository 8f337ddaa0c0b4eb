import { performance } from 'node:perf_hooks';
import { createConsulClient, createDiscovery, type Discovery } from '@ballast/discovery';
// bench/package.json does not list @ballast/testkit (not ours to change): the emulator is imported from its source.
import { startConsulEmulator } from '@ballast/testkit/consul';
import type { BenchCase, Suite } from '../harness';

export interface DiscoverySuiteOptions {
  /** Watchers (Discovery instances, as separate processes would have) in `propagation`. Default 5. */
  watchers?: number;
  /** Seconds of the 1000 lookups/s load whose Consul requests are counted. Default 10. */
  loadSeconds?: number;
  /** Lookups per second during that load. Default 1000. */
  loadRate?: number;
  /** Pause between propagation samples, so each watch's rate limiter never delays a change. Default 100 ms. */
  propagationPauseMs?: number;
}

const until = async (cond: () => boolean, timeoutMs = 10_000) => {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) throw new Error('discovery bench: condition not met in time');
    await new Promise((r) => setImmediate(r));
  }
};

/**
 * `@ballast/discovery` against the testkit's Consul emulator (a Consul-compatible emulator on node:http,
 * in this process; not Consul). Cases:
 * - `cached-lookup`: `discover(name)` served from the fresh cache, 1 000 per measured call (target ≤ 1 µs/op).
 * - `propagation`: a TTL check is failed (`PUT /v1/agent/check/fail`); each measured call's duration is the
 *   time until every one of `watchers` Discovery instances (each with its own blocking watch, like separate
 *   processes) has seen the instance leave (target p99 ≤ 100 ms). The check is then passed again (not measured)
 *   and the next sample waits `propagationPauseMs`; watchers run with `watchRateLimit: { burst: 5, perSecond: 20 }`.
 * - `lookups-under-load`: before measuring, `loadSeconds` of `loadRate` lookups/s; the Consul requests the
 *   emulator saw during that load are printed in the impl column (target: the watch requests only: a blocking
 *   query per `watchWaitMs` or per change, no per-lookup request). The row's ops/s is the cached lookup rate.
 */
export function createDiscoverySuite(options: DiscoverySuiteOptions = {}): Suite {
  const watchers = options.watchers ?? 5;
  const loadSeconds = options.loadSeconds ?? 10;
  const loadRate = options.loadRate ?? 1_000;
  const pauseMs = options.propagationPauseMs ?? 100;
  return {
    name: 'discovery',
    description: `service discovery on the Consul emulator: cached lookups, change propagation to ${watchers} watchers, Consul requests during ${loadSeconds} s of ${loadRate} lookups/s`,
    async setup() {
      const emulator = await startConsulEmulator();
      const service = 'bench-users';
      const opened: Discovery[] = [];
      // Discovery instances on one agent share one watch per service in a process; each watcher gets its own
      // Consul client so it runs its own watch, as a separate process would.
      const make = (own = false) => {
        const consul = own
          ? { url: emulator.url, client: createConsulClient({ url: emulator.url, timeoutMs: 5_000 }) }
          : { url: emulator.url };
        const d = createDiscovery({
          consul,
          env: {},
          watchRateLimit: { burst: 5, perSecond: 20 },
        });
        opened.push(d);
        return d;
      };
      const registrar = make();
      const reg = await registrar.register({
        name: service,
        address: '127.0.0.1',
        port: 30001,
        check: { ttlMs: 600_000 },
        shutdown: false,
      });
      const checkUrl = (verb: 'pass' | 'fail') => `${emulator.url}/v1/agent/check/${verb}/service:${reg.id}`;
      await registrar.register({
        name: service,
        id: 'bench-other',
        address: '127.0.0.1',
        port: 30002,
        check: false,
        shutdown: false,
      });

      const reader = make();
      await reader.discover(service);

      const views = Array.from({ length: watchers }, () => ({ d: make(true), passing: -1 }));
      const offs = views.map((v) => v.d.subscribe(service, (xs) => (v.passing = xs.length)));
      await until(() => views.every((v) => v.passing === 2));

      const cases: BenchCase[] = [];
      cases.push({
        case: 'cached-lookup',
        impl: 'ballast',
        opsPerCall: 1_000,
        fn: async () => {
          for (let i = 0; i < 1_000; i++) await reader.discover(service);
        },
      });
      cases.push({
        case: 'propagation',
        impl: 'ballast',
        fn: async () => {
          await new Promise((r) => setTimeout(r, pauseMs));
          const t0 = performance.now();
          await fetch(checkUrl('fail'), { method: 'PUT' });
          await until(() => views.every((v) => v.passing === 1));
          const took = performance.now() - t0;
          await fetch(checkUrl('pass'), { method: 'PUT' });
          await until(() => views.every((v) => v.passing === 2));
          return { overriddenDuration: took };
        },
      });
      const load: BenchCase = {
        case: 'lookups-under-load',
        impl: 'ballast',
        beforeAll: async () => {
          const loaded = make(true);
          await loaded.discover(service); // its cold request, then its own watch
          emulator.resetRequests();
          const total = Math.round(loadSeconds * loadRate);
          const started = performance.now();
          let done = 0;
          // Paced in 10 ms slices: loadRate/100 lookups each, as a steady stream of callers would.
          while (done < total) {
            const due = Math.min(
              total,
              Math.floor(((performance.now() - started) / 1_000) * loadRate) + loadRate / 100,
            );
            for (; done < due; done++) await loaded.discover(service);
            await new Promise((r) => setTimeout(r, 10));
          }
          const seen = emulator.requests().filter((r) => r.path.startsWith('/v1/'));
          const health = seen.filter((r) => r.path.startsWith('/v1/health/service/'));
          const watch = health.filter((r) => Number(r.query.index) > 0).length;
          const agent = seen.filter((r) => r.path.startsWith('/v1/agent/')).length;
          const other = seen.length - health.length - agent;
          // Counts every Discovery of this process (the propagation watchers too); `agent` is the registrar's
          // upkeep (anti-entropy every 30 s, TTL heartbeats), which lookups never cause.
          load.impl = `ballast (${total} lookups in ${loadSeconds}s: ${seen.length} Consul requests = ${watch} watch + ${health.length - watch} non-blocking + ${agent} registration upkeep + ${other} other)`;
          await loaded.close();
        },
        fn: () => reader.discover(service),
      };
      cases.push(load);

      return {
        cases,
        teardown: async () => {
          for (const off of offs) off();
          await Promise.allSettled(opened.map((d) => d.close()));
          await emulator.close();
        },
      };
    },
  };
}

export const discovery = createDiscoverySuite();
