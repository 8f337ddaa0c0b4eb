/**
 * Routing (issue 22 §3): outlier ejection on reported outcomes (Envoy's model: N consecutive failures or a
 * failure-rate window eject an instance for base × times-ejected, capped by a max-ejection percentage that still
 * allows one), least-outstanding fed by `target()`'s completion report, and a round-robin cursor per tag set.
 * Pure routing logic on the memory registry and a FakeClock.
 */
import { FakeClock } from '@ballast/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBackend } from '../src/backends/memory';
import { createDiscovery, type Discovery } from '../src/discovery';

const open: Discovery[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((d) => d.close()));
});

async function fleet(ids: string[], options: Parameters<typeof createDiscovery>[0] = {}, tagged: string[] = []) {
  const clock = new FakeClock();
  const d = createDiscovery({ env: {}, clock, backend: new MemoryBackend({ clock }), ...options });
  open.push(d);
  for (const [i, id] of ids.entries()) {
    await d.register({
      name: 'api',
      id,
      address: `10.0.0.${i + 1}`,
      port: 80,
      tags: tagged.includes(id) ? ['x'] : [],
      check: false,
      shutdown: false,
    });
  }
  return { d, clock };
}

const picks = async (d: Discovery, n: number, tag?: string) => {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push((await d.pick('api', undefined, tag ? { tag } : {})).id);
  return out;
};

describe('outlier ejection', () => {
  it('5 consecutive failures eject an instance for baseEjectionMs; it returns after, and the next ejection lasts twice as long', async () => {
    const { d, clock } = await fleet(['a', 'b', 'c']);
    for (let i = 0; i < 4; i++) d.report('api', 'a', { ok: false });
    expect(new Set(await picks(d, 3))).toEqual(new Set(['a', 'b', 'c'])); // 4 < 5: still in
    d.report('api', 'a', { ok: false });
    expect(d.ejected('api')).toEqual(['a']);
    expect(await picks(d, 4)).not.toContain('a');
    await clock.advance(29_999);
    expect(await picks(d, 4)).not.toContain('a');
    await clock.advance(1);
    expect(d.ejected('api')).toEqual([]);
    expect(await picks(d, 3)).toContain('a');
    for (let i = 0; i < 5; i++) d.report('api', 'a', { ok: false });
    await clock.advance(30_000);
    expect(d.ejected('api')).toEqual(['a']); // second ejection: 60 s
    await clock.advance(30_000);
    expect(d.ejected('api')).toEqual([]);
  });

  it('a success resets the consecutive count', async () => {
    const { d } = await fleet(['a', 'b']);
    for (let i = 0; i < 4; i++) d.report('api', 'a', { ok: false });
    d.report('api', 'a', { ok: true });
    for (let i = 0; i < 4; i++) d.report('api', 'a', { ok: false });
    expect(d.ejected('api')).toEqual([]);
  });

  it('maxEjectionPercent caps ejections but always allows one (Envoy)', async () => {
    const { d } = await fleet(['a', 'b', 'c', 'd'], { outlierDetection: { maxEjectionPercent: 50 } });
    await d.discover('api'); // the percentage is of the instances discovery knows
    for (const id of ['a', 'b', 'c', 'd']) for (let i = 0; i < 5; i++) d.report('api', id, { ok: false });
    expect(d.ejected('api')).toEqual(['a', 'b']);
    const { d: small } = await fleet(['a', 'b', 'c']); // default 10 %: 0.3 instances → still one
    await small.discover('api');
    for (const id of ['a', 'b']) for (let i = 0; i < 5; i++) small.report('api', id, { ok: false });
    expect(small.ejected('api')).toEqual(['a']);
  });

  it('a failure-rate window ejects an instance failing half its requests without 5 in a row', async () => {
    const { d } = await fleet(['a', 'b'], {
      outlierDetection: { failureRate: { threshold: 0.5, minRequests: 10, windowMs: 10_000 } },
    });
    for (let i = 0; i < 10; i++) d.report('api', 'a', { ok: i % 2 === 0 });
    expect(d.ejected('api')).toEqual(['a']);
  });

  it('outlierDetection: false never ejects; target() and withInstance() report outcomes', async () => {
    const { d: off } = await fleet(['a', 'b'], { outlierDetection: false });
    for (let i = 0; i < 10; i++) off.report('api', 'a', { ok: false });
    expect(off.ejected('api')).toEqual([]);

    const { d } = await fleet(['a', 'b'], { strategy: 'round-robin' });
    for (let i = 0; i < 10; i++) {
      const t = await d.target('api');
      t.done({ ok: t.instance.id !== 'a' });
    }
    expect(d.ejected('api')).toEqual(['a']);
    const { d: d2 } = await fleet(['a', 'b']);
    for (let i = 0; i < 10; i++) {
      await d2
        .withInstance('api', (inst) => {
          if (inst.id === 'b') throw new Error('boom');
        })
        .catch(() => {});
    }
    expect(d2.ejected('api')).toEqual(['b']);
  });
});

describe('least-outstanding through target()', () => {
  it('an instance whose request is still in flight is not picked until done() reports it', async () => {
    const { d } = await fleet(['a', 'b'], { strategy: 'least-outstanding' });
    const first = await d.target('api');
    const second = await d.target('api');
    expect(second.instance.id).not.toBe(first.instance.id);
    second.done({ ok: true });
    expect((await d.target('api')).instance.id).toBe(second.instance.id); // a is still busy
    first.done({ ok: true });
    first.done({ ok: true }); // idempotent
  });
});

describe('round-robin cursor per tag set', () => {
  it('picks with a tag rotate over the tagged instances even when untagged picks interleave', async () => {
    const { d } = await fleet(['a', 'b', 'c'], {}, ['a', 'b']);
    const tagged: string[] = [];
    for (let i = 0; i < 4; i++) {
      await d.pick('api');
      tagged.push((await d.pick('api', undefined, { tag: 'x' })).id);
    }
    expect(tagged.sort()).toEqual(['a', 'a', 'b', 'b']);
    expect((await picks(d, 3)).sort()).toEqual(['a', 'b', 'c']);
  });
});
