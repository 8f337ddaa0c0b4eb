/**
 * The bus-level contract: delivery scenarios a service relies on, run through `createEventBus` on every
 * backend (memory and real Redis) with the bus on a `FakeClock`. Part 1 (bus-delivery.cases.ts): redelivery
 * and its backoff, the DLQ after exactly `maxDeliveries`, takeover of an abandoned consumer's entries, lease
 * renewal of slow handlers, the drain, the concurrency limit. Part 2 (bus-features.cases.ts): several
 * handlers of one type, DLQ replay, bad payloads, traces, metrics.
 */
import { track } from '@ballast/testkit';
import { defineContract } from '@ballast/testkit/vitest';
import { afterEach } from 'vitest';
import type { EventBus } from '../src/bus';
import type { SubscribeOptions } from '../src/options';
import { deliveryCases } from './bus-delivery.cases';
import { featureCases } from './bus-features.cases';
import { type BusBackend, busOn, type Events, type Spy, spy, uniqueType } from './bus-harness';

export type { BusBackend } from './bus-harness';

/** One test's world: a backend, the spied transport, its event type, and buses on them. */
export interface Scene {
  backend: BusBackend;
  spy: Spy;
  type: string;
  /** A bus on the spied transport (another process, when called twice). */
  bus(extraTypes?: readonly string[]): EventBus<Events>;
  /** The test's subscribe options over the backend's defaults; maintenance off. */
  opts(o?: SubscribeOptions): SubscribeOptions;
  advance(ms: number): Promise<void>;
  /**
   * Moves time on `ms` and waits for a claim sweep (of `consumer`, if given) that started within its last
   * `sweepEveryMs`: whatever a sweep would do by then, it has done. The consumer must have a free slot.
   */
  elapse(ms: number, sweepEveryMs: number, consumer?: string): Promise<void>;
  /**
   * Moves time on `stepMs` at a time, each step waiting for a claim sweep that started after it, until
   * `done` settles (at most `maxSteps`). Only for consumers with a free slot (a full one does not sweep).
   */
  drive<T>(done: Promise<T>, stepMs: number, maxSteps?: number): Promise<T>;
}

export const busContract = defineContract<BusBackend>('EventBus', (make) => {
  const buses: EventBus<Events>[] = [];
  afterEach(async () => {
    for (const b of buses.splice(0)) await b.close();
  });

  async function scene(): Promise<Scene> {
    const backend = await make();
    const s = spy(backend.transport);
    const type = uniqueType();
    const advance = (ms: number) => backend.advance(ms, [type]);
    return {
      backend,
      spy: s,
      type,
      bus: (extra = []) => {
        const b = busOn(backend, s.transport, type, extra);
        buses.push(b);
        return b;
      },
      opts: (o = {}) => ({ maintenanceIntervalMs: 0, ...backend.subscribeDefaults, ...o }),
      advance,
      async elapse(ms, sweepEveryMs, consumer) {
        await advance(ms - sweepEveryMs);
        const sweep = s.next('claimStale', (args) => consumer === undefined || args[2] === consumer);
        await advance(sweepEveryMs);
        await sweep;
      },
      async drive(done, stepMs, maxSteps = 200) {
        const state = track(done);
        for (let i = 0; i < maxSteps && !state.done; i++) {
          const sweep = s.next('claimStale');
          await advance(stepMs);
          await Promise.race([sweep, done]);
        }
        if (!state.done) throw new Error(`drive: not done after ${maxSteps} steps of ${stepMs} ms`);
        return done;
      },
    };
  }

  deliveryCases(scene);
  featureCases(scene);
});
