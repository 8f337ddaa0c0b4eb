import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatTable, runSuite, type Suite, writeResult } from '../src/harness';

const toy: Suite = {
  name: 'toy',
  description: 'two impls of one case, one batched case',
  async setup() {
    const spin = (n: number) => {
      let x = 0;
      for (let i = 0; i < n; i++) x += i;
      return x;
    };
    return {
      cases: [
        { case: 'sum', impl: 'ballast', fn: () => spin(1_000) },
        { case: 'sum', impl: 'peer', fn: () => spin(50_000) },
        { case: 'batch', impl: 'ballast', fn: () => spin(1_000), opsPerCall: 10 },
      ],
    };
  },
};

describe('bench harness', () => {
  it('measures each case and writes exactly the fixed JSON shape', async () => {
    const result = await runSuite(toy, { timeMs: 30, iterations: 20, warmupMs: 5 });
    const dir = mkdtempSync(join(tmpdir(), 'ballast-bench-'));
    const file = join(dir, 'results', 'toy.json');
    writeResult(file, result);
    const parsed = JSON.parse(readFileSync(file, 'utf8'));
    expect(Object.keys(parsed)).toEqual(['suite', 'node', 'cpus', 'rows']);
    expect(parsed.suite).toBe('toy');
    expect(parsed.node).toBe(process.version);
    expect(parsed.cpus).toBeGreaterThan(0);
    expect(parsed.rows).toHaveLength(3);
    for (const row of parsed.rows) {
      expect(Object.keys(row)).toEqual(['case', 'impl', 'opsPerSec', 'p50Us', 'p99Us']);
      expect(row.opsPerSec).toBeGreaterThan(0);
      expect(row.p99Us).toBeGreaterThanOrEqual(row.p50Us);
    }
    const [fast, slow] = parsed.rows;
    // 50× the work: the peer must come out clearly slower (a generous bound, not a timing assertion).
    expect(fast.opsPerSec).toBeGreaterThan(slow.opsPerSec * 3);
  });

  it('prints ratios against the ballast row of each case', () => {
    const table = formatTable({
      suite: 's',
      node: 'v20',
      cpus: 2,
      rows: [
        { case: 'c', impl: 'opossum', opsPerSec: 1_000, p50Us: 900, p99Us: 1_000 },
        { case: 'c', impl: 'ballast', opsPerSec: 4_000, p50Us: 200, p99Us: 300 },
      ],
    });
    expect(table).toMatch(/\| c\s+\| opossum\s+\|\s+1,000 \|.*\| 4\.00×/);
    expect(table).toMatch(/\| c\s+\| ballast .*1\.00× \(ref: ballast\)/);
  });
});
