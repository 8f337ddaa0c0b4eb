import { type Clock, systemClock } from './clock';
import { abortedError, BallastError, errorGuard } from './errors';

/** Which backend a failure came from. */
export type BackendName = 'redis' | 'rabbitmq' | 'consul' | (string & {});

/**
 * How long one backend command may take before it fails with `BackendUnavailableError`, unless a package's
 * `commandTimeoutMs` option says otherwise. Blocking reads (`XREADGROUP … BLOCK n`, `BZPOPMIN k s`) get their
 * block time on top.
 */
export const DEFAULT_COMMAND_TIMEOUT_MS = 5_000;

/**
 * A backend (Redis, RabbitMQ, Consul) did not answer: unreachable, restarting, or slower than the command
 * timeout or the caller's deadline. `cause` holds the client's own error (or the timeout).
 */
export class BackendUnavailableError extends BallastError {
  static readonly code = 'BACKEND_UNAVAILABLE';
  readonly backend: BackendName;
  readonly operation: string;
  constructor(backend: BackendName, operation: string, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(new.target.code, `${backend} unavailable during ${operation}: ${why}`, { cause });
    this.backend = backend;
    this.operation = operation;
  }
}
export const isBackendUnavailableError = errorGuard<BackendUnavailableError>(BackendUnavailableError.code);

/** The cause of a `BackendUnavailableError` raised because no answer came in time. */
export class BackendTimeoutError extends Error {
  readonly timeoutMs: number;
  constructor(operation: string, timeoutMs: number, what = 'the command timeout') {
    super(`${operation} got no answer within ${Math.round(timeoutMs)} ms (${what})`);
    this.name = 'BackendTimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

/** Socket-level error codes meaning "the backend cannot be reached". */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTCONN',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);
/** ioredis / amqplib / server replies meaning the same (the client gave up, or the server cannot serve yet). */
const UNAVAILABLE_NAMES = new Set(['MaxRetriesPerRequestError', 'ClusterAllFailedError']);
const UNAVAILABLE_MESSAGE =
  /^(Connection is closed|Stream isn't writeable|None of startup nodes is available|Failed to refresh slots cache|LOADING |MASTERDOWN |CLUSTERDOWN |TRYAGAIN |Channel closed|Connection closed|Socket closed|fetch failed)/;

/** True when `error` says the backend could not be reached (not that it refused the command). */
export function isBackendFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error instanceof BackendTimeoutError) return true;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
  if (UNAVAILABLE_NAMES.has(error.name) || UNAVAILABLE_MESSAGE.test(error.message)) return true;
  return error.cause !== undefined && error.cause !== error && isBackendFailure(error.cause);
}

/** `error` as a `BackendUnavailableError` when it is a backend failure; other errors come back untouched. */
export function toBackendError(error: unknown, backend: BackendName, operation: string): unknown {
  if (isBackendUnavailableError(error) || !isBackendFailure(error)) return error;
  return new BackendUnavailableError(backend, operation, error);
}

export interface BackendCallOptions {
  backend: BackendName;
  /** Names the call in the error, e.g. `evalsha` or `lock.acquire`. */
  operation: string;
  /** Fail with `BackendUnavailableError` after this long (`Infinity`: never). */
  timeoutMs: number;
  /** What the timeout is, for the message (default "the command timeout"). */
  timeoutReason?: string;
  /**
   * What a timeout rejects with, given the `BackendUnavailableError` it would be (default: that error). A caller
   * deadline may mean something else, e.g. a lock's `LockTimeoutError` once the lock was seen taken.
   */
  onTimeout?: (error: BackendUnavailableError) => unknown;
  /** Aborting it fails the call with `AbortedError` at once. */
  signal?: AbortSignal | undefined;
  clock?: Clock;
}

/**
 * Bounds one backend call: it settles with the call's result, or with `BackendUnavailableError` once
 * `timeoutMs` passed or the client reported a connection failure, or with `AbortedError` when `signal` aborts.
 * Whatever the call does later is absorbed (no unhandled rejection). The one place every package bounds a
 * backend command: `guardRedis` uses it for each Redis command, packages for caller deadlines (`waitMs`).
 */
export function boundBackendCall<T>(call: PromiseLike<T>, o: BackendCallOptions): Promise<T> {
  const { signal } = o;
  if (signal?.aborted) {
    Promise.resolve(call).catch(() => {});
    return Promise.reject(abortedError(signal));
  }
  const clock = o.clock ?? systemClock;
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const finish = () => {
      done = true;
      if (timer) clock.clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = () => {
      if (done) return;
      finish();
      reject(abortedError(signal!));
    };
    const timer =
      Number.isFinite(o.timeoutMs) && o.timeoutMs >= 0
        ? clock.setTimeout(() => {
            if (done) return;
            finish();
            const cause = new BackendTimeoutError(o.operation, o.timeoutMs, o.timeoutReason);
            const error = new BackendUnavailableError(o.backend, o.operation, cause);
            reject(o.onTimeout ? o.onTimeout(error) : error);
          }, o.timeoutMs)
        : undefined;
    signal?.addEventListener('abort', onAbort, { once: true });
    call.then(
      (value) => {
        if (done) return;
        finish();
        resolve(value);
      },
      (error: unknown) => {
        if (done) return;
        finish();
        reject(toBackendError(error, o.backend, o.operation));
      },
    );
  });
}
