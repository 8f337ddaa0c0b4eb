// The leases one manager holds: made on a grant, kept alive (watchdog), kept honest (validity), released, lost.
import { type BackendName, boundBackendCall, type Clock, EventEmitter, type Logger } from '@ballast/core';
import type { LockBackend, LockMode } from './backend';
import { LockLostError } from './errors';
import { type Held, HeldLease, type LeaseOps } from './held-lease';
import type { Lease } from './lease';
import { type lockInstruments, observe, type PrefixEntry } from './stats';
import { ValidityTimer } from './validity';
import { Watchdog } from './watchdog';

export interface LeaseKeeperOptions {
  backend: LockBackend;
  clock: Clock;
  log: Logger;
  /** Share of the ttl assumed lost to clock drift (+2 ms). */
  driftFactor: number;
  /** Bound of one extension or release (core's `boundBackendCall`). */
  commandTimeoutMs: number;
  backendName: BackendName;
  /** False when the backend already bounds each command (the Redis backend the manager made: `guardRedis`). */
  boundReleases: boolean;
  instruments: ReturnType<typeof lockInstruments>;
}

export interface LostEvent {
  key: string;
  token: string;
  reason: string;
}

/**
 * A lease is valid until `validUntil` — the start of the attempt (or of the last *confirmed* extension) + ttl
 * − drift — and no longer: the validity timer aborts its signal then, whatever Redis does. Extensions and
 * releases are bounded by `commandTimeoutMs`. Once its last level is being released, nothing the lease does
 * (an extension's late answer) is reported as a loss.
 */
export class LeaseKeeper {
  /** `${key}\u0000${token}` → the held lease. */
  readonly held = new Map<string, Held>();
  readonly #o: LeaseKeeperOptions;
  readonly #lost = new EventEmitter<LostEvent>('lost');
  readonly onLost = this.#lost.event;
  readonly ops: LeaseOps = { extend: (h, ms) => this.#extend(h, ms), release: (h) => this.#release(h) };
  readonly #watchdog: Watchdog;
  readonly #validity: ValidityTimer<Held>;
  #extendFailing = false;

  constructor(options: LeaseKeeperOptions) {
    this.#o = options;
    this.#watchdog = new Watchdog(options.clock, this.ops);
    this.#validity = new ValidityTimer<Held>(options.clock, (h) =>
      this.#lose(h, 'its validity ended with no extension confirmed in time'),
    );
  }

  #validUntil(start: number, ttlMs: number): number {
    return start + ttlMs - (ttlMs * this.#o.driftFactor + 2);
  }

  /** The lease handle of a grant; the first grant of (key, token) starts holding it. */
  lease(
    key: string,
    mode: LockMode,
    token: string,
    ttlMs: number,
    attemptStart: number,
    fencingToken: number,
    count: number,
    autoExtend: boolean,
    entry: PrefixEntry,
    implicit: boolean,
  ): Lease {
    const id = `${key}\u0000${token}`;
    const validUntil = this.#validUntil(attemptStart, ttlMs);
    let held = this.held.get(id);
    if (!held) {
      held = {
        id,
        key,
        mode,
        token,
        count: 0,
        ttlMs,
        validUntil,
        acquiredAt: this.#o.clock.monotonic(),
        controller: undefined,
        lost: undefined,
        entry,
        group: undefined,
        due: 0,
        slot: -1,
        releasing: false,
        implicit,
      };
      this.held.set(id, held);
      if (autoExtend) this.#watchdog.watch(held, held.acquiredAt);
      this.#validity.watch(held);
    } else if (validUntil > held.validUntil) {
      // A reentrant grant never shortens the hold; it may lengthen it.
      held.validUntil = validUntil;
      this.#validity.watch(held);
    }
    held.count = count;
    return new HeldLease(held, this.ops, ttlMs, fencingToken, count);
  }

  /** True when `key` is held through a plain `acquire()` outside any lock context (see `LockAlreadyHeldError`). */
  heldImplicitly(key: string): boolean {
    for (const h of this.held.values()) if (h.key === key && h.implicit && !h.releasing) return true;
    return false;
  }

