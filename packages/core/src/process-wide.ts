/** One slot of process-wide state. */
export interface ProcessWide<T> {
  get(): T | undefined;
  set(value: T | undefined): void;
}

/**
 * A slot of state every copy of Ballast loaded into one process shares — its ESM and its CJS build (a NestJS app
 * `require`s one, an ESM library imports the other), or two installed copies: held on `globalThis` under
 * `Symbol.for(key)`. Module-level variables would give each copy its own default lock manager, breaker registry,
 * shutdown registry or logger, so a manager set through one copy would be missing in the other.
 *
 * @param key a registry-wide unique name, `@ballast/<package>/<what>`
 */
export function processWide<T>(key: string): ProcessWide<T> {
  const symbol = Symbol.for(key);
  const store = globalThis as unknown as Record<symbol, T | undefined>;
  return {
    get: () => store[symbol],
    set: (value) => {
      store[symbol] = value;
    },
  };
}
