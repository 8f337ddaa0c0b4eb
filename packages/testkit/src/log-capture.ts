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

/**
 * Keys that appear twice in one object of a JSON text (`JSON.parse` silently keeps the last): pino writes a
 * child binding named like one of its own fields (`name`, `level`, `msg`) twice. Returns them, deepest first.
 */
export function duplicateJsonKeys(json: string): string[] {
  const found: string[] = [];
  const stack: (Set<string> | null)[] = []; // a Set per open object, null per open array
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === '{') stack.push(new Set());
    else if (c === '[') stack.push(null);
    else if (c === '}' || c === ']') stack.pop();
    else if (c === '"') {
      let j = i + 1;
      while (j < json.length && json[j] !== '"') j += json[j] === '\\' ? 2 : 1;
      const text = json.slice(i + 1, j);
      let k = j + 1;
      while (json[k] === ' ') k++;
      const keys = stack.at(-1);
      if (json[k] === ':' && keys) {
        if (keys.has(text)) found.push(text);
        keys.add(text);
      }
      i = j;
    }
  }
  return found;
}
