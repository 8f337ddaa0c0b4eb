/**
 * What the bus-level suite (bus.contract.ts) runs on: a fresh transport watched by a spy, the bus's
 * `FakeClock`, and a way to let time pass that both backends understand. Nothing here sleeps: the suite waits
 * on deferreds and on the spy's "this call completed" events.
 */
import { createLogger } from '@ballast/core';
import type { FakeClock } from '@ballast/testkit';
import { z } from 'zod';
import { createEventBus, type EventBus } from '../src/bus';
import type { SubscribeOptions } from '../src/options';
import type { Transport } from '../src/transport';

export interface BusBackend {
  /** A fresh transport (its own key prefix on Redis) on `clock`. */
  transport: Transport;
  clock: FakeClock;
  /**
   * Lets `ms` pass: the clock's timers fire (lease renewals, claim sweeps, backoffs) and pending entries age
   * as the backend measures idle time (memory: the clock itself; Redis: the server's idle times, moved on in
   * steps with XCLAIM … IDLE to each entry's own consumer).
   */
  advance(ms: number, types: readonly string[]): Promise<void>;
  /** Subscribe options the backend needs under each test's own (Redis: a short real BLOCK, so loops turn over). */
  subscribeDefaults: SubscribeOptions;
  /** Length of `events:all`. */
  allLength(): Promise<number>;
}

export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve(value: T): void;
  readonly settled: boolean;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let settled = false;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return {
    promise,
    resolve: (v) => {
      settled = true;
      resolve(v);
    },
    get settled() {
      return settled;
    },
  };
}

/** Resolves once the event loop turned (I/O and promise continuations queued before it ran). */
export const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

const WATCHED = [
  'ensureGroup',
  'read',
  'ack',
  'renew',
  'retryLater',
  'claimStale',
  'deadLetter',
  'replayDeadLetter',
] as const;
type Watched = (typeof WATCHED)[number];

export interface Call {
  method: Watched;
  args: unknown[];
}

export interface Spy {
  transport: Transport;
  /** Every watched call so far, in start order. */
  calls: Call[];
  /**
   * Resolves after the next call of `method` that starts from now on (and matches `where`) completed and the
   * caller had a turn to act on its result.
   */
  next(method: Watched, where?: (args: unknown[]) => boolean): Promise<Call>;
  /** Holds the next call of `method` before it reaches the transport, until the returned release() is called. */
  hold(method: Watched): { reached: Promise<void>; release(): void };
}

/** Wraps a transport so tests can wait for its calls and hold one back. */
export function spy(target: Transport): Spy {
  const calls: Call[] = [];
  const waiters: { method: Watched; where: (args: unknown[]) => boolean; d: Deferred<Call> }[] = [];
  const holds = new Map<Watched, { reached: Deferred; released: Deferred }[]>();
  const wrapped = new Proxy(target, {
    get(t, prop) {
      const value = Reflect.get(t, prop, t) as unknown;
      if (typeof value !== 'function') return value;
      if (!(WATCHED as readonly PropertyKey[]).includes(prop)) return value.bind(t);
      const method = prop as Watched;
      return async (...args: unknown[]) => {
        const call = { method, args };
        calls.push(call);
        const mine = waiters.filter((w) => w.method === method && w.where(args));
        const hold = holds.get(method)?.shift();
        if (hold) {
          hold.reached.resolve();
          await hold.released.promise;
        }
        try {
          return await (value as (...a: unknown[]) => Promise<unknown>).apply(t, args);
        } finally {
          if (mine.length > 0) {
            void turn().then(() => {
              for (const w of mine) {
                waiters.splice(waiters.indexOf(w), 1);
                w.d.resolve(call);
              }
            });
          }
        }
      };
    },
  });
  return {
    transport: wrapped,
    calls,
    next(method, where = () => true) {
      const d = deferred<Call>();
      waiters.push({ method, where, d });
      return d.promise;
    },
    hold(method) {
      const h = { reached: deferred(), released: deferred() };
      holds.set(method, [...(holds.get(method) ?? []), h]);
      return { reached: h.reached.promise, release: () => h.released.resolve() };
    },
  };
}

export const quiet = createLogger({ level: 'silent' });

let typeSeq = 0;
/** An event type no other test of the process uses (metrics are cumulative per process). */
export const uniqueType = (base = 'order.placed') => `${base}.${typeSeq++}`;

export const schemaOf = () => z.object({ n: z.number().int() });
export type Events = Record<string, ReturnType<typeof schemaOf>>;

/** A bus on the backend's (spied) transport and clock with one event type `type`. */
export function busOn(
  b: BusBackend,
  transport: Transport,
  type: string,
  extra: readonly string[] = [],
): EventBus<Events> {
  const events: Events = { [type]: schemaOf() };
  for (const t of extra) events[t] = schemaOf();
  return createEventBus({ transport, clock: b.clock, source: 'orders', events, logger: quiet });
}
