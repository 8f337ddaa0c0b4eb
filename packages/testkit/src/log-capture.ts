import { Writable } from 'node:stream';
import { createLogger, type Logger } from '@ballast/core';

/** One JSON log line as pino wrote it. */
export interface LogLine {
  level: number;
  msg: string;
  /** The raw text, to check for duplicate keys (`JSON.parse` keeps only the last one). */
  raw: string;
  [field: string]: unknown;
}

export interface CapturedLogs {
  logger: Logger;
  readonly lines: LogLine[];
  /** Lines at `level` (pino numbers: 20 debug, 30 info, 40 warn, 50 error) or above. */
  atLeast(level: number): LogLine[];
  /** Resolves with the first line (already written, or to come) for which `match` is true. */
  waitFor(match: (line: LogLine) => boolean): Promise<LogLine>;
}

/** A Ballast logger (`createLogger`, with its redaction) writing into an array, for assertions on log lines. */
export function captureLogs(options: { level?: string; name?: string } = {}): CapturedLogs {
  const lines: LogLine[] = [];
  const waiters = new Set<{ match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }>();
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      for (const raw of String(chunk).split('\n')) {
        if (!raw) continue;
        const line: LogLine = { ...JSON.parse(raw), raw };
        lines.push(line);
        for (const w of waiters) {
          if (!w.match(line)) continue;
          waiters.delete(w);
          w.resolve(line);
        }
      }
      callback();
    },
  });
  const logger = createLogger({
    destination,
    level: options.level ?? 'debug',
    ...(options.name === undefined ? {} : { name: options.name }),
  });
  return {
    logger,
    lines,
    atLeast: (level) => lines.filter((l) => l.level >= level),
    waitFor(match) {
      const found = lines.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve) => waiters.add({ match, resolve }));
    },
  };
}
