// OpenTelemetry instruments of the primitives. Labels are bounded: the primitive's kind, the operation and its
// outcome — never a semaphore, latch or key name (those are unbounded, like `user:{id}`).
import { getMeter, metricName } from '@ballast/core';

export type PrimitiveKind = 'semaphore' | 'latch' | 'multi_lock' | 'rw_lock';
export type Outcome = 'granted' | 'refused' | 'timeout' | 'lost' | 'released' | 'error';

export interface PrimitiveInstruments {
  /** `ballast_lock_primitive_operations_total{primitive, operation, outcome}` */
  count(operation: string, outcome: Outcome): void;
  /** `ballast_lock_primitive_wait_ms{primitive}`: how long a granted acquire (or a finished latch await) waited. */
  waited(ms: number): void;
}

export function primitiveInstruments(primitive: PrimitiveKind): PrimitiveInstruments {
  const meter = getMeter('@ballast/lock');
  const ops = meter.createCounter(metricName('lock', 'primitive_operations_total'));
  const wait = meter.createHistogram(metricName('lock', 'primitive_wait_ms'), { unit: 'ms' });
  const waitAttrs = Object.freeze({ primitive });
  const attrs = new Map<string, Readonly<Record<string, string>>>(); // operation+outcome: a fixed, small set
  return {
    count(operation, outcome) {
      const id = `${operation}\u0000${outcome}`;
      let a = attrs.get(id);
      if (!a) {
        a = Object.freeze({ primitive, operation, outcome });
        attrs.set(id, a);
      }
      ops.add(1, a);
    },
    waited(ms) {
      wait.record(ms, waitAttrs);
    },
  };
}
