import { createLogger } from '@ballast/core';
import { useInMemoryMetrics } from '@ballast/testkit/otel';
import { expect, it } from 'vitest';
import { z } from 'zod';
import { createConfig, defaults, MemoryConfigStore, memoryStore } from '../src';

const collect = useInMemoryMetrics();

it('counts reloads and rejected updates by source and observes the current version', async () => {
  const store = new MemoryConfigStore();
  const config = await createConfig({
    schema: z.object({ limit: z.number().int().positive() }),
    logger: createLogger({ level: 'silent' }),
    sources: [defaults({ limit: 1 }), memoryStore({ store })],
  });
  try {
    await config.set('limit', 2);
    await config.set('limit', 3);
    const rejected = new Promise((resolve) => config.onError(resolve));
    await store.commit(2, { limit: -1 }, { at: Date.now() });
    await rejected;
    const find = await collect();
    const value = (name: string) =>
      find(`ballast_config_center_${name}`)?.dataPoints.find((p) => p.attributes.source === 'memory')?.value;
    expect(value('reloads_total')).toBe(2);
    expect(value('rejected_updates_total')).toBe(1);
    // The store is at version 3 (the rejected one); the config serves the last-known-good, version 2.
    expect(value('version')).toBe(2);
    expect(config.get('limit')).toBe(3);
  } finally {
    await config.close();
  }
});
