import { type Ledger, passed } from './ledger';

const COLUMNS = ['scenario', 'mode', 'produced', 'processed', 'lost', 'duplicated', 'seconds', 'result'] as const;

function row(l: Ledger): string[] {
  return [
    l.scenario,
    l.mode,
    String(l.produced),
    String(l.processed),
    String(l.lost),
    String(l.duplicated),
    (l.durationMs / 1000).toFixed(1),
    passed(l) ? 'PASS' : 'FAIL',
  ];
}

function details(l: Ledger): string {
  return Object.entries(l.details)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

/** The plain-text table the CLI prints: one row per scenario, its details and failures below it. */
export function renderText(ledgers: readonly Ledger[]): string {
  const rows = [COLUMNS.slice() as string[], ...ledgers.map(row)];
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const l of ledgers) {
    out.push(line(row(l)));
    out.push(`    ${details(l)}`);
    for (const f of l.failures) out.push(`    ✖ ${f}`);
  }
  return out.join('\n');
}

/** The same as a markdown table (README, report.md). */
export function renderMarkdown(ledgers: readonly Ledger[]): string {
  const out = [
    `| ${COLUMNS.join(' | ')} | details |`,
    `|${COLUMNS.map((_, i) => (i < 2 ? ' --- ' : ' ---: ')).join('|')}| --- |`,
  ];
  for (const l of ledgers) out.push(`| ${row(l).join(' | ')} | ${details(l)} |`);
  const failures = ledgers.flatMap((l) => l.failures.map((f) => `- **${l.scenario}**: ${f}`));
  if (failures.length > 0) out.push('', 'Failures:', ...failures);
  return out.join('\n');
}
