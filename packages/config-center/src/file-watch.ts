import { type FSWatcher, watch as fsWatch } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Clock, Logger, TimerHandle } from '@ballast/core';

/**
 * Calls `onChange` once per burst of changes to `path` (debounced on `clock`). Watches the file's directory, as
 * editors save by writing a new file and renaming it over the old one (a watch on the file itself would go
 * stale). Returns the function that stops watching; when the directory cannot be watched, logs and returns a no-op.
 */
export function watchFile(
  path: string,
  debounceMs: number,
  clock: Clock,
  log: Logger,
  onChange: () => void,
): () => void {
  const full = resolve(path);
  const name = basename(full);
  let timer: TimerHandle | undefined;
  let watcher: FSWatcher;
  try {
    watcher = fsWatch(dirname(full), { persistent: false }, (_event, changed) => {
      if (changed !== null && changed.toString() !== name) return;
      if (timer) clock.clearTimeout(timer);
      timer = clock.setTimeout(() => {
        timer = undefined;
        onChange();
      }, debounceMs);
      timer.unref();
    });
  } catch (error) {
    log.warn({ err: error, file: path }, 'cannot watch config file; hot reload off for it');
    return () => {};
  }
  watcher.on('error', (error) => log.warn({ err: error, file: path }, 'config file watch error'));
  return () => {
    if (timer) clock.clearTimeout(timer);
    watcher.close();
  };
}
