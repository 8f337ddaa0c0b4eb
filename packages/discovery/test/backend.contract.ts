/**
 * The `DiscoveryBackend` contract: memory, Redis and Consul (emulator, or a real agent) must all behave
 * the same through the interface. Real time is used (Redis and Consul clocks cannot be faked), with TTLs
 * of a second and waits on conditions.
 */
import { defineContract } from '@ballast/testkit/vitest';
import { expect, it } from 'vitest';
import type { DiscoveryBackend, RegistrationSpec } from '../src/backend';
import { isRegistrationLostError } from '../src/errors';
import { until } from './fixtures/consul-target';

export interface BackendUnderTest {
  backend: DiscoveryBackend;
  name(base: string): string;
}

const spec = (name: string, id: string, extra: Partial<RegistrationSpec> = {}): RegistrationSpec => ({
  id,
  name,
  address: '127.0.0.1',
  port: 9000,
  tags: ['v1'],
  meta: { zone: 'a' },
  check: { ttlMs: 60_000 },
  ...extra,
});

export const backendContract = defineContract<BackendUnderTest>('DiscoveryBackend', (make) => {
  it('registers and lists an instance with its tags, meta, URL and initial status', async () => {
    const { backend, name } = await make();
    const svc = name('contract-a');
    await backend.register(spec(svc, `${svc}-1`, { status: 'passing' }));
    await backend.register(spec(svc, `${svc}-2`, { tags: ['v2'], port: 9001 })); // checked: starts critical
    const { instances, index } = await backend.query(svc);
    expect(index).toBeGreaterThanOrEqual(1);
    const byId = Object.fromEntries(instances.map((i) => [i.id, i]));
    expect(byId[`${svc}-1`]).toMatchObject({
      name: svc,
      address: '127.0.0.1',
      port: 9000,
      tags: ['v1'],
      meta: { zone: 'a' },
      status: 'passing',
      url: 'http://127.0.0.1:9000',
    });
    expect(byId[`${svc}-2`]?.status).toBe('critical');
    expect((await backend.query(svc, { tag: 'v2' })).instances.map((i) => i.id)).toEqual([`${svc}-2`]);
    expect(await backend.isRegistered(`${svc}-1`)).toBe(true);
    await backend.deregister(`${svc}-1`);
    await backend.deregister(`${svc}-2`);
    expect((await backend.query(svc)).instances).toEqual([]);
    expect(await backend.isRegistered(`${svc}-1`)).toBe(false);
  });

  it('heartbeats move the status; a heartbeat for an unknown registration is RegistrationLostError', async () => {
    const { backend, name } = await make();
    const svc = name('contract-b');
    await backend.register(spec(svc, `${svc}-1`));
    await backend.heartbeat(`${svc}-1`, 'passing');
    expect((await backend.query(svc)).instances[0]?.status).toBe('passing');
    await backend.heartbeat(`${svc}-1`, 'warning');
    expect((await backend.query(svc)).instances[0]?.status).toBe('warning');
    await backend.deregister(`${svc}-1`);
    await expect(backend.heartbeat(`${svc}-1`, 'passing')).rejects.toSatisfy(isRegistrationLostError);
  });

  it('a TTL instance not heartbeated in time turns critical', async () => {
    const { backend, name } = await make();
    const svc = name('contract-c');
    await backend.register(spec(svc, `${svc}-1`, { check: { ttlMs: 1_000 }, status: 'passing' }));
    expect((await backend.query(svc)).instances[0]?.status).toBe('passing');
    await until(async () => (await backend.query(svc)).instances[0]?.status === 'critical', 8_000, 'TTL expiry');
    await backend.deregister(`${svc}-1`);
  });

  it('a blocking query returns as soon as the service changes, with a higher index', async () => {
    const { backend, name } = await make();
    const svc = name('contract-d');
    await backend.register(spec(svc, `${svc}-1`));
    const first = await backend.query(svc);
    const blocked = backend.query(svc, { index: first.index, waitMs: 20_000 });
    let settled = false;
    void blocked.then(() => {
      settled = true;
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(settled).toBe(false);
    await backend.heartbeat(`${svc}-1`, 'passing');
    const next = await blocked;
    expect(next.index).toBeGreaterThan(first.index);
    expect(next.instances[0]?.status).toBe('passing');
    await backend.deregister(`${svc}-1`);
  });

  it('a blocking query with nothing changing returns after wait with the same index', async () => {
    const { backend, name } = await make();
    const svc = name('contract-e');
    await backend.register(spec(svc, `${svc}-1`, { status: 'passing' }));
    const first = await backend.query(svc);
    const again = await backend.query(svc, { index: first.index, waitMs: 300 });
    expect(again.index).toBe(first.index);
    expect(again.instances.map((i) => i.id)).toEqual([`${svc}-1`]);
    await backend.deregister(`${svc}-1`);
  });

  it('a repeated heartbeat with the same status does not move the index', async () => {
    const { backend, name } = await make();
    const svc = name('contract-f');
    await backend.register(spec(svc, `${svc}-1`, { status: 'passing' }));
    const a = await backend.query(svc);
    await backend.heartbeat(`${svc}-1`, 'passing');
    expect((await backend.query(svc)).index).toBe(a.index);
    await backend.deregister(`${svc}-1`);
  });
});
