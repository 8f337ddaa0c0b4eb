import { childLogger, type Logger } from '@ballast/core';

/**
 * One component's logger: a child of `parent`, or of core's process-wide default (pino; replace it with
 * core's `setDefaultLogger`). The browser build of `@ballast/circuit-breaker/http` swaps this module for
 * `log.browser.ts`, whose default writes to the console: pino's Node logger does not belong in a page.
 */
export function componentLogger(parent: Logger | undefined, bindings: Record<string, unknown>): Logger {
  return childLogger(parent, bindings);
}
