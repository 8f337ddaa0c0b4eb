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
}

/** A Ballast logger (`createLogger`, with its redaction) writing into an array, for assertions on log lines. */
export function captureLogs(options: { level?: string; name?: string } = {}): CapturedLogs {
  const lines: LogLine[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      for (const raw of String(chunk).split('\n')) if (raw) lines.push({ ...JSON.parse(raw), raw });
      callback();
    },
  });
  const logger = createLogger({
    destination,
    level: options.level ?? 'debug',
    ...(options.name === undefined ? {} : { name: options.name }),
  });
  return { logger, lines, atLeast: (level) => lines.filter((l) => l.level >= level) };
}
