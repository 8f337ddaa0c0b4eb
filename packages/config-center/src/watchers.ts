// Change notification: the `watch` subscriptions of a config and what they are told when a new snapshot is
// swapped in. The change event's payload lives here too.
import type { Logger, Unsubscribe } from '@ballast/core';
import type { DeepReadonly } from './paths';
import { deepEqual, getPath } from './tree';

/** What a change event carries. */
export interface ConfigChange<T> {
  snapshot: DeepReadonly<T>;
  previous: DeepReadonly<T>;
  /** The source whose update produced it (`file:…`, `redis:…`, `consul:…`, `memory`, `reload`). */
  origin: string;
}

interface Watcher {
  path: string;
  cb: (value: unknown, previous: unknown) => void;
}

/** The watchers of one config: a dotted path (`''` for the whole snapshot) and its callback. */
export class Watchers {
  readonly #watchers = new Set<Watcher>();

  /** `add(path, cb)` or `add(cb)`, as `Config.watch`; returns the unsubscribe function. */
  add(pathOrCb: string | ((...args: never[]) => void), maybeCb?: (...args: never[]) => void): Unsubscribe {
    const w: Watcher =
      typeof pathOrCb === 'function'
        ? { path: '', cb: pathOrCb as Watcher['cb'] }
        : { path: pathOrCb, cb: maybeCb as Watcher['cb'] };
    this.#watchers.add(w);
    const off = () => void this.#watchers.delete(w);
    return Object.assign(off, { dispose: off, [Symbol.dispose]: off });
  }

  /** Calls every watcher whose value differs (deep comparison) between `previous` and `snapshot`. */
  notify(snapshot: unknown, previous: unknown, log: Logger): void {
    for (const w of [...this.#watchers]) {
      const now = getPath(snapshot, w.path);
      const before = getPath(previous, w.path);
      if (deepEqual(now, before)) continue;
      try {
        w.cb(now, before);
      } catch (error) {
        log.error({ err: error, path: w.path }, 'config watcher threw');
      }
    }
  }

  clear(): void {
    this.#watchers.clear();
  }
}
