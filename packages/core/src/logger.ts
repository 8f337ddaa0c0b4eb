import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { processWide } from './process-wide';

export type { Logger } from 'pino';

const SECRET_KEYS = [
  'password',
  'passwd',
  'secret',
  'token',
  'accessToken',
  'refreshToken',
  'idToken',
  'apiKey',
  'api_key',
  'authorization',
  'Authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
];

/**
 * Paths pino redacts by default: secret-looking keys at the top level, one and two levels down, and in
 * request/response headers (`req.headers.authorization`, `headers.cookie`, …).
 */
export const DEFAULT_REDACT_PATHS: readonly string[] = [
  ...SECRET_KEYS.flatMap((k) => {
    const key = /^[A-Za-z_$][\w$]*$/.test(k) ? k : `["${k}"]`;
    const join = (prefix: string) => (key.startsWith('[') ? `${prefix}${key}` : `${prefix}.${key}`);
    return [key, join('*'), join('*.*'), join('headers'), join('req.headers'), join('res.headers')];
  }),
];

export interface CreateLoggerOptions {
  /** Logger name, e.g. `@ballast/circuit-breaker`. */
  name?: string;
  /** Default: `BALLAST_LOG_LEVEL` or `info`. */
  level?: LoggerOptions['level'];
  /** Extra paths to redact on top of `DEFAULT_REDACT_PATHS`. */
  redact?: readonly string[];
  /** Fields on every line. */
  base?: Record<string, unknown>;
  /** Where to write (default stdout). Tests pass a stream to read lines back. */
  destination?: DestinationStream;
}

const SECRET_KEY_SET = new Set(SECRET_KEYS.map((k) => k.toLowerCase()));
/** `scheme://user:password@` anywhere in a string. */
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/)([^@/\s:]*):([^@/\s]*)@/gi;
const MAX_DEPTH = 8;

/**
 * What pino's path-based redaction cannot see: a secret-named key deeper than its paths reach, and a
 * password inside a connection URL logged under any key (`{ url: 'redis://app:pw@host' }`). Copies only what
 * it changes; the caller's object is never touched. Errors pass through (their serializer runs later).
 */
export function scrubSecrets(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') {
    return value.includes('@') ? value.replace(URL_CREDENTIALS, (_m, scheme, user) => `${scheme}${user}:***@`) : value;
  }
  if (typeof value !== 'object' || value === null || depth >= MAX_DEPTH || value instanceof Error) return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = scrubSecrets(value[i], depth + 1);
      if (v !== value[i]) {
        out ??= value.slice();
        out[i] = v;
      }
    }
    return out ?? value;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value; // class instances: left to serializers
  let out: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(value)) {
    const next = SECRET_KEY_SET.has(k.toLowerCase()) && v !== undefined ? '[REDACTED]' : scrubSecrets(v, depth + 1);
    if (next !== v) {
      out ??= { ...(value as Record<string, unknown>) };
      out[k] = next;
    }
  }
  return out ?? value;
}

/** A pino logger with Ballast's redaction of passwords, tokens and authorization headers. */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const pinoOptions: LoggerOptions = {
    level: options.level ?? process.env.BALLAST_LOG_LEVEL ?? 'info',
    redact: { paths: [...DEFAULT_REDACT_PATHS, ...(options.redact ?? [])], censor: '[REDACTED]' },
    base: options.base ?? { pid: process.pid },
    formatters: { log: (object) => scrubSecrets(object) as Record<string, unknown> },
  };
  if (options.name !== undefined) pinoOptions.name = options.name;
  return options.destination ? pino(pinoOptions, options.destination) : pino(pinoOptions);
}

// Shared by every copy of core in the process (ESM and CJS builds): one logger setDefaultLogger replaces.
const defaultLogger = processWide<Logger>('@ballast/core/defaultLogger');

/** The process-wide default logger packages use when not given one. Replace it with `setDefaultLogger`. */
export function getDefaultLogger(): Logger {
  let logger = defaultLogger.get();
  if (!logger) {
    logger = createLogger({ name: 'ballast' });
    defaultLogger.set(logger);
  }
  return logger;
}

export function setDefaultLogger(logger: Logger): void {
  defaultLogger.set(logger);
}

/** A child logger for a package or component: `childLogger(logger, { component: 'breaker', name })`. */
export function childLogger(parent: Logger | undefined, bindings: Record<string, unknown>): Logger {
  return (parent ?? getDefaultLogger()).child(bindings);
}

/** Hides the password (and a token-like username) in a connection URL: `redis://u:***@host`. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^@/]*)@/i, (_m, scheme: string, userinfo: string) => {
    const i = userinfo.indexOf(':');
    return i < 0 ? `${scheme}***@` : `${scheme}${userinfo.slice(0, i)}:***@`;
  });
}
