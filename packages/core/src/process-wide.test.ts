import { afterEach, describe, expect, it, vi } from 'vitest';
import { getDefaultLogger, getShutdownRegistry, setDefaultLogger, setShutdownRegistry } from './index';
import { ShutdownRegistry } from './lifecycle';
import { processWide } from './process-wide';

// A second module instance of core (`vi.resetModules` + import) stands for the other build (ESM vs CJS) or a
// second installed copy: what one sets, the other must see.
const otherCopy = async () => {
  vi.resetModules();
  return import('./index');
};

describe('process-wide state shared by every copy of core', () => {
  let restoreRegistry: ShutdownRegistry | undefined;
  afterEach(() => {
    setShutdownRegistry(restoreRegistry);
  });

  it('processWide: one slot per key across copies, through globalThis', async () => {
    const a = processWide<number>('@ballast/test/slot');
    a.set(42);
    const b = (await otherCopy()).processWide<number>('@ballast/test/slot');
    expect(b.get()).toBe(42);
    b.set(undefined);
    expect(a.get()).toBeUndefined();
  });

  it('the shutdown registry and the default logger', async () => {
    const mine = new ShutdownRegistry();
    restoreRegistry = setShutdownRegistry(mine);
    const logger = getDefaultLogger().child({ test: 'process-wide' });
    const previousLogger = getDefaultLogger();
    setDefaultLogger(logger);
    try {
      const copy = await otherCopy();
      expect(copy.getShutdownRegistry).not.toBe(getShutdownRegistry);
      expect(copy.getShutdownRegistry()).toBe(mine);
      expect(copy.getDefaultLogger()).toBe(logger);
    } finally {
      setDefaultLogger(previousLogger);
    }
  });
});