  #bound<T>(call: Promise<T>, operation: string): Promise<T> {
    return boundBackendCall(call, {
      backend: this.#o.backendName,
      operation,
      timeoutMs: this.#o.commandTimeoutMs,
    });
  }

  async #extend(h: Held, ttlMs: number): Promise<boolean> {
    if (h.lost || h.releasing) return false;
    const start = this.#o.clock.monotonic();
    try {
      const ok = await this.#bound(this.#o.backend.extend(h.key, h.token, h.mode, ttlMs), 'lock.extend');
      if (h.releasing) return ok; // released meanwhile: the release's answer decides, not this one
      if (h.lost) {
        // Confirmed too late: the lease was given up at its validity; do not leave the key held for nobody.
        if (ok) this.#o.backend.release(h.key, h.token, h.mode).catch(() => {});
        return false;
      }
      if (!ok) {
        this.#lose(h, 'the lock was gone or taken when extending it');
        return false;
      }
      if (ttlMs !== h.ttlMs) {
        h.ttlMs = ttlMs;
        this.#watchdog.ttlChanged(h);
      }
      h.validUntil = this.#validUntil(start, ttlMs);
      this.#validity.watch(h);
      if (this.#extendFailing) this.#o.log.info({ key: h.key }, 'lock extension works again');
      this.#extendFailing = false;
      return true;
    } catch (error) {
      if (h.releasing || h.lost) return false;
      // Redis unreachable: the validity timer gives the lease up when it ends. One warning per outage (the
      // watchdog retries every ttl/3 for every lease held), debug lines in between.
      const reason = error instanceof Error ? error.message : String(error);
      if (this.#extendFailing) this.#o.log.debug({ key: h.key, reason }, 'lock extension failed');
      else this.#o.log.warn({ key: h.key, reason }, 'lock extension failed; retrying while the lease is valid');
      this.#extendFailing = true;
      if (this.#o.clock.monotonic() >= h.validUntil) this.#lose(h, 'could not extend it before it expired');
      return false;
    }
  }

  #lose(h: Held, reason: string): void {
    if (h.lost || h.releasing) return;
    h.lost = new LockLostError(h.key, reason);
    this.#forget(h);
    h.entry.stats.lost++;
    this.#o.instruments.lost.add(1, h.entry.attrs);
    this.#o.log.error({ key: h.key, reason }, 'lock lost');
    h.controller?.abort(h.lost);
    this.#lost.emit({ key: h.key, token: h.token, reason });
  }

  #forget(h: Held): void {
    this.#watchdog.unwatch(h);
    this.#validity.unwatch(h);
    this.held.delete(h.id);
  }

  async #release(h: Held): Promise<void> {
    if (h.lost) return; // already lost: nothing to release
    const sentAt = this.#o.clock.monotonic();
    const last = h.count <= 1;
    const extended = h.group !== undefined;
    if (last) {
      // From here on an extension racing this release is not a loss: stop extending and watching now.
      h.releasing = true;
      this.#watchdog.unwatch(h);
      this.#validity.unwatch(h);
    }
    let left: number;
    try {
      const call = this.#o.backend.release(h.key, h.token, h.mode);
      left = await (this.#o.boundReleases ? this.#bound(call, 'lock.release') : call);
    } catch (error) {
      if (last) this.#forget(h); // released by us; Redis lets it expire if the release never arrived
      throw error;
    }
    if (left > 0) {
      h.count = left;
      if (last) {
        h.releasing = false;
        if (extended) this.#watchdog.watch(h, this.#o.clock.monotonic());
        this.#validity.watch(h);
      }
      return;
    }
    this.#forget(h);
    const held = this.#o.clock.monotonic() - h.acquiredAt;
    observe(h.entry.stats.holdMs, held);
    this.#o.instruments.hold.record(held, h.entry.attrs);
    if (left < 0) {
      // The lock had expired (or was taken) before this release reached it. Released while still valid, the
      // lease was the lock's for all of its use (Redis keeps it at least until validUntil): not a loss.
      if (sentAt < h.validUntil) {
        this.#o.log.debug({ key: h.key }, 'lock released within its validity, after Redis had let it go');
        return;
      }
      h.releasing = false;
      this.#lose(h, 'it had expired before release');
    }
  }

  /** Stops every timer and releases every lease held. */
  async close(): Promise<void> {
    this.#watchdog.close();
    this.#validity.close();
    await Promise.allSettled([...this.held.values()].map((h) => this.#release(h)));
  }
}
