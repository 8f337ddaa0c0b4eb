/**
 * In-process wake-up listeners by name, what the primitives' memory backends use where their Redis twins use
 * pub/sub channels: `on` registers (returns `off`), `wake` calls a name's listeners in a microtask (never inside
 * the state change that caused it), `clear` drops all of them at close.
 */
export class MemoryWakeups {
  readonly #listeners = new Map<string, Set<() => void>>();
  #cleared = false;

  on(name: string, listener: () => void): { off: () => void } {
    let set = this.#listeners.get(name);
    if (!set) {
      set = new Set();
      this.#listeners.set(name, set);
    }
    const wrapped = () => listener();
    set.add(wrapped);
    const mine = set;
    return {
      off: () => {
        mine.delete(wrapped);
        if (mine.size === 0 && this.#listeners.get(name) === mine) this.#listeners.delete(name);
      },
    };
  }

  wake(name: string): void {
    if (!this.#listeners.has(name)) return;
    queueMicrotask(() => {
      if (this.#cleared) return;
      for (const l of [...(this.#listeners.get(name) ?? [])]) l();
    });
  }

  clear(): void {
    this.#cleared = true;
    this.#listeners.clear();
  }
}
