import { afterEach, describe, expect, it, vi } from 'vitest';
import { WithLock } from './decorators';
import { isLockManagerNotConfiguredError, LockManagerNotConfiguredError } from './errors';
import { createLockManager, getLockManager, setLockManager } from './manager';

type Legacy = (target: object, key: string, d: PropertyDescriptor) => PropertyDescriptor;

/** Applies `@WithLock(key)` (legacy protocol, as NestJS does) to a method of a fresh class. */
function lockedClass(key = 'user:{0}') {
  class Accounts {
    calls = 0;
    async rename(id: string): Promise<string> {
      this.calls++;
      return id;
    }
  }
  const d = Object.getOwnPropertyDescriptor(Accounts.prototype, 'rename')!;
  Object.defineProperty(
    Accounts.prototype,
    'rename',
    (WithLock(key) as unknown as Legacy)(Accounts.prototype, 'rename', d),
  );
  return Accounts;
}

afterEach(() => setLockManager(undefined));

describe('@WithLock without a configured lock manager', () => {
  it('rejects with a typed error naming the method and how to configure one; the method does not run', async () => {
    const Accounts = lockedClass();
    const a = new Accounts();
    const call = a.rename('u1');
    await expect(call).rejects.toBeInstanceOf(LockManagerNotConfiguredError);
    const error = await call.catch((e: unknown) => e);
    expect(isLockManagerNotConfiguredError(error)).toBe(true);
    expect((error as Error).message).toContain('@WithLock on Accounts.rename');
    expect((error as Error).message).toContain('setLockManager');
    expect((error as Error).message).toContain('BallastModule');
    expect(a.calls).toBe(0);
  });

  it('getLockManager() throws the same error; setLockManager(undefined) unsets', () => {
    expect(() => getLockManager()).toThrow(LockManagerNotConfiguredError);
    const m = createLockManager();
    setLockManager(m);
    expect(getLockManager()).toBe(m);
    setLockManager(undefined);
    expect(() => getLockManager()).toThrow(/getLockManager\(\) has no lock manager/);
  });

  it('in-process locks chosen explicitly: setLockManager(createLockManager()) — looked up at each call', async () => {
    const Accounts = lockedClass(); // decorated before the manager exists, as modules load
    const a = new Accounts();
    await expect(a.rename('u1')).rejects.toThrow(LockManagerNotConfiguredError);
    const m = createLockManager();
    setLockManager(m);
    expect(await a.rename('u2')).toBe('u2');
    expect(a.calls).toBe(1);
    await m.close();
  });

  it('a bad key template is a rejection too, not a synchronous throw', async () => {
    setLockManager(createLockManager());
    const Accounts = lockedClass('user:{missing}');
    const call = new Accounts().rename('u1');
    expect(call).toBeInstanceOf(Promise);
    await expect(call).rejects.toMatchObject({ code: 'INVALID_LOCK_KEY' });
  });
});

describe('the configured lock manager is process-wide', () => {
  it('a second copy of the package (its ESM and CJS builds in one process) sees the manager the first set', async () => {
    const m = createLockManager();
    setLockManager(m);
    vi.resetModules();
    const copy = await import('./manager');
    expect(copy.getLockManager).not.toBe(getLockManager); // a fresh module instance, as the other build is
    expect(copy.getLockManager()).toBe(m);
    copy.setLockManager(undefined);
    expect(() => getLockManager()).toThrow(LockManagerNotConfiguredError);
  });
});
