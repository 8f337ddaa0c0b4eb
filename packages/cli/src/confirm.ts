import { CliError, EXIT, type Io } from './io';

export interface DestructiveOptions {
  dryRun?: boolean;
  yes?: boolean;
}

/**
 * Destructive commands: `--dry-run` only describes; otherwise ask (on a terminal) unless `--yes`. Without a
 * terminal and without `--yes` the command refuses (exit 4) rather than act unasked.
 */
export async function confirmOrAbort(io: Io, o: DestructiveOptions, what: string): Promise<boolean> {
  if (o.dryRun) {
    io.err(`dry run: would ${what}`);
    return false;
  }
  if (o.yes) return true;
  if (!io.interactive)
    throw new CliError(`refusing to ${what} without --yes (no terminal to confirm on)`, EXIT.aborted);
  if (await io.confirm(`${what}?`)) return true;
  throw new CliError('aborted: not confirmed', EXIT.aborted);
}
