/**
 * `pnpm --filter @ballast/reliability chaos [--long] [--seed N] [scenario…]`
 * Short mode (default): small counts, a table. Long mode: full counts, and results/report.json + report.md.
 * Exit code 1 when any scenario failed.
 */
import { passed } from './ledger';
import { runScenarios, writeReport } from './run';
import { renderText } from './table';

const args = process.argv.slice(2);
const long = args.includes('--long');
const seedAt = args.indexOf('--seed');
const seed = seedAt >= 0 ? Number(args[seedAt + 1]) : undefined;
const only = args.filter((a, i) => !a.startsWith('--') && !(seedAt >= 0 && i === seedAt + 1));

const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
const ledgers = await runScenarios({ mode: long ? 'long' : 'short', only, seed, log });
console.log(`\n${renderText(ledgers)}\n`);
if (long) for (const file of await writeReport(ledgers, seed)) console.log(`wrote ${file}`);
process.exit(ledgers.every(passed) ? 0 : 1);
