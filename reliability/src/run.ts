import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Ledger, Mode } from './ledger';
import { loadScenarios } from './registry';
import { defaultRedisUrl, type ScenarioContext, seededRandom } from './scenario';
import { renderMarkdown } from './table';

export interface RunOptions {
  mode: Mode;
  /** Scenario names; empty: all. */
  only?: readonly string[];
  seed?: number;
  scale?: number;
  log?: (line: string) => void;
}

/** Runs the scenarios one after another (they share the machine: running them at once skews the chaos). */
export async function runScenarios(options: RunOptions): Promise<Ledger[]> {
  const all = await loadScenarios();
  const names = options.only && options.only.length > 0 ? options.only : [...all.keys()];
  const seed = options.seed ?? Date.now() % 2 ** 31;
  const log = options.log ?? (() => {});
  log(`seed ${seed}`);
  const ledgers: Ledger[] = [];
  for (const name of names) {
    const scenario = all.get(name);
    if (!scenario) throw new Error(`unknown scenario "${name}"; known: ${[...all.keys()].join(', ')}`);
    const ctx: ScenarioContext = {
      mode: options.mode,
      redisUrl: defaultRedisUrl(),
      log,
      random: seededRandom(seed),
      scale: options.scale ?? 1,
    };
    log(`▶ ${name} (${options.mode}): ${scenario.description}`);
    const started = Date.now();
    let ledger: Ledger;
    try {
      ledger = await scenario.run(ctx);
    } catch (error) {
      // A scenario that could not run is a failed row, not the end of the run: the others still report.
      ledger = {
        scenario: name,
        mode: options.mode,
        produced: 0,
        processed: 0,
        lost: 0,
        duplicated: 0,
        durationMs: Date.now() - started,
        details: {},
        failures: [`crashed: ${error instanceof Error ? error.message : String(error)}`.slice(0, 2_000)],
      };
    }
    log(`■ ${name}: ${JSON.stringify(ledger)}`);
    ledgers.push(ledger);
  }
  return ledgers;
}

export const resultsDir = fileURLToPath(new URL('../results/', import.meta.url));

/** report.json (every ledger) and report.md (the table) in reliability/results, merged by scenario. */
export async function writeReport(ledgers: readonly Ledger[], seed: number | undefined, scale = 1): Promise<string[]> {
  await mkdir(resultsDir, { recursive: true });
  const json = `${resultsDir}report.json`;
  const md = `${resultsDir}report.md`;
  const meta = { generatedAt: new Date().toISOString(), seed, scale, node: process.version };
  // The report keeps the latest long result of every scenario: a run of one scenario replaces its row only.
  let previous: Ledger[] = [];
  try {
    previous = (JSON.parse(await readFile(json, 'utf8')) as { ledgers?: Ledger[] }).ledgers ?? [];
  } catch {
    // no report yet
  }
  const fresh = new Set(ledgers.map((l) => l.scenario));
  const merged = [...previous.filter((l) => !fresh.has(l.scenario)), ...ledgers];
  await writeFile(json, `${JSON.stringify({ ...meta, ledgers: merged }, null, 2)}\n`);
  await writeFile(
    md,
    `# Chaos report (long mode)\n\nLast written ${meta.generatedAt} (that run: seed ${seed ?? 'random'}, scale ${scale}, node ${meta.node}; rows of scenarios not in it come from earlier runs).\n\n${renderMarkdown(merged)}\n`,
  );
  return [json, md];
}
