/** Locks: the holders of each configured lock key (mode, tokens, reentrant counts) and this process's stats. */
import type { DashboardLocks } from '../options';
import type { Route } from '../route';

export function lockRoutes(locks: DashboardLocks): Route[] {
  return [
    {
      method: 'GET',
      path: 'locks',
      async run() {
        const resources = await Promise.all(
          locks.resources.map(async (resource) => {
            const h = await locks.backend.holders(resource);
            return {
              resource,
              mode: h.mode ?? null,
              holders: Object.entries(h.holders).map(([token, count]) => ({ token, count })),
            };
          }),
        );
        return { resources, stats: locks.manager?.stats() ?? null };
      },
    },
  ];
}
