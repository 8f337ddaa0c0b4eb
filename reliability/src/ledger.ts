/**
 * What one scenario run proves, in numbers. `produced` items went in; `processed` distinct items had their
 * effect at least once; `lost` is what neither took effect nor was parked visibly (a DLQ, a rejected write);
 * `duplicated` counts effects beyond the first (at-least-once redeliveries). `details` carries the
 * scenario's own counters (kills, DLQ entries, stale writes rejected…) and `failures` every broken promise.
 */
export interface Ledger {
  scenario: string;
  mode: Mode;
  produced: number;
  processed: number;
  lost: number;
  duplicated: number;
  durationMs: number;
  details: Record<string, number | string>;
  /** Each promise the scenario found broken, in words; empty means it passed. */
  failures: string[];
}

export type Mode = 'short' | 'long';

export function passed(ledger: Ledger): boolean {
  return ledger.failures.length === 0;
}

/** Collects failures while a scenario checks its invariants: `check(lost === 0, \`${lost} lost\`)`. */
export class Checks {
  readonly failures: string[] = [];
  check(ok: boolean, failure: string): void {
    if (!ok) this.failures.push(failure);
  }
}
