import { SingleBar } from 'cli-progress';
import type { Io } from './io';

/** A progress bar on stderr for long operations on a terminal; silent when piped or with `--json`. */
export function progress(io: Io, total: number, label: string, quiet = false) {
  if (!io.interactive || quiet || total < 2) return { tick: (_n: number) => {}, stop: () => {} };
  const bar = new SingleBar({ format: `${label} [{bar}] {value}/{total}`, stream: process.stderr, hideCursor: true });
  bar.start(total, 0);
  return { tick: (n: number) => bar.increment(n), stop: () => bar.stop() };
}
