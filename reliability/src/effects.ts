import type { Redis } from '@ballast/core';

/**
 * The independent ledger of the v2 scenarios: one hash per subsystem on the **main** Redis (never the one the
 * scenario breaks), field = item id, value = times its effect happened (`HINCRBY` inside the handler, before
 * the package acknowledges). What the package reports about itself is not trusted; only this is counted.
 */
export class Effects {
  constructor(
    readonly redis: Redis,
    readonly key: string,
  ) {}

  record(id: string): Promise<number> {
    return this.redis.hincrby(this.key, id, 1);
  }

  async read(): Promise<Map<string, number>> {
    const all = await this.redis.hgetall(this.key);
    return new Map(Object.entries(all).map(([k, v]) => [k, Number(v)]));
  }

  count(): Promise<number> {
    return this.redis.hlen(this.key);
  }
}

/** produced / processed / lost / duplicated of a set of ids against the effects seen. */
export function tally(ids: readonly string[], effects: ReadonlyMap<string, number>) {
  let processed = 0;
  let lost = 0;
  let duplicated = 0;
  for (const id of ids) {
    const times = effects.get(id) ?? 0;
    if (times > 0) {
      processed++;
      duplicated += times - 1;
    } else lost++;
  }
  return { produced: ids.length, processed, lost, duplicated };
}

/** Swallows a client's 'error' events: the scenario breaks its server on purpose; ioredis reconnects. */
export function quiet<T extends { on(event: 'error', listener: (e: unknown) => void): unknown }>(client: T): T {
  client.on('error', () => {});
  return client;
}
