// Deadlock detection among one manager's waiters: a wait-for graph walked before a waiter starts waiting.
import { DeadlockError } from './errors';
import type { Held } from './held-lease';

/**
 * Fails this waiter when waiting would close a cycle: it holds something a holder of `key` waits for.
 * `held` is the manager's held locks, `waitsFor` maps each waiting owner to the key it waits for.
 */
export function checkDeadlock(
  held: Map<string, Held>,
  waitsFor: Map<string, string>,
  owner: string,
  key: string,
): void {
  const path = [owner];
  const visit = (k: string, depth: number): boolean => {
    if (depth > 64) return false;
    for (const h of held.values()) {
      if (h.key !== k || h.token === path[path.length - 1]) continue;
      if (h.token === owner) return true;
      const next = waitsFor.get(h.token);
      if (next === undefined) continue;
      path.push(`${k} held by ${h.token.slice(0, 8)}`, h.token);
      if (visit(next, depth + 1)) return true;
      path.splice(-2);
    }
    return false;
  };
  if (visit(key, 0)) throw new DeadlockError([...path.map((p) => p.slice(0, 24)), `waits for ${key}`]);
}
