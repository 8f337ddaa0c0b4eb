import { type BackendName, isBackendUnavailableError } from './backend';
import type { Logger } from './logger';

/** Anything that emits `'error'` (and `'ready'` once usable again): ioredis clients, amqplib connections. */
export interface ConnectionEvents {
  // biome-ignore lint/suspicious/noExplicitAny: Node's EventEmitter listener type, which every client declares.
  on(event: string, listener: (...args: any[]) => void): unknown;
  // biome-ignore lint/suspicious/noExplicitAny: as above.
  removeListener(event: string, listener: (...args: any[]) => void): unknown;
}

export interface WatchConnectionOptions {
  logger: Logger;
  backend: BackendName;
  /** Which connection, e.g. `blocking reads`, `lock subscriber`. */
  connection: string;
  /**
   * State shared by the connections that replace one another (a connection dropped and made anew while the
   * backend is still down): the outage is then reported once for all of them, not once per connection.
   */
  state?: { down: boolean };
}

function reason(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' && !error.message.includes(code) ? `${code} ${error.message}` : error.message;
  }
  return String(error);
}

/**
 * Listens to `'error'` on a connection a package created (so Node never sees an unhandled `'error'` event,
 * and ioredis prints no `Unhandled error event` stack) and logs the connection's state changes: one warning
 * when it goes down, one info line when it is `'ready'` again; the retries in between are debug lines. Returns
 * a function removing the listeners.
 */
export function watchConnection(conn: ConnectionEvents, o: WatchConnectionOptions): () => void {
  const state = o.state ?? { down: false };
  const fields = { backend: o.backend, connection: o.connection };
  const onError = (error: unknown) => {
    if (state.down) {
      o.logger.debug({ ...fields, reason: reason(error) }, `${o.backend} connection still down`);
      return;
    }
    state.down = true;
    o.logger.warn({ ...fields, reason: reason(error) }, `${o.backend} connection lost`);
  };
  const onReady = () => {
    if (!state.down) return;
    state.down = false;
    o.logger.info(fields, `${o.backend} connection restored`);
  };
  conn.on('error', onError);
  conn.on('ready', onReady);
  return () => {
    conn.removeListener('error', onError);
    conn.removeListener('ready', onReady);
  };
}

/** What `outageLog` returns: report each failure of a retrying loop, and each success. */
export interface OutageLog {
  /** A `BackendUnavailableError` is a warning the first time, debug after; any other error is an error line. */
  failed(error: unknown, message: string, fields?: Record<string, unknown>): void;
  /** A call worked: one info line if the backend had been reported unavailable. */
  succeeded(message: string, fields?: Record<string, unknown>): void;
}

/**
 * Logging for a background loop that retries while its backend is down (a queue worker's fetch, a consumer's
 * read): one warning when the outage starts, one info line when it ends, debug lines for the retries between.
 */
export function outageLog(logger: Logger): OutageLog {
  let down = false;
  return {
    failed(error, message, fields = {}) {
      if (!isBackendUnavailableError(error)) {
        logger.error({ ...fields, err: error }, message);
        return;
      }
      const line = { ...fields, backend: error.backend, reason: error.message };
      if (down) logger.debug(line, message);
      else logger.warn(line, `${message}; retrying until ${error.backend} is back`);
      down = true;
    },
    succeeded(message, fields = {}) {
      if (!down) return;
      down = false;
      logger.info(fields, message);
    },
  };
}
