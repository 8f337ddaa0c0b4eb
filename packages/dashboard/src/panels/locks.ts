/**
 * Locks: each configured lock key's holders (mode, owner token, reentrant count, fencing token, time left)
 * and waiters, from the backend's `inspect`; a backend without it (Redlock) shows `holders()` only.
 */
import type { LockInspection } from '@ballast/lock';
import type { DashboardLocks } from '../options';
import type { Route } from '../route';

async function view(locks: DashboardLocks, resource: string): Promise<LockInspection> {
  if (locks.backend.inspect) return locks.backend.inspect(resource);
  const h = await locks.backend.holders(resource);
  return {
    mode: h.mode,
    holders: Object.entries(h.holders).map(([token, count]) => ({
      token,
      count,
      fencingToken: Number.NaN,
      ttlMs: Number.NaN,
    })),
    waiters: [],
  };
}

export function lockRoutes(locks: DashboardLocks): Route[] {
  return [
    {
      method: 'GET',
      path: 'locks',
      async run() {
        const resources = await Promise.all(
          locks.resources.map(async (resource) => {
            const v = await view(locks, resource);
            // NaN (unknown without inspect) goes out as null.
            const known = (n: number) => (Number.isFinite(n) ? n : null);
            return {
              resource,
              mode: v.mode ?? null,
              holders: v.holders.map((h) => ({ ...h, fencingToken: known(h.fencingToken), ttlMs: known(h.ttlMs) })),
              waiters: v.waiters,
            };
          }),
        );
        return { resources, stats: locks.manager?.stats() ?? null };
      },
    },
  ];
}
