import type { Redis } from '@ballast/core';

/**
 * Resolves once `conn` is ready, on its `end` (disconnected), or after `timeoutMs` — at once unless the client was
 * made with `enableOfflineQueue: false` (its duplicates inherit it): such a client refuses a command sent before
 * it is connected, so the first blocking command on a fresh duplicate would fail as if Redis were down. A
 * connection not up by then gets its command and reports the outage.
 */
export function whenReady(conn: Redis, timeoutMs: number): Promise<void> {
  if (conn.status === 'ready' || conn.options.enableOfflineQueue !== false) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      conn.off('ready', done);
      conn.off('end', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(timeoutMs, 1));
    timer.unref();
    conn.once('ready', done);
    conn.once('end', done);
  });
}
