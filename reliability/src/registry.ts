import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Scenario } from './scenario';

const dir = new URL('./scenarios/', import.meta.url);

/** Every scenario in src/scenarios (a file exporting `scenario`), by name. */
export async function loadScenarios(): Promise<Map<string, Scenario>> {
  const files = (await readdir(fileURLToPath(dir))).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts')).sort();
  const out = new Map<string, Scenario>();
  for (const file of files) {
    const mod = (await import(new URL(file, dir).href)) as { scenario?: Scenario };
    if (mod.scenario) out.set(mod.scenario.name, mod.scenario);
  }
  return out;
}
