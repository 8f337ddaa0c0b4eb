import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import { Bench } from 'tinybench';

/** One measured function: a case (what is done) by an impl (who does it). */
export interface BenchCase {
  case: string;
  impl: string;
  fn: () => unknown | Promise<unknown>;
  /** Items one call of `fn` handles (a batch of 500 stream entries = 500). Default 1. */
  opsPerCall?: number;
  beforeAll?: () => unknown | Promise<unknown>;
  afterAll?: () => unknown | Promise<unknown>;
  /** Extra numeric columns for the case's row, read after it ran (e.g. fairness figures). */
  extra?: () => Record<string, number>;
  /**
   * At most this many measured (and warm-up) iterations, whatever `--iterations` asks: for cases whose one call
   * takes seconds (50k concurrent publishes), where the default 200 + 100 warm-up would run for a quarter hour.
   */
  maxIterations?: number;
}

export interface Suite {
  name: string;
  description: string;
  /** Builds the cases; may open connections. `teardown` closes them. */
  setup(): Promise<{ cases: BenchCase[]; teardown?: () => Promise<void> }>;
}

/** The result file shape (fixed by the foundation issue; keep it exactly). */
export interface BenchRow {
  case: string;
  impl: string;
  opsPerSec: number;
  p50Us: number;
  p99Us: number;
  /** Extra columns some suites add (the lock suite's fairness figures). */
  [extra: string]: string | number;
}
export interface BenchResult {
  suite: string;
  node: string;
  cpus: number;
  rows: BenchRow[];
}

export interface RunOptions {
  /** Measuring time per case, ms. */
  timeMs: number;
  /** Minimum measured iterations per case. */
  iterations: number;
  warmupMs: number;
  /** Only cases whose `case` or `impl` contains this. */
  filter?: string;
  log?: (line: string) => void;
}

const round = (n: number, digits: number) => Number(n.toFixed(digits));

/**
 * Runs every case of a suite in one process, one after another (never concurrently: cases would steal each
 * other's CPU and Redis), each with warm-up, and returns rows in the fixed shape.
 * ops/s is items per second from the mean call latency (`1000 / mean ms · opsPerCall`); p50/p99 are per call.
 */
export async function runSuite(suite: Suite, options: RunOptions): Promise<BenchResult> {
  const log = options.log ?? (() => {});
  const { cases, teardown } = await suite.setup();
  const selected = options.filter
    ? cases.filter((c) => c.case.includes(options.filter!) || c.impl.includes(options.filter!))
    : cases;
  const rows: BenchRow[] = [];
  try {
    for (const c of selected) {
      log(`  running ${c.case} / ${c.impl} …`);
      const iterations = Math.min(options.iterations, c.maxIterations ?? Number.POSITIVE_INFINITY);
      const bench = new Bench({
        time: c.maxIterations === undefined ? options.timeMs : 0,
        iterations,
        warmupTime: c.maxIterations === undefined ? options.warmupMs : 0,
        warmupIterations: Math.min(iterations, 100),
        throws: true,
      });
      const hooks: { beforeAll?: () => Promise<void>; afterAll?: () => Promise<void> } = {};
      if (c.beforeAll) hooks.beforeAll = async () => void (await c.beforeAll?.());
      if (c.afterAll) hooks.afterAll = async () => void (await c.afterAll?.());
      bench.add(`${c.case}|${c.impl}`, c.fn, hooks);
      await bench.run();
      const result = bench.tasks[0]?.result;
      if (!result || result.error)
        throw new Error(`${c.case}/${c.impl} failed: ${result?.error?.message ?? 'no result'}`);
      const perCall = c.opsPerCall ?? 1;
      rows.push({
        case: c.case,
        impl: c.impl,
        opsPerSec: round((1000 / result.latency.mean) * perCall, 1),
        p50Us: round((result.latency.p50 ?? result.latency.mean) * 1000, 2),
        p99Us: round((result.latency.p99 ?? result.latency.max) * 1000, 2),
        ...c.extra?.(),
      });
    }
  } finally {
    await teardown?.();
  }
  return { suite: suite.name, node: process.version, cpus: availableParallelism(), rows };
}

/** The reference impl of a case for ratios: `ballast` when present, else the first impl listed. */
function referenceOf(rows: BenchRow[]): BenchRow {
  return rows.find((r) => r.impl === 'ballast') ?? rows[0]!;
}

/** A table grouped by case, with each impl's throughput and time per op relative to the reference impl. */
export function formatTable(result: BenchResult): string {
  const byCase = new Map<string, BenchRow[]>();
  for (const r of result.rows) byCase.set(r.case, [...(byCase.get(r.case) ?? []), r]);
  const header = ['case', 'impl', 'ops/s', 'p50 µs', 'p99 µs', 'time/op vs ref'];
  // Extra numeric columns (the same names on every row that has them), after the fixed ones.
  const extras = [
    ...new Set(
      result.rows.flatMap((r) =>
        Object.keys(r).filter((k) => !['case', 'impl', 'opsPerSec', 'p50Us', 'p99Us'].includes(k)),
      ),
    ),
  ];
  header.push(...extras);
  const body: string[][] = [];
  for (const [, rows] of byCase) {
    const ref = referenceOf(rows);
    for (const r of rows) {
      const ratio = ref.opsPerSec / r.opsPerSec; // >1: this impl spends more time per op than the reference
      body.push([
        r.case,
        r.impl,
        Math.round(r.opsPerSec).toLocaleString('en-US'),
        r.p50Us.toFixed(1),
        r.p99Us.toFixed(1),
        r === ref ? `1.00× (ref: ${ref.impl})` : `${ratio.toFixed(2)}×`,
        ...extras.map((k) => (r[k] === undefined ? '' : String(r[k]))),
      ]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i >= 2 && i !== 5 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  return [
    `suite ${result.suite} · node ${result.node} · ${result.cpus} cpus`,
    line(header),
    `|${widths.map((w, i) => (i >= 2 && i !== 5 ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`,
    ...body.map(line),
  ].join('\n');
}

export function writeResult(path: string, result: BenchResult): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
}
