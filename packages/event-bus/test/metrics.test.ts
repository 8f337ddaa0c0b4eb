import { createLogger } from '@ballast/core';
import { useInMemoryMetrics } from '@ballast/testkit/otel';
import { expect, it } from 'vitest';
import { MemoryTransport } from '../src/backends/memory';
import { createEventBus } from '../src/bus';
import { healthPlatformEvents } from '../src/schemas';

const collect = useInMemoryMetrics();

it('counts published, delivered, acked, failed, dead-lettered per type and group, and observes lag', async () => {
  const transport = new MemoryTransport();
  const bus = createEventBus({
    transport,
    source: 's',
    events: healthPlatformEvents,
    logger: createLogger({ level: 'silent' }),
  });
  // Lag first: three events waiting for a group that exists but reads nothing yet.
  await transport.ensureGroup('system.alert', 'group:system.alert');
  for (const message of ['a', 'b', 'fail']) await bus.publish('system.alert', { severity: 'info', message });
  let acked = 0;
  await bus.subscribe(
    'system.alert',
    (e) => {
      if (e.data.message === 'fail') throw new Error('nope');
      acked++;
    },
    { blockMs: 10, maxDeliveries: 1 },
  );
  await expect.poll(async () => (await bus.dlq.list('system.alert')).length).toBe(1);
  await expect.poll(() => acked).toBe(2);
  let find = await collect();
  const value = (name: string, attrs: Record<string, string>) =>
    find(`ballast_event_bus_${name}`)?.dataPoints.find((p) =>
      Object.entries(attrs).every(([k, v]) => p.attributes[k] === v),
    )?.value;
  const g = { type: 'system.alert', group: 'group:system.alert' };
  expect(value('published_total', { type: 'system.alert' })).toBe(3);
  expect(value('delivered_total', g)).toBe(3);
  expect(value('failed_total', g)).toBe(1);
  expect(value('dead_lettered_total', g)).toBe(1);
  await expect
    .poll(async () => {
      find = await collect();
      return value('acked_total', g);
    })
    .toBe(2);
  expect(value('consumer_lag', g)).toBe(0);
  expect(value('pending', g)).toBe(0);
  await bus.close();
});
