import type { Logger } from '@ballast/core';

type Method = 'info' | 'warn' | 'error';
type Fields = Record<string, unknown>;

const noop = () => {};

/** A pino-shaped logger over `console`: `info` and up, each line's fields (bindings included) beside the message. */
function consoleLogger(bindings: Fields): Logger {
  const line =
    (method: Method) =>
    (first: unknown, second?: unknown): void => {
      const [fields, message] = typeof first === 'string' ? [undefined, first] : [first as Fields, second];
      console[method](message ?? '', { ...bindings, ...fields });
    };
  const logger = {
    level: 'info',
    child: (more: Fields) => consoleLogger({ ...bindings, ...more }),
    isLevelEnabled: (level: string) => !['trace', 'debug'].includes(level),
    trace: noop,
    debug: noop,
    info: line('info'),
    warn: line('warn'),
    error: line('error'),
    fatal: line('error'),
    silent: noop,
  };
  return logger as unknown as Logger;
}

/**
 * The browser build's `componentLogger` (see `log.ts`): a child of `parent`, or of a console logger — in a
 * page the breaker's 🔴/🟡/🟢 lines and the client's retry lines go to the devtools console.
 */
export function componentLogger(parent: Logger | undefined, bindings: Fields): Logger {
  return parent ? parent.child(bindings) : consoleLogger(bindings);
}
