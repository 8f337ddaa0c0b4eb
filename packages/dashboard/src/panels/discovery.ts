/**
 * Discovery: the instances of each configured service with their check status (passing or not), and whether
 * the given client's outlier detection ejected them from picking.
 */
import type { DashboardDiscovery } from '../options';
import type { Route } from '../route';

export function discoveryRoutes(d: DashboardDiscovery): Route[] {
  return [
    {
      method: 'GET',
      path: 'discovery',
      async run() {
        const services = await Promise.all(
          d.services.map(async (name) => {
            const r = await d.backend.query(name);
            const ejected = new Set(d.client?.ejected(name) ?? []);
            return { name, instances: r.instances.map((i) => ({ ...i, ejected: ejected.has(i.id) })) };
          }),
        );
        return { backend: d.backend.kind, services };
      },
    },
  ];
}
