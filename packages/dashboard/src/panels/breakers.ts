/** Breakers: state and rolling stats of every breaker in the registry; force open/close, isolate/release. */

import type { BreakerStats } from '@ballast/circuit-breaker';
import { notFound } from '../errors';
import type { DashboardBreakers } from '../options';
import type { Route, RouteContext } from '../route';

export function breakerRoutes(registry: DashboardBreakers): Route[] {
  /** Isolation handles this dashboard holds, by breaker: released from the UI. */
  const isolations = new Map<string, () => void>();
  const breaker = (ctx: RouteContext) => {
    const name = ctx.params.name!;
    if (!registry.has(name)) throw notFound(`no breaker named "${name}"`);
    return registry.get(name);
  };
  const list = () => {
    const { timestamp, circuitBreakers } = registry.stats();
    return {
      timestamp,
      breakers: Object.entries(circuitBreakers as Record<string, BreakerStats>).map(([name, s]) => ({
        name,
        ...s,
        isolated: isolations.has(name),
      })),
    };
  };
  const act = (name: 'open' | 'close' | 'isolate' | 'release', run: (ctx: RouteContext) => void): Route => ({
    method: 'POST',
    path: `breakers/:name/${name}`,
    action: (ctx) => ({ name: `breaker.${name}`, target: ctx.params.name! }),
    async run(ctx) {
      run(ctx);
      return list().breakers.find((b) => b.name === ctx.params.name);
    },
  });
  return [
    { method: 'GET', path: 'breakers', run: async () => list() },
    act('open', (ctx) => breaker(ctx).forceOpen()),
    act('close', (ctx) => {
      const b = breaker(ctx);
      isolations.get(b.name)?.();
      isolations.delete(b.name);
      b.forceClose();
    }),
    act('isolate', (ctx) => {
      const b = breaker(ctx);
      if (!isolations.has(b.name)) isolations.set(b.name, b.isolate());
    }),
    act('release', (ctx) => {
      const b = breaker(ctx);
      isolations.get(b.name)?.();
      isolations.delete(b.name);
    }),
  ];
}

/** The live summary: state by breaker. */
export function breakerSummary(registry: DashboardBreakers) {
  const { circuitBreakers } = registry.stats();
  return Object.fromEntries(
    Object.entries(circuitBreakers as Record<string, BreakerStats>).map(([name, s]) => [name, s.state]),
  );
}
