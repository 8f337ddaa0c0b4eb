import { readdirSync } from 'node:fs';
import type { Suite } from '../harness';

/**
 * Every suite `npm run bench -- <suite>` knows: each file of this folder that exports a `Suite`.
 * Discovered rather than listed, so adding a suite is adding one file.
 */
export async function loadSuites(): Promise<Record<string, Suite>> {
  const files = readdirSync(import.meta.dirname)
    .filter((f) => /\.ts$/.test(f) && !f.endsWith('.d.ts') && f !== 'index.ts')
    .sort();
  const suites: Record<string, Suite> = {};
  for (const file of files) {
    const mod = (await import(`./${file}`)) as Record<string, unknown>;
    for (const value of Object.values(mod)) {
      if (isSuite(value)) suites[value.name] = value;
    }
  }
  // The baseline first: it says what the machine's Redis can do before anything else runs.
  const { 'redis-baseline': baseline, ...rest } = suites;
  return baseline ? { 'redis-baseline': baseline, ...rest } : rest;
}

function isSuite(value: unknown): value is Suite {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Suite).name === 'string' &&
    typeof (value as Suite).setup === 'function'
  );
}
