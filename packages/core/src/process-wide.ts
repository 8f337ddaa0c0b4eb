/**
 * Process-wide state shared by every copy of Ballast loaded in one process. An application that imports the
 * ESM build while a dependency requires the CJS build (or two installs of one package) runs two instances of
 * each module: a module-level `let` would give two default breaker registries, lock managers, shutdown
 * registries and loggers, and a `setX()` through one copy would not reach the other. A slot keeps its value on
 * `globalThis` under `Symbol.for('@ballast/<name>')` instead, so every copy reads and replaces the same one.
 */
export interface ProcessSlot<T> {
  get(): T | undefined;
  /** Replaces the value (`undefined` clears it); returns the previous one. */
  set(value: T | undefined): T | undefined;
  /** The value, created by `create` (once for the whole process) when there is none yet. */
  getOrCreate(create: () => T): T;
}

export function processSlot<T>(name: string): ProcessSlot<T> {
  const key = Symbol.for(`@ballast/${name}`);
  const store = globalThis as unknown as Record<symbol, T | undefined>;
  return {
    get: () => store[key],
    set(value) {
      const previous = store[key];
      if (value === undefined) delete store[key];
      else store[key] = value;
      return previous;
    },
    getOrCreate(create) {
      const current = store[key];
      if (current !== undefined) return current;
      const created = create();
      store[key] = created;
      return created;
    },
  };
}
