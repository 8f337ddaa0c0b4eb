// A held lock as the manager tracks it, and the `Lease` handle callers get for it.
import type { LockMode } from './backend';
import type { LockLostError } from './errors';
import { ASYNC_DISPOSE, type Lease } from './lease';
import type { PrefixEntry } from './stats';
import type { WatchGroup } from './watchdog';

export interface Held {
  /** `${key}\u0000${token}`: its entry in the manager's map of held leases. */
  id: string;
  key: string;
  mode: LockMode;
  token: string;
  count: number;
  ttlMs: number;
  validUntil: number;
  acquiredAt: number;
  /** Created when someone reads the lease's signal (most callers never do). */
  controller: AbortController | undefined;
  /** Set when the lock is lost; a controller created later starts aborted with it. */
  lost: LockLostError | undefined;
  /** Its prefix's stats (kept here so release and loss need no key parsing). */
  entry: PrefixEntry;
  /** The watchdog group it is extended by, and when next (monotonic ms); undefined: not auto-extended. */
  group: WatchGroup | undefined;
  due: number;
  /** Its place in the validity timer (`ValidityTimer`); -1 when not watched. */
  slot: number;
  /** Its last level is being released: nothing it does from now on (an extension's answer) is a loss. */
  releasing: boolean;
  /** Taken by a plain `acquire()` outside any lock context (its owner was made up for it). */
  implicit: boolean;
}

function signalOf(h: Held): AbortSignal {
  if (!h.controller) {
    h.controller = new AbortController();
    if (h.lost) h.controller.abort(h.lost);
  }
  return h.controller.signal;
}

const RESOLVED = Promise.resolve();
const RESOLVED_FALSE = Promise.resolve(false);

/** What a lease needs of its manager. */
export interface LeaseOps {
  extend(h: Held, ttlMs: number): Promise<boolean>;
  release(h: Held): Promise<void>;
}

/** A class, not an object literal of closures: one allocation per lease on the hot path. */
export class HeldLease implements Lease {
  readonly key: string;
  readonly mode: LockMode;
  readonly token: string;
  readonly fencingToken: number;
  readonly count: number;
  readonly #h: Held;
  readonly #ops: LeaseOps;
  readonly #ttlMs: number;
  #released = false;

  constructor(h: Held, ops: LeaseOps, ttlMs: number, fencingToken: number, count: number) {
    this.key = h.key;
    this.mode = h.mode;
    this.token = h.token;
    this.fencingToken = fencingToken;
    this.count = count;
    this.#h = h;
    this.#ops = ops;
    this.#ttlMs = ttlMs;
  }

  get signal(): AbortSignal {
    return signalOf(this.#h);
  }

  get validUntil(): number {
    return this.#h.validUntil;
  }

  extend(ms: number = this.#ttlMs): Promise<boolean> {
    // Released on purpose: nothing to extend, and nothing lost (the backend would say "gone" and count a loss).
    if (this.#released) return RESOLVED_FALSE;
    return this.#ops.extend(this.#h, ms);
  }

  release(): Promise<void> {
    if (this.#released) return RESOLVED;
    this.#released = true;
    return this.#ops.release(this.#h);
  }

  [ASYNC_DISPOSE](): Promise<void> {
    return this.release();
  }
}
