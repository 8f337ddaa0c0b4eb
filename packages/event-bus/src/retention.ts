import type { Logger } from '@ballast/core';
import type { BusInstruments } from './metrics';
import type { ResolvedRetentionOptions } from './options';
import type { RetentionPolicy, Transport, TrimResult } from './transport';

/** The transport's policy from the bus's retention options. */
export function retentionPolicy(o: ResolvedRetentionOptions): RetentionPolicy {
  return {
    maxAgeMs: o.maxAgeMs,
    maxLen: o.maxLen,
    deadGroupAfterMs: o.deadGroupAfterMs,
    dlqMaxLen: o.dlqMaxLen,
    dlqMaxAgeMs: o.dlqMaxAgeMs,
  };
}

/**
 * One retention pass over a type: the group-aware trim, then what it removed that somebody may miss is never
 * silent — unconsumed entries of a dead group and dead letters over the DLQ caps are logged as warnings and
 * counted. Every trim of the bus goes through here.
 */
export async function applyRetention(
  transport: Transport,
  type: string,
  policy: RetentionPolicy,
  log: Logger,
  m: BusInstruments,
): Promise<TrimResult> {
  const result = await transport.trim(type, policy);
  if (result.trimmed > 0) m.trimmed.add(result.trimmed, { type });
  for (const group of result.deadGroups) {
    m.deadGroupTrims.add(1, { type, group });
    log.warn(
      { eventType: type, group, deadGroupAfterMs: policy.deadGroupAfterMs, trimmed: result.trimmed },
      'retention trimmed entries a dead consumer group had not consumed (no consumer active for deadGroupAfterMs)',
    );
  }
  if (result.dlqTrimmed > 0) {
    m.dlqTrimmed.add(result.dlqTrimmed, { type });
    log.warn(
      { eventType: type, dropped: result.dlqTrimmed, dlqMaxLen: policy.dlqMaxLen, dlqMaxAgeMs: policy.dlqMaxAgeMs },
      'dead letters dropped by the DLQ caps',
    );
  }
  return result;
}
