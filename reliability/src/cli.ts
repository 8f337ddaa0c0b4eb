/**
 * `pnpm --filter @ballast/reliability chaos [--long] [--seed N] [--scale F] [scenario…]`
 * Short mode (default): small counts, a table. Long mode: full counts, and results/report.json + report.md.
 * Exit code 1 when any scenario failed.
 */
import { passed } from './ledger';
import { runScenarios, writeReport } from './run';
import { renderText } from './table';

const args = process.argv.slice(2);
const long = args.includes('--long');
const flagValue = (flag: string): number | undefined => {
  const at = args.indexOf(flag);
  return at >= 0 ? Number(args[at + 1]) : undefined;
};
const seed = flagValue('--seed');
const scale = flagValue('--scale') ?? 1;
const only = args.filter((a, i) => !a.startsWith('--') && !['--seed', '--scale'].includes(args[i - 1] ?? ''));
// Ctrl-C / SIGTERM: exit through process.exit, whose hook SIGKILLs every worker still running.
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));

const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
const ledgers = await runScenarios({ mode: long ? 'long' : 'short', only, seed, scale, log });
console.log(`\n${renderText(ledgers)}\n`);
if (long) for (const file of await writeReport(ledgers, seed, scale)) console.log(`wrote ${file}`);
process.exit(ledgers.every(passed) ? 0 : 1);
