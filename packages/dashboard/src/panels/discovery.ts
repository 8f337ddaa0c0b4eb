/** Discovery: the instances of each configured service with their check status (passing or not). */
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
            return { name, instances: r.instances };
          }),
        );
        return { backend: d.backend.kind, services };
      },
    },
  ];
}
