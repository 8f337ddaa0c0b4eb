import { BallastError, errorGuard } from '@ballast/core';

/**
 * `waitMs` passed before the lock could be acquired. When it passed while Redis did not answer, `cause` is
 * the `BackendUnavailableError`.
 */
export class LockTimeoutError extends BallastError {
  static readonly code = 'LOCK_TIMEOUT';
  constructor(
    readonly key: string,
    readonly waitedMs: number,
    cause?: unknown,
  ) {
    super(new.target.code, `Could not acquire lock "${key}" within ${waitedMs} ms`, { cause });
  }
}
export const isLockTimeoutError = errorGuard<LockTimeoutError>(LockTimeoutError.code);

/** The lease was lost (expired, deleted or taken over) before it was released: stop using the resource. */
export class LockLostError extends BallastError {
  static readonly code = 'LOCK_LOST';
  constructor(
    readonly key: string,
    reason: string,
  ) {
    super(new.target.code, `Lock "${key}" was lost: ${reason}`);
  }
}
export const isLockLostError = errorGuard<LockLostError>(LockLostError.code);

/** Waiting would close a cycle of owners waiting for each other (this waiter is the one failed). */
export class DeadlockError extends BallastError {
  static readonly code = 'LOCK_DEADLOCK';
  constructor(readonly cycle: readonly string[]) {
    super(new.target.code, `Deadlock: ${cycle.join(' -> ')}`);
  }
}
export const isDeadlockError = errorGuard<DeadlockError>(DeadlockError.code);

/** The lock manager was closed: no new acquisitions; waiters still waiting when it closed are refused with it. */
export class LockManagerClosedError extends BallastError {
  static readonly code = 'LOCK_MANAGER_CLOSED';
  constructor(readonly key?: string) {
    super(
      new.target.code,
      key === undefined
        ? 'The lock manager is closed'
        : `The lock manager was closed while acquiring "${key}" (no lock is kept)`,
    );
  }
}
export const isLockManagerClosedError = errorGuard<LockManagerClosedError>(LockManagerClosedError.code);

/**
 * A plain `acquire()` (no lock context, no `owner`) that would wait forever for a key this manager already holds
 * through a plain `acquire()`: most likely the caller waiting for itself. Re-enter inside `using()` (reentrant),
 * or bound the wait with `waitMs` or a `signal` when another task of this process holds it.
 */
export class LockAlreadyHeldError extends BallastError {
  static readonly code = 'LOCK_ALREADY_HELD';
  constructor(readonly key: string) {
    super(
      new.target.code,
      `Lock "${key}" is already held by this lock manager outside a lock context: a plain acquire() with no ` +
        'waitMs or signal would wait for itself forever. Re-enter inside using() (reentrant), pass the same ' +
        '`owner`, or bound the wait (waitMs, signal).',
    );
  }
}
export const isLockAlreadyHeldError = errorGuard<LockAlreadyHeldError>(LockAlreadyHeldError.code);

/** A lock key that is empty, or a `@WithLock` template naming an argument the call does not have. */
export class InvalidLockKeyError extends BallastError {
  static readonly code = 'INVALID_LOCK_KEY';
  constructor(message: string) {
    super(new.target.code, message);
  }
}
export const isInvalidLockKeyError = errorGuard<InvalidLockKeyError>(InvalidLockKeyError.code);

/**
 * `@WithLock` (or `getLockManager()`) ran with no lock manager configured. Locks are meant to be shared between
 * processes: an in-process default would silently lock one process only. Configure one at startup.
 */
export class LockManagerNotConfiguredError extends BallastError {
  static readonly code = 'LOCK_MANAGER_NOT_CONFIGURED';
  constructor(readonly where: string) {
    super(
      new.target.code,
      `${where} has no lock manager: call setLockManager(createLockManager({ redis })) at startup, or import ` +
        'BallastModule from @ballast/nestjs, or pass { manager } to @WithLock. For in-process locks only, ' +
        'choose them explicitly: setLockManager(createLockManager()).',
    );
  }
}
export const isLockManagerNotConfiguredError = errorGuard<LockManagerNotConfiguredError>(
  LockManagerNotConfiguredError.code,
);

/** A fenced write carried a fencing token older than one already seen: a stale holder was stopped. */
export class StaleFencingTokenError extends BallastError {
  static readonly code = 'STALE_FENCING_TOKEN';
  constructor(
    readonly resource: string,
    readonly fencingToken: number,
    readonly latest: number,
  ) {
    super(new.target.code, `Write to "${resource}" rejected: fencing token ${fencingToken} < ${latest}`);
  }
}
export const isStaleFencingTokenError = errorGuard<StaleFencingTokenError>(StaleFencingTokenError.code);

/** Too few Redlock nodes answered to decide (a majority is unreachable or slow). */
export class RedlockQuorumError extends BallastError {
  static readonly code = 'LOCK_QUORUM_UNREACHABLE';
  constructor(
    readonly resource: string,
    readonly operation: string,
    readonly answered: number,
    readonly quorum: number,
    cause?: unknown,
  ) {
    super(
      new.target.code,
      `Redlock ${operation} of "${resource}": ${answered} node(s) answered, a quorum is ${quorum}`,
      { cause },
    );
  }
}
export const isRedlockQuorumError = errorGuard<RedlockQuorumError>(RedlockQuorumError.code);

/**
 * `durability` is set and, after the lock was granted on the Redis master, `WAIT` saw fewer replicas acknowledge
 * the grant than asked within `timeoutMs`. The hold was released (best effort: a master that stopped answering
 * lets it expire with its ttl) and no lease was returned: a failover to a lagging replica could have lost the
 * grant and the fencing counter's increment, letting another client in with the same token.
 */
export class LockDurabilityError extends BallastError {
  static readonly code = 'LOCK_DURABILITY';
  constructor(
    readonly backend: string,
    /** `host:port` of the master holding the lock (on a Cluster, the master of its slot). */
    readonly node: string,
    readonly key: string,
    readonly acked: number,
    readonly asked: number,
    readonly timeoutMs: number,
  ) {
    super(
      new.target.code,
      `${backend} ${node}: lock "${key}" was granted on the master but only ${acked} of ${asked} replicas acknowledged it within ${timeoutMs} ms (WAIT); released, not returned`,
    );
  }
}
export const isLockDurabilityError = errorGuard<LockDurabilityError>(LockDurabilityError.code);
