/**
 * `ballast breaker stats`: what breakers share through Redis (`redisFleet`): which are OPEN fleet-wide, for how
 * much longer by Redis' clock, and whether an instance holds the half-open probe lease. A breaker's counters and
 * percentiles live in its process: read them from the service (`registry.stats()`, the dashboard, metrics).
 */
import { globEscape, prefixKey, scanKeys } from '@ballast/core';
import type { Command } from 'commander';
import { type ConnectionOptions, prefixOf, withRedis } from '../connect';
import type { Io, OutputOptions } from '../io';
import { print } from '../io';

type Opts = ConnectionOptions & OutputOptions;

export interface FleetBreaker {
  breaker: string;
  state: 'open' | 'closed';
  /** Ms it stays open fleet-wide (Redis PTTL). */
  openForMs?: number;
  /** Ms left on the half-open probe lease an instance holds, if any. */
  probeLeaseMs?: number;
}

export function breakerCommands(program: Command, io: Io, global: () => Opts): void {
  const breaker = program.command('breaker').description('circuit breakers shared through Redis (redisFleet)');
  breaker
    .command('stats')
    .description('breakers open fleet-wide, how long they stay open, and probe leases in flight')
    .option('--match <glob>', 'breaker names matching a glob')
    .action(async (c: { match?: string }) => {
      const o = global();
      const rows = await withRedis(o, async (redis) => {
        const { RedisFleet } = await import('@ballast/circuit-breaker');
        const head = prefixKey(prefixOf(o), 'breaker:{');
        const names = new Set<string>();
        for (const tail of ['open', 'probe']) {
          for await (const key of scanKeys(redis, `${globEscape(head)}${c.match ?? '*'}}:${tail}`)) {
            names.add(key.slice(head.length, key.length - tail.length - 2));
          }
        }
        // A fleet without a subscriber: `current` only reads the shared key.
        const fleet = new RedisFleet({ redis, subscriber: redis, prefix: prefixOf(o), probeLeaseMs: false });
        const out: FleetBreaker[] = [];
        for (const name of [...names].sort()) {
          const [current, probe] = await Promise.all([fleet.current(name), redis.pttl(`${head}${name}}:probe`)]);
          out.push({
            breaker: name,
            state: current?.state === 'open' ? 'open' : 'closed',
            ...(current?.state === 'open' && current.ttlMs !== undefined ? { openForMs: current.ttlMs } : {}),
            ...(probe > 0 ? { probeLeaseMs: probe } : {}),
          });
        }
        return out;
      });
      print(
        io,
        o,
        rows,
        rows.map((r) => ({
          breaker: r.breaker,
          state: r.state,
          'open for ms': r.openForMs ?? '',
          'probe lease ms': r.probeLeaseMs ?? '',
        })),
      );
    });
}
