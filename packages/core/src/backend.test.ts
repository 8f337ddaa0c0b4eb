import { describe, expect, it } from 'vitest';
import {
  BackendTimeoutError,
  BackendUnavailableError,
  boundBackendCall,
  isBackendFailure,
  isBackendUnavailableError,
  toBackendError,
} from './backend';
import { isAbortedError, isBallastError } from './errors';

const never = () => new Promise<never>(() => {});
const opts = { backend: 'redis', operation: 'get' } as const;

describe('BackendUnavailableError', () => {
  it('is a BallastError naming backend, operation and cause', () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const e = new BackendUnavailableError('redis', 'evalsha', cause);
    expect(isBallastError(e)).toBe(true);
    expect(isBackendUnavailableError(e)).toBe(true);
    expect(e).toMatchObject({ code: 'BACKEND_UNAVAILABLE', backend: 'redis', operation: 'evalsha', cause });
    expect(e.name).toBe('BackendUnavailableError');
    expect(e.message).toBe('redis unavailable during evalsha: connect ECONNREFUSED 127.0.0.1:1');
  });
});

describe('toBackendError', () => {
  it("turns the clients' connection failures into BackendUnavailableError", () => {
    const maxRetries = new Error('Reached the max retries per request limit (which is 20).');
    maxRetries.name = 'MaxRetriesPerRequestError';
    for (const cause of [
      maxRetries,
      new Error('Connection is closed.'),
      Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }),
      new Error('LOADING Redis is loading the dataset in memory'),
      new Error('outer', { cause: Object.assign(new Error('x'), { code: 'ECONNRESET' }) }),
    ]) {
      expect(isBackendFailure(cause)).toBe(true);
      const e = toBackendError(cause, 'redis', 'set');
      expect(isBackendUnavailableError(e)).toBe(true);
      expect((e as BackendUnavailableError).cause).toBe(cause);
    }
  });

  it('leaves errors of the command itself alone (a WRONGTYPE reply, a Lua error, a bug)', () => {
    for (const error of [
      new Error('WRONGTYPE Operation against a key holding the wrong kind of value'),
      new Error('ERR user_script:1: attempt to compare nil with number'),
      new TypeError('x is not a function'),
      'a string',
    ]) {
      expect(toBackendError(error, 'redis', 'get')).toBe(error);
    }
  });
});

describe('boundBackendCall', () => {
  it('passes the result through', async () => {
    await expect(boundBackendCall(Promise.resolve(7), { ...opts, timeoutMs: 1_000 })).resolves.toBe(7);
  });

  it('rejects with BackendUnavailableError once the timeout passed, naming it', async () => {
    const started = performance.now();
    const error = await boundBackendCall(never(), { ...opts, timeoutMs: 50 }).catch((e: unknown) => e);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(isBackendUnavailableError(error)).toBe(true);
    expect((error as BackendUnavailableError).cause).toBeInstanceOf(BackendTimeoutError);
    expect((error as Error).message).toMatch(/get got no answer within 50 ms/);
  });

  it('absorbs a late rejection after the timeout (no unhandled rejection)', async () => {
    let fail!: (e: Error) => void;
    const late = new Promise<never>((_r, reject) => {
      fail = reject;
    });
    await expect(boundBackendCall(late, { ...opts, timeoutMs: 10 })).rejects.toThrow(BackendUnavailableError);
    fail(new Error('Connection is closed.'));
    await new Promise((r) => setImmediate(r));
  });

  it('rejects with AbortedError when the signal aborts, and at once when already aborted', async () => {
    const ac = new AbortController();
    const p = boundBackendCall(never(), { ...opts, timeoutMs: Number.POSITIVE_INFINITY, signal: ac.signal });
    ac.abort(new Error('caller gave up'));
    expect(isAbortedError(await p.catch((e: unknown) => e))).toBe(true);
    const again = await boundBackendCall(never(), { ...opts, timeoutMs: 1_000, signal: ac.signal }).catch((e) => e);
    expect(isAbortedError(again)).toBe(true);
  });

  it('maps a connection failure of the call, and keeps a command error as is', async () => {
    const closed = boundBackendCall(Promise.reject(new Error('Connection is closed.')), { ...opts, timeoutMs: 1_000 });
    await expect(closed).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE', operation: 'get' });
    const wrongType = new Error('WRONGTYPE Operation against a key holding the wrong kind of value');
    await expect(boundBackendCall(Promise.reject(wrongType), { ...opts, timeoutMs: 1_000 })).rejects.toBe(wrongType);
  });
});
