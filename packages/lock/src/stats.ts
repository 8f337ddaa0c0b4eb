// Per-key-prefix lock statistics (`LockManager.stats()`) and the OpenTelemetry instruments recorded alongside.
import { getMeter, metricName } from '@ballast/core';

export interface LockStats {
  acquisitions: number;
  /** Attempts that found the lock held and had to wait (then granted, timed out or aborted). */
  contended: number;
  timeouts: number;
  lost: number;
  waitMs: { count: number; total: number; max: number };
  holdMs: { count: number; total: number; max: number };
}

const emptyStats = (): LockStats => ({
  acquisitions: 0,
  contended: 0,
  timeouts: 0,
  lost: 0,
  waitMs: { count: 0, total: 0, max: 0 },
  holdMs: { count: 0, total: 0, max: 0 },
});

/** Stats of one key prefix, with the metric attributes object reused by every record. */
export interface PrefixEntry {
  stats: LockStats;
  attrs: { prefix: string };
}

/** Stats are kept per key prefix: `user:42` → `user`. */
function prefixOf(key: string): string {
  const i = key.indexOf(':');
  return i < 0 ? key : key.slice(0, i);
}

/** Distinct prefixes kept (stats entries, metric label values); later ones are counted under `OTHER_PREFIX`. */
export const MAX_PREFIXES = 100;
/** Where keys of prefixes past the first `MAX_PREFIXES` are counted. */
export const OTHER_PREFIX = '(other)';

/** Metric label values in use in this process (every manager's): capped as each manager's stats are. */
const labels = new Set<string>();
function labelFor(prefix: string): string {
  if (labels.has(prefix)) return prefix;
  if (labels.size >= MAX_PREFIXES) return OTHER_PREFIX;
  labels.add(prefix);
  return prefix;
}

/**
 * The entry of `key`'s prefix in `prefixes`, created on first use. Bounded: keys are often ids (`job-42`, no
 * separator), and one stats entry or metric label value per key would grow without end.
 */
export function entryFor(prefixes: Map<string, PrefixEntry>, key: string): PrefixEntry {
  let p = prefixOf(key);
  let e = prefixes.get(p);
  if (!e && prefixes.size >= MAX_PREFIXES) {
    p = OTHER_PREFIX;
    e = prefixes.get(p);
  }
  if (!e) {
    e = { stats: emptyStats(), attrs: Object.freeze({ prefix: labelFor(p) }) };
    prefixes.set(p, e);
  }
  return e;
}

/** A copy of every prefix's stats, safe to hand out. */
export function statsSnapshot(prefixes: Map<string, PrefixEntry>): Record<string, LockStats> {
  return Object.fromEntries([...prefixes].map(([k, v]) => [k, structuredClone(v.stats)]));
}

export function observe(h: { count: number; total: number; max: number }, ms: number): void {
  h.count++;
  h.total += ms;
  if (ms > h.max) h.max = ms;
}

const meter = () => getMeter('@ballast/lock');

/** The lock metrics, created once per manager. */
export function lockInstruments() {
  return {
    acquisitions: meter().createCounter(metricName('lock', 'acquisitions_total')),
    contended: meter().createCounter(metricName('lock', 'contended_total')),
    timeouts: meter().createCounter(metricName('lock', 'timeouts_total')),
    lost: meter().createCounter(metricName('lock', 'lost_total')),
    wait: meter().createHistogram(metricName('lock', 'wait_ms'), { unit: 'ms' }),
    hold: meter().createHistogram(metricName('lock', 'hold_ms'), { unit: 'ms' }),
  };
}

type LockInstruments = ReturnType<typeof lockInstruments>;

/** One event of `entry`'s prefix, in its stats and in the OTel instruments (a grant records its wait). */
export function record(entry: PrefixEntry, m: LockInstruments, event: 'grant' | 'contended' | 'timeout', waitedMs = 0) {
  if (event === 'grant') {
    entry.stats.acquisitions++;
    observe(entry.stats.waitMs, waitedMs);
    m.acquisitions.add(1, entry.attrs);
    m.wait.record(waitedMs, entry.attrs);
  } else if (event === 'contended') {
    entry.stats.contended++;
    m.contended.add(1, entry.attrs);
  } else {
    entry.stats.timeouts++;
    m.timeouts.add(1, entry.attrs);
  }
}
