export function benchRedisUrl(): string {
  return process.env.BALLAST_REDIS_URL ?? 'redis://127.0.0.1:6379';
}

/** Concurrent publish() calls per round of the bus suite's `*-concurrent` cases (the smoke test runs fewer). */
export function benchBusConcurrent(): number {
  const n = Number(process.env.BENCH_BUS_CONCURRENT ?? 50_000);
  return Number.isInteger(n) && n > 0 ? n : 50_000;
}
