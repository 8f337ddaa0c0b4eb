import { afterEach, describe, expect, it } from 'vitest';
import { EventEmitter, setListenerErrorHandler } from './events';
import { getShutdownRegistry, ShutdownRegistry, setShutdownRegistry } from './lifecycle';
import { createLogger, getDefaultLogger, setDefaultLogger } from './logger';
import { processSlot } from './process-wide';

// Another copy of core in the process (the CJS build beside the ESM one) sees only globalThis: these tests
// play that copy by reading and writing the Symbol.for keys directly.
const slot = (name: string) => (globalThis as unknown as Record<symbol, unknown>)[Symbol.for(`@ballast/${name}`)];
const put = (name: string, value: unknown) => {
  (globalThis as unknown as Record<symbol, unknown>)[Symbol.for(`@ballast/${name}`)] = value;
};

describe('process-wide defaults live on globalThis under Symbol.for keys', () => {
  const saved = ['core/defaultLogger', 'core/shutdownRegistry', 'core/listenerErrorHandler'].map(
    (k) => [k, slot(k)] as const,
  );
  afterEach(() => {
    for (const [k, v] of saved) put(k, v);
  });

  it('the default logger another copy set is the one this copy uses, and the other way round', () => {
    const theirs = createLogger({ name: 'other-copy' });
    put('core/defaultLogger', theirs);
    expect(getDefaultLogger()).toBe(theirs);
    const mine = createLogger({ name: 'this-copy' });
    setDefaultLogger(mine);
    expect(slot('core/defaultLogger')).toBe(mine);
  });

  it('one shutdown registry for the process', () => {
    const theirs = new ShutdownRegistry();
    put('core/shutdownRegistry', theirs);
    expect(getShutdownRegistry()).toBe(theirs);
    const previous = setShutdownRegistry(undefined);
    expect(previous).toBe(theirs);
    const created = getShutdownRegistry();
    expect(slot('core/shutdownRegistry')).toBe(created);
  });

  it('a listener-error handler set through another copy receives this copy’s listener errors', () => {
    const seen: string[] = [];
    put('core/listenerErrorHandler', (_error: unknown, name: string) => seen.push(name));
    const emitter = new EventEmitter<number>('probe');
    emitter.event(() => {
      throw new Error('listener failed');
    });
    emitter.emit(1);
    expect(seen).toEqual(['probe']);
    setListenerErrorHandler(() => {});
    expect(typeof slot('core/listenerErrorHandler')).toBe('function');
  });

  it('getOrCreate creates once; set(undefined) clears', () => {
    const s = processSlot<{ n: number }>('test/process-wide');
    const a = s.getOrCreate(() => ({ n: 1 }));
    expect(s.getOrCreate(() => ({ n: 2 }))).toBe(a);
    expect(processSlot('test/process-wide').get()).toBe(a);
    expect(s.set(undefined)).toBe(a);
    expect(s.get()).toBeUndefined();
    expect(Object.getOwnPropertySymbols(globalThis)).not.toContain(Symbol.for('@ballast/test/process-wide'));
  });
});
