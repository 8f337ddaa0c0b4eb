// The fair (FIFO) wait for an exclusive lock, beside the manager's polling wait: the waiter queues once, then
// sleeps until the release that makes it the holder announces so (the hand-off happens inside the release
// script), refreshing its queue entry meanwhile so that a waiter that died is skipped once its entry expired.
import { abortedError, type Clock } from '@ballast/core';
import type { AcquireResult, FairAcquireOptions, FairGrant, LockBackend } from './backend';

/** A backend that can queue fairly (memory, Redis; not Redlock). */
export type FairBackend = LockBackend &
  Required<Pick<LockBackend, 'tryAcquireFair' | 'leaveQueue'>> & {
    subscribed?: (resource: string) => Promise<void>;
    /** True when a listener registered now hears every later release message (the channel is subscribed). */
    listening?: (resource: string) => boolean;
  };

export function isFairBackend(backend: LockBackend): backend is FairBackend {
  return typeof backend.tryAcquireFair === 'function' && typeof backend.leaveQueue === 'function';
}

export interface FairWait {
  backend: FairBackend;
  clock: Clock;
  key: string;
  owner: string;
  ttlMs: number;
  /** How long a queue entry lives without a refresh (the manager's `fairQueueTtlMs`). */
  queueMs: number;
  /** Upper bound of the pause between two refreshes (the manager's `maxRetryDelayMs`). */
  maxRetryDelayMs: number;
  /** Monotonic ms. */
  deadline: number;
  signal: AbortSignal | undefined;
  /** Aborted when the wait must end for the manager's reasons (closed, a deadlock): its reason is thrown. */
  halted?: AbortSignal;
  firstRetryAfterMs: number;
  /**
   * Set when the caller has not tried yet (the channel is subscribed already, so the first attempt queues at
   * once): called after that attempt if it was refused, before any waiting.
   */
  onFirstRefusal?: () => void;
  /** A backend call bounded by the deadline and the signal (a passed deadline ends in `timedOut`). */
  bounded: <T>(call: Promise<T>) => Promise<T>;
  timedOut: (cause: unknown) => Error;
}

export interface FairGranted {
  fencingToken: number;
  count: number;
  /** Monotonic ms such that `start + ttlMs` is surely no later than when the hold runs out. */
  start: number;
  /** The hold as granted, ms from `start + ttlMs - grantedMs`: shorter than `ttlMs` after some hand-offs. */
  grantedMs: number;
}

/**
 * Waits in the lock's FIFO queue until the lock is handed over (a `FairGrant` on the release channel: no
 * further round trip) or, as a safety net, until a refresh of the queue entry finds it held by this owner.
 * On timeout, abort or error it leaves the queue — a hold handed to it in the meantime is released and
 * handed on, never leaked.
 */
export async function waitFair(w: FairWait): Promise<FairGranted> {
  const { backend, clock, key, owner, ttlMs, signal } = w;
  let grant: { g: FairGrant; at: number } | undefined;
  let woken = false;
  let wake: (() => void) | undefined;
  const off = backend.onRelease(key, (g) => {
    if (g) {
      // Another waiter's hand-off tells this one nothing: the lock is held again.
      if (g.token !== owner) return;
      grant ??= { g, at: clock.monotonic() };
    }
    woken = true;
    wake?.();
  });
  // A reference between the server's clock and ours: local `sent` happened before server time `server`.
  let ref: { sent: number; server: number } | undefined;
  let granted = false;
  let firstSent = clock.monotonic();
  // Untried, the caller may hold the lock already (a re-entry): only later attempts are a waiter's.
  const untried: FairAcquireOptions = { queueMs: w.queueMs, waiting: false };
  const options: FairAcquireOptions = { queueMs: w.queueMs, waiting: true };
  try {
    const subscribed = backend.subscribed?.(key);
    if (subscribed) await w.bounded(subscribed);
    let retryAfterMs = w.firstRetryAfterMs;
    for (let first = true; ; first = false) {
      if (!grant && !first && !woken) {
        const now = clock.monotonic();
        if (now >= w.deadline) throw w.timedOut(undefined);
        const delay = Math.min(w.queueMs / 3, w.maxRetryDelayMs, Math.max(retryAfterMs, 1), w.deadline - now);
        await pause(clock, delay, [signal, w.halted], (resume) => {
          wake = resume;
        });
        wake = undefined;
      }
      // Closed or deadlocked: the finally leaves the queue (a hold handed over meanwhile is handed on).
      if (w.halted?.aborted) throw w.halted.reason;
      if (grant) {
        granted = true;
        return fromGrant(grant.g, grant.at, ref ?? { sent: firstSent, server: grant.g.serverTime }, ttlMs);
      }
      if (signal?.aborted) throw abortedError(signal);
      woken = false;
      const sent = clock.monotonic();
      if (first) firstSent = sent;
      const r: AcquireResult = await w.bounded(
        backend.tryAcquireFair(key, owner, ttlMs, first && w.onFirstRefusal ? untried : options),
      );
      if (r.acquired) {
        granted = true;
        const grantedMs = r.ttlMs ?? ttlMs;
        return { fencingToken: r.fencingToken, count: r.count, start: sent - (ttlMs - grantedMs), grantedMs };
      }
      if (r.serverTime !== undefined) ref = { sent, server: r.serverTime };
      retryAfterMs = r.retryAfterMs;
      if (first) w.onFirstRefusal?.();
    }
  } finally {
    off();
    if (!granted) await backend.leaveQueue(key, owner).catch(() => {});
  }
}

/**
 * The validity of a handed-over hold on our clock: it began at the server's `g.serverTime`, which is no
 * earlier on our clock than `ref.sent + (g.serverTime - ref.server)` (the reference attempt was sent before the
 * server read its clock), and no later than the message's arrival.
 */
function fromGrant(g: FairGrant, at: number, ref: { sent: number; server: number }, ttlMs: number): FairGranted {
  const began = Math.min(at, ref.sent + (g.serverTime - ref.server));
  return { fencingToken: g.fencingToken, count: 1, start: began - (ttlMs - g.ttlMs), grantedMs: g.ttlMs };
}

/**
 * Sleeps `ms` on `clock`, or until `resume` (handed to `onResume`) is called or a signal aborts. Whichever ends
 * the sleep removes the abort listeners: a long wait sleeps many times and must not pile listeners on a signal.
 */
export function pause(
  clock: Clock,
  ms: number,
  signals: readonly (AbortSignal | undefined)[],
  onResume: (resume: () => void) => void,
): Promise<void> {
  return new Promise<void>((resolve) => {
    const onAbort = () => done();
    const timer = clock.setTimeout(() => done(), ms);
    const done = () => {
      clock.clearTimeout(timer);
      for (const s of signals) s?.removeEventListener('abort', onAbort);
      resolve();
    };
    onResume(done);
    for (const s of signals) s?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * A hold handed over with less than asked (the waiter's queue entry had less left): extended now unless the
 * watchdog's first extension (at ttl/3) comes well before the hold runs out.
 */
export function topUp<L extends { extend(ttlMs: number): Promise<unknown> }>(
  lease: L,
  g: FairGranted,
  ttlMs: number,
  autoExtend: boolean,
): L {
  if (g.grantedMs < ttlMs && (!autoExtend || g.grantedMs < ttlMs / 2)) void lease.extend(ttlMs).catch(() => {});
  return lease;
}
