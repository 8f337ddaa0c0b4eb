// Redis loses the consumer group: a restart without persistence, or an operator's XGROUP DESTROY. Before the
// fix every read failed with NOGROUP forever (GroupNotFoundError twice a second) and events published after the
// restart were never consumed. The consumer must create its group again, log it once, count it, and lose none
// of the events published after the loss.
import { isBackendUnavailableError, type Redis } from '@ballast/core';
import { captureLogs } from '@ballast/testkit';
import { useInMemoryMetrics } from '@ballast/testkit/otel';
import { useRedisServer } from '@ballast/testkit/vitest';
import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { createEventBus } from '../src/bus';

const collect = useInMemoryMetrics();
// No persistence: restart() brings Redis back empty, as a cache-configured Redis or a failed-over replica would.
const fx = useRedisServer({ args: [] });
const events = { 'order.placed': z.object({ n: z.number() }) };

async function recreatedCount(group: string): Promise<number> {
  const metric = (await collect())('ballast_event_bus_group_recreated_total');
  const points = (metric?.dataPoints ?? []) as { attributes: Record<string, unknown>; value: number }[];
  return points.filter((p) => p.attributes.group === group).reduce((a, p) => a + p.value, 0);
}

/** Publishes until Redis accepts (it is restarting): resolves with the id. */
async function publishWhenUp(bus: ReturnType<typeof createEventBus<typeof events>>, n: number): Promise<void> {
  for (;;) {
    const ok = await bus.publish('order.placed', { n }).then(
      () => true,
      (error: unknown) => {
        if (!isBackendUnavailableError(error)) throw error;
        return false;
      },
    );
    if (ok) return;
  }
}

/** A handler that records each event's `n`, and `until(count)`: resolves once that many distinct ones arrived. */
function collector() {
  const got = new Set<number>();
  let wanted = 0;
  let all: (() => void) | undefined;
  return {
    got,
    handle: async (e: { data: { n: number } }) => {
      got.add(e.data.n);
      if (got.size >= wanted) all?.();
    },
    until: (count: number) =>
      new Promise<void>((resolve) => {
        wanted = count;
        all = resolve;
        if (got.size >= count) resolve();
      }),
  };
}

describe('event bus consumer when Redis loses its group', () => {
  it('after a restart without data: recreates the group, logs once, counts it, loses no event published after', async () => {
    const { server, redis } = fx;
    const consoleError = vi.spyOn(console, 'error');
    const logs = captureLogs();
    const bus = createEventBus({
      redis: redis as Redis,
      source: 'recovery',
      events,
      logger: logs.logger,
      commandTimeoutMs: 500,
    });
    const { got, until, handle } = collector();
    const sub = await bus.subscribe('order.placed', handle, { group: 'billing', blockMs: 100 });

    let done = until(8);
    for (let n = 0; n < 8; n++) await bus.publish('order.placed', { n });
    await done;

    await server.restart(); // empty: no stream, no group
    got.clear();
    done = until(64);
    for (let n = 100; n < 164; n++) await publishWhenUp(bus, n);
    await done;
    expect([...got].sort((a, b) => a - b)).toEqual(Array.from({ length: 64 }, (_, i) => 100 + i));

    await logs.waitFor((l) => /consumer group was missing/.test(String(l.msg)));
    expect(logs.lines.filter((l) => /consumer group was missing/.test(String(l.msg)))).toHaveLength(1);
    expect(await recreatedCount('billing')).toBe(1);
    // No error line per failed read: GroupNotFoundError is the cue to recreate, not an error to repeat.
    expect(logs.atLeast(50).filter((l) => /GroupNotFound|NOGROUP/.test(JSON.stringify(l)))).toEqual([]);

    await sub.close();
    await bus.close();
    expect(consoleError.mock.calls.filter((c) => String(c[0]).includes('Unhandled error event'))).toEqual([]);
    consoleError.mockRestore();
  });

  it("after an operator's XGROUP DESTROY on a live Redis: the same", async () => {
    const { redis } = fx;
    const logs = captureLogs();
    const bus = createEventBus({
      redis: redis as Redis,
      source: 'destroy',
      prefix: 'ops',
      events,
      logger: logs.logger,
    });
    const { got, until, handle } = collector();
    const sub = await bus.subscribe('order.placed', handle, { group: 'audit', blockMs: 100 });
    let done = until(4);
    for (let n = 0; n < 4; n++) await bus.publish('order.placed', { n });
    await done;

    const stream = 'ops:events:{order.placed}';
    expect(await redis.xgroup('DESTROY', stream, 'audit')).toBe(1);
    done = until(4 + 16);
    for (let n = 200; n < 216; n++) await bus.publish('order.placed', { n });
    await done;
    for (let n = 200; n < 216; n++) expect(got.has(n)).toBe(true);
    expect(logs.lines.filter((l) => /consumer group was missing/.test(String(l.msg)))).toHaveLength(1);

    await sub.close();
    await bus.close();
  });
});
