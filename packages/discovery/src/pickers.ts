import type { ServiceInstance } from './backend';

export type PickStrategy = 'round-robin' | 'random' | 'least-outstanding';

/**
 * Instances `pick` chooses from: the passing ones, or — when fewer than `panicThresholdPercent` % of all
 * instances pass (but some do) — all of them, so the few healthy ones are not overloaded (Envoy's panic
 * threshold).
 */
export function routable(
  instances: readonly ServiceInstance[],
  panicThresholdPercent: number,
): readonly ServiceInstance[] {
  const passing = instances.filter((i) => i.status === 'passing');
  if (passing.length === 0 || passing.length === instances.length) return passing;
  return (passing.length / instances.length) * 100 < panicThresholdPercent ? instances : passing;
}

/**
 * Picking state of one lookup (service + tag set + filter): its own round-robin cursor, so picks of one tag set
 * rotate over its instances whatever other lookups of the service do; outstanding-request counts per instance,
 * shared by every picker of the service.
 */
export class Picker {
  #cursor = 0;

  constructor(
    readonly random: () => number = Math.random,
    readonly outstanding: Map<string, number> = new Map(),
  ) {}

  pick(candidates: readonly ServiceInstance[], strategy: PickStrategy): ServiceInstance | undefined {
    const n = candidates.length;
    if (n === 0) return undefined;
    if (n === 1) return candidates[0];
    if (strategy === 'random') return candidates[Math.floor(this.random() * n)];
    if (strategy === 'least-outstanding') {
      let best: ServiceInstance | undefined;
      let bestCount = Number.POSITIVE_INFINITY;
      // Start at the cursor so ties rotate instead of always hitting the first instance.
      const start = this.#cursor++ % n;
      for (let k = 0; k < n; k++) {
        const c = candidates[(start + k) % n] as ServiceInstance;
        const count = this.outstanding.get(c.id) ?? 0;
        if (count < bestCount) {
          best = c;
          bestCount = count;
        }
      }
      return best;
    }
    const chosen = candidates[this.#cursor % n];
    this.#cursor = (this.#cursor + 1) % 1_000_000_007;
    return chosen;
  }

  begin(id: string): () => void {
    this.outstanding.set(id, (this.outstanding.get(id) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (this.outstanding.get(id) ?? 1) - 1;
      if (left <= 0) this.outstanding.delete(id);
      else this.outstanding.set(id, left);
    };
  }
}
