/**
 * spring-cloud-consul layering (issue 22 §2): `consulLayers({ service, profiles })` reads `config/application/`,
 * `config/application,<profile>/`, `config/<service>/`, `config/<service>,<profile>/` — each later one wins, as
 * Spring Cloud Consul documents ("the most specific … takes precedence": service over application, profile over
 * none, later profiles over earlier). Runs on the testkit's Consul EMULATOR, and on a real Consul when
 * CONSUL_HTTP_ADDR is set.
 */
import { randomUUID } from 'node:crypto';
import { createLogger } from '@ballast/core';
import { type ConsulEmulator, startConsulEmulator } from '@ballast/testkit/consul';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConsulConfigStore, consulLayers, createConfig, defaults } from '../src';

const silent = createLogger({ level: 'silent' });
const real = process.env.CONSUL_HTTP_ADDR;
let emulator: ConsulEmulator | undefined;
let url: string;
beforeAll(async () => {
  if (real) url = real.includes('://') ? real : `http://${real}`;
  else {
    emulator = await startConsulEmulator({ port: 0 });
    url = emulator.url;
  }
});
afterAll(async () => {
  await emulator?.close();
});

const schema = z.object({
  db: z.object({ url: z.string(), pool: z.number() }),
  feature: z.string(),
  region: z.string(),
  level: z.string(),
});

async function put(prefix: string, entries: Record<string, unknown>): Promise<void> {
  const store = new ConsulConfigStore({ url, prefix, logger: silent });
  try {
    await store.commit(0, entries, { at: Date.now() });
  } finally {
    await store.close();
  }
}

describe(`consulLayers (${real ? 'real Consul' : 'Consul emulator'})`, () => {
  it('application < application,profile < service < service,profile; later profiles win', async () => {
    const root = `cfg-${randomUUID().slice(0, 8)}`;
    await put(`${root}/application/`, { 'db/url': 'app', 'db/pool': 1, feature: 'app', region: 'app', level: 'app' });
    await put(`${root}/application,dev/`, { feature: 'app-dev', level: 'app-dev' });
    await put(`${root}/application,eu/`, { region: 'app-eu' });
    await put(`${root}/orders/`, { 'db/pool': 5, level: 'orders' });
    await put(`${root}/orders,dev/`, { level: 'orders-dev' });
    // orders,eu/ absent: an empty layer, not an error
    const layers = consulLayers({ url, root, service: 'orders', profiles: ['dev', 'eu'], logger: silent });
    expect(layers.map((l) => l.name)).toEqual([
      `consul:${root}/application/`,
      `consul:${root}/application,dev/`,
      `consul:${root}/application,eu/`,
      `consul:${root}/orders/`,
      `consul:${root}/orders,dev/`,
      `consul:${root}/orders,eu/`,
    ]);
    const config = await createConfig({
      schema,
      logger: silent,
      sources: [defaults({ db: { url: 'default', pool: 0 }, feature: 'd', region: 'd', level: 'd' }), ...layers],
    });
    try {
      expect(config.get()).toEqual({
        db: { url: 'app', pool: 5 },
        feature: 'app-dev',
        region: 'app-eu',
        level: 'orders-dev',
      });
      // A write names its layer; the service's own layer updates live over the shared one.
      await config.set('db.pool', 9, { source: `consul:${root}/orders/` });
      expect(config.get('db.pool')).toBe(9);
      await put(`${root}/orders,eu/`, { 'db/url': 'orders-eu' });
      await expect.poll(() => config.get('db.url'), { timeout: 10_000 }).toBe('orders-eu');
    } finally {
      await config.close();
    }
  });

  it('a custom separator and default context; bad names are refused naming the option', () => {
    const names = consulLayers({
      url,
      service: 'orders',
      profiles: ['prod'],
      defaultContext: 'shared',
      profileSeparator: '::',
    }).map((l) => l.name);
    expect(names).toEqual([
      'consul:config/shared/',
      'consul:config/shared::prod/',
      'consul:config/orders/',
      'consul:config/orders::prod/',
    ]);
    expect(() => consulLayers({ url, service: '' })).toThrow(/service/);
    expect(() => consulLayers({ url, service: 'a/b' })).toThrow(/service/);
  });
});
