/**
 * Output and exit codes of the `ballast` command. Human tables by default (cli-table3), `--json` for scripts;
 * every failure is a `CliError` with an exit code (documented in the README).
 */
import Table from 'cli-table3';

export const EXIT = {
  ok: 0,
  /** A backend refused or failed (Redis down, timeout, a script error). */
  failure: 1,
  /** Bad arguments or options. */
  usage: 2,
  /** The queue, job, event type, dead letter or config version does not exist. */
  notFound: 3,
  /** A destructive command was not confirmed (answered no, or no terminal to ask and no `--yes`). */
  aborted: 4,
} as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failure,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Where the command writes; tests and embedders pass their own. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** A terminal to ask on and draw progress in; false when piped. */
  readonly interactive: boolean;
  /** Asks a yes/no question (only called when `interactive`). */
  confirm(question: string): Promise<boolean>;
}

export interface OutputOptions {
  json?: boolean;
}

/** Rows as a table (columns in the order given), or the value as JSON with `--json`. */
export function print(io: Io, options: OutputOptions, value: unknown, rows?: Record<string, unknown>[]): void {
  if (options.json || !rows) {
    io.out(JSON.stringify(value, null, options.json ? 0 : 2));
    return;
  }
  if (rows.length === 0) {
    io.out('(none)');
    return;
  }
  const head = Object.keys(rows[0]!);
  const table = new Table({ head, style: { head: [], border: [] } });
  for (const row of rows) table.push(head.map((h) => cell(row[h])));
  io.out(table.toString());
}

const cell = (v: unknown): string => {
  if (v === undefined || v === null) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
};

/** Parses a positive integer option, naming it in the error. */
export function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0)
      throw new CliError(`${name} must be a positive integer, got "${value}"`, EXIT.usage);
    return n;
  };
}
