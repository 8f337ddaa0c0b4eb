import {
  type BackendName,
  BackendTimeoutError,
  BackendUnavailableError,
  boundBackendCall,
  DEFAULT_COMMAND_TIMEOUT_MS,
  toBackendError,
} from './backend';
import { type Clock, systemClock } from './clock';
import { TimeoutQueue } from './timeout-queue';

export interface GuardRedisOptions {
  /**
   * How long one command may wait for its reply (default `DEFAULT_COMMAND_TIMEOUT_MS`); blocking reads get
   * their block time on top. Ours, not the client's: users pass their own clients, whose options we leave alone.
   */
  commandTimeoutMs?: number;
  /** Default `'redis'`. */
  backend?: BackendName;
  /**
   * Clock of the timeout (default the system clock). The timeout watches real I/O, so packages leave it on
   * the system clock even when their own logic runs on a fake one: advancing fake time must not fail a
   * command that is merely in flight.
   */
  clock?: Clock;
}

const RAW = Symbol.for('@ballast/core/guardRedis.raw');

/** Blocking commands whose last argument is their timeout in seconds (0: forever). */
const BLOCKING_LAST_SECONDS = new Set(['blpop', 'brpop', 'brpoplpush', 'blmove', 'bzpopmin', 'bzpopmax']);
/** … and those whose first argument is. */
const BLOCKING_FIRST_SECONDS = new Set(['blmpop', 'bzmpop']);
/** Results that are clients themselves (a duplicate, a pipeline): guarded as well. */
const CLIENT_FACTORIES = new Set(['duplicate', 'multi', 'pipeline']);

/** Command name → its blocking form's name ('xread', 'blpop'…), or undefined when it never blocks. Bounded. */
const blockingNames = new Map<string, string | undefined>();

function normalized(command: string): string | undefined {
  if (blockingNames.has(command)) return blockingNames.get(command);
  const name = command.toLowerCase().replace(/buffer$/, '');
  const blocking =
    name === 'xread' || name === 'xreadgroup' || BLOCKING_LAST_SECONDS.has(name) || BLOCKING_FIRST_SECONDS.has(name);
  const result = blocking ? name : undefined;
  if (blockingNames.size < 1_000) blockingNames.set(command, result);
  return result;
}

/** How long a blocking command may legitimately wait on the server, in ms (0 when not blocking). */
export function blockingMs(command: string, args: readonly unknown[]): number {
  const name = normalized(command);
  // Every command passes here: the ones that cannot block leave before any argument is looked at.
  if (name === undefined) return 0;
  const flat = args.flat().filter((a) => typeof a !== 'function');
  let ms = 0;
  if (name === 'xread' || name === 'xreadgroup') {
    const i = flat.findIndex((a) => typeof a === 'string' && a.toUpperCase() === 'BLOCK');
    if (i < 0) return 0;
    ms = Number(flat[i + 1]);
  } else if (BLOCKING_LAST_SECONDS.has(name)) ms = Number(flat.at(-1)) * 1000;
  else if (BLOCKING_FIRST_SECONDS.has(name)) ms = Number(flat[0]) * 1000;
  else return 0;
  return ms === 0 ? Number.POSITIVE_INFINITY : Number.isFinite(ms) ? ms : 0;
}

/** A promise or any object with a callable `then` (what `await` would wait on). */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** The client a guarded one wraps (itself when not guarded). */
export function unguardedRedis<C extends object>(client: C): C {
  return ((client as Record<symbol, unknown>)[RAW] as C | undefined) ?? client;
}

/**
 * The client with every command bounded: a command that gets no reply within `commandTimeoutMs` (plus its
 * block time), or that the client fails with a connection error (ioredis's `MaxRetriesPerRequestError`,
 * `Connection is closed`, `ECONNREFUSED`…), rejects with `BackendUnavailableError`; other errors (a Lua error,
 * `WRONGTYPE`) pass through untouched. Duplicates and pipelines made from it are guarded too. The client
 * itself is not changed (no options, no listeners): it is a view, so one user client can be shared.
 */
export function guardRedis<C extends object>(client: C, options: GuardRedisOptions = {}): C {
  const target = unguardedRedis(client);
  const backend = options.backend ?? 'redis';
  const timeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  const clock = options.clock ?? systemClock;
  const wrappers = new Map<PropertyKey, { fn: Function; wrapper: Function }>();
  // Every ordinary command gets the same timeout: one timer for all of them (see TimeoutQueue).
  const deadlines = new TimeoutQueue(clock);
  const bound = (command: string, args: readonly unknown[], call: PromiseLike<unknown>): Promise<unknown> => {
    const blocking = blockingMs(command, args);
    if (blocking > 0)
      return boundBackendCall(call, { backend, operation: command, timeoutMs: timeoutMs + blocking, clock });
    return new Promise((resolve, reject) => {
      const entry = deadlines.add(timeoutMs, () =>
        reject(new BackendUnavailableError(backend, command, new BackendTimeoutError(command, timeoutMs))),
      );
      call.then(
        (value) => {
          if (entry.done) return;
          deadlines.finish(entry);
          resolve(value);
        },
        (error: unknown) => {
          if (entry.done) return;
          deadlines.finish(entry);
          reject(toBackendError(error, backend, command));
        },
      );
    });
  };
  const proxy: C = new Proxy(target, {
    get(t, prop) {
      if (prop === RAW) return t;
      const value = Reflect.get(t, prop, t) as unknown;
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      const cached = wrappers.get(prop);
      if (cached?.fn === value) return cached.wrapper;
      const fn = value as (...a: unknown[]) => unknown;
      const wrapper = function (this: unknown, ...args: unknown[]) {
        const out = fn.apply(t, args);
        if (out === t) return proxy;
        if (isThenable(out)) {
          return prop === 'call' || prop === 'callBuffer'
            ? bound(String(args[0]), args.slice(1), out)
            : bound(prop, args, out);
        }
        if (CLIENT_FACTORIES.has(prop) && typeof out === 'object' && out !== null) return guardRedis(out, options);
        return out;
      };
      Object.defineProperty(wrapper, 'name', { value: prop });
      wrappers.set(prop, { fn: value, wrapper });
      return wrapper;
    },
  });
  return proxy;
}
