/** A Go-style duration ("10s", "1m30s", "250ms", "1h") or a number of nanoseconds, as Consul accepts. */
export class DurationError extends Error {
  constructor(readonly value: unknown) {
    super(`time: invalid duration ${JSON.stringify(String(value))}`);
  }
}

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** Parses to milliseconds; `undefined`/"" → `undefined`. Throws `DurationError` on garbage. */
export function parseDuration(value: unknown): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new DurationError(value);
    return value / 1e6;
  }
  if (typeof value !== 'string') throw new DurationError(value);
  if (value === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  while (pos < value.length) {
    re.lastIndex = pos;
    const m = re.exec(value);
    if (!m) throw new DurationError(value);
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
    pos = re.lastIndex;
  }
  return total;
}

/** Formats milliseconds the way Consul echoes durations back ("15s", "1m0s"). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1_000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1_000;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}
