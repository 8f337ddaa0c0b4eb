import { describe, expect, it } from 'vitest';
import { spawnWorker, stopAll } from '../src/child';
import { Checks, type Ledger, passed } from '../src/ledger';
import { loadScenarios } from '../src/registry';
import { seededRandom, waitUntil } from '../src/scenario';
import { renderMarkdown, renderText } from '../src/table';

const ledger = (over: Partial<Ledger> = {}): Ledger => ({
  scenario: 'bus',
  mode: 'short',
  produced: 10,
  processed: 10,
  lost: 0,
  duplicated: 2,
  durationMs: 1500,
  details: { kills: 3 },
  failures: [],
  ...over,
});

describe('scenario runner', () => {
  it('registers every file in src/scenarios that exports a scenario', async () => {
    const all = await loadScenarios();
    expect([...all.keys()]).toEqual(expect.arrayContaining(['bus', 'lock']));
    for (const s of all.values()) expect(s.description.length).toBeGreaterThan(10);
  }, 60_000);

  it('prints a table with counts, details and failures; markdown has the same rows', () => {
    const bad = ledger({ scenario: 'lock', lost: 1, failures: ['1 stale write accepted'] });
    const text = renderText([ledger(), bad]);
    expect(text).toMatch(/^scenario\s+mode\s+produced\s+processed\s+lost\s+duplicated\s+seconds\s+result/);
    expect(text).toMatch(/bus\s+short\s+10\s+10\s+0\s+2\s+1\.5\s+PASS/);
    expect(text).toMatch(/lock\s+short\s+10\s+10\s+1\s+2\s+1\.5\s+FAIL/);
    expect(text).toContain('kills=3');
    expect(text).toContain('✖ 1 stale write accepted');
    const md = renderMarkdown([ledger(), bad]);
    expect(md).toContain('| bus | short | 10 | 10 | 0 | 2 | 1.5 | PASS | kills=3 |');
    expect(md).toContain('- **lock**: 1 stale write accepted');
  });

  it('a ledger passes only without failures', () => {
    const c = new Checks();
    c.check(true, 'never');
    expect(passed(ledger({ failures: c.failures }))).toBe(true);
    c.check(false, '2 lost');
    expect(passed(ledger({ failures: c.failures }))).toBe(false);
  });

  it('the chaos schedule is replayable from its seed', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const xs = Array.from({ length: 5 }, a);
    expect(Array.from({ length: 5 }, b)).toEqual(xs);
    for (const x of xs) expect(x >= 0 && x < 1).toBe(true);
    expect(Array.from({ length: 5 }, seededRandom(43))).not.toEqual(xs);
  });

  it('a worker says READY, reports results, and exits cleanly on SIGTERM', async () => {
    const w = spawnWorker({
      script: 'idle.ts',
      name: 'idle',
      config: { lifetimeMs: 20_000, echo: 'hi' },
      lifetimeMs: 25_000,
    });
    await w.ready;
    expect(await waitUntil(() => w.results.length > 0, 5_000, 20)).toBe(true);
    expect(w.results[0]).toEqual({ echo: 'hi' });
    await stopAll([w]);
    expect(await w.exited).toEqual({ code: 0, signal: null });
  }, 90_000);

  it('every worker is bounded in time: past its lifetime it is SIGKILLed, ready or not', async () => {
    // The worker itself would idle for 60 s; its lifetime (from spawn) is 3 s.
    const w = spawnWorker({
      script: 'idle.ts',
      name: 'idle',
      config: { lifetimeMs: 60_000, echo: 1 },
      lifetimeMs: 3_000,
    });
    expect(await w.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(w.running).toBe(false);
  }, 60_000);

  it('a worker that never gets ready fails its ready promise instead of hanging', async () => {
    const w = spawnWorker({
      script: 'idle.ts',
      name: 'slow',
      config: { lifetimeMs: 60_000 },
      readyTimeoutMs: 1,
      lifetimeMs: 10_000,
    });
    await expect(w.ready).rejects.toThrow(/not ready within 1 ms|exited/);
    await w.exited;
  }, 60_000);
});
