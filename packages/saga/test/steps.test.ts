/** Step policies (memory store, FakeClock): seed 001 defaults, per-step overrides, signals, idempotency keys. */
import { createLogger } from '@ballast/core';
import { FakeClock, track } from '@ballast/testkit';
import { describe, expect, it, vi } from 'vitest';
import { createOrchestrator, defineSaga, isSagaFailedError, MemorySagaStore, type StepInfo } from '../src/index';

const quiet = createLogger({ level: 'silent' });

function setup() {
  const clock = new FakeClock();
  const orch = createOrchestrator({ store: new MemorySagaStore({ clock }), clock, sweepIntervalMs: 0, logger: quiet });
  return { clock, orch };
}

describe('step policies', () => {
  it('default: 3 tries, 1 s then 2 s apart (seed 001), each try with its own signal and the same idempotency key', async () => {
    const { clock, orch } = setup();
    const tries: StepInfo[] = [];
    const saga = defineSaga<{ ok?: boolean }>('flaky', {
      steps: [
        {
          name: 'flaky',
          run: (_c, info) => {
            tries.push(info);
            if (tries.length < 3) throw new Error('not yet');
            return { ok: true };
          },
        },
      ],
    });
    const run = track(orch.run(saga, {}, { sagaId: 'f1' }));
    await vi.waitFor(() => expect(tries).toHaveLength(1));
    await clock.advance(999);
    expect(tries).toHaveLength(1);
    await clock.advance(1);
    expect(tries).toHaveLength(2);
    await clock.advance(1_999);
    expect(tries).toHaveLength(2);
    await clock.advance(1);
    await vi.waitFor(() => expect(run.done).toBe(true));
    expect(run.value).toEqual({ ok: true });
    expect(tries.map((t) => [t.attempt, t.idempotencyKey])).toEqual([
      [0, 'f1:flaky'],
      [1, 'f1:flaky'],
      [2, 'f1:flaky'],
    ]);
    await orch.close();
  });

  it('default timeout 30 s aborts the try’s signal; a per-step override (timeoutMs, retry: false) applies', async () => {
    const { clock, orch } = setup();
    const signals: AbortSignal[] = [];
    const hang = (_c: unknown, info: StepInfo) =>
      new Promise<undefined>((_, reject) => {
        signals.push(info.signal);
        info.signal.addEventListener('abort', () => reject(info.signal.reason));
      });
    const saga = defineSaga('hang', {
      steps: [
        { name: 'short', run: hang, timeoutMs: 500, retry: false },
        { name: 'never', run: () => undefined },
      ],
    });
    const run = track(orch.run(saga, {}));
    await vi.waitFor(() => expect(signals).toHaveLength(1));
    await clock.advance(499);
    expect(run.done).toBe(false);
    await clock.advance(1);
    await vi.waitFor(() => expect(run.done).toBe(true));
    expect(signals[0]!.aborted).toBe(true);
    expect(isSagaFailedError(run.error)).toBe(true);
    expect(run.error).toMatchObject({ failedStep: 'short', error: { code: 'TIMEOUT' } });

    const long = defineSaga('hang-default', { steps: [{ name: 'slow', run: hang, retry: { maxAttempts: 1 } }] });
    const run2 = track(orch.run(long, {}));
    await vi.waitFor(() => expect(signals).toHaveLength(2));
    await clock.advance(29_999);
    expect(run2.done).toBe(false);
    await clock.advance(1);
    await vi.waitFor(() => expect(run2.done).toBe(true));
    expect(run2.error).toMatchObject({ failedStep: 'slow', error: { code: 'TIMEOUT' } });
    await orch.close();
  });

  it('a lease is renewed while a long step runs: no sweeper can claim it', async () => {
    const clock = new FakeClock();
    const store = new MemorySagaStore({ clock });
    const opts = { store, clock, leaseMs: 3_000, sweepIntervalMs: 0, logger: quiet, stepTimeoutMs: 600_000 };
    const a = createOrchestrator(opts);
    let finish!: () => void;
    const saga = defineSaga('long', {
      steps: [{ name: 'long', run: () => new Promise<undefined>((r) => (finish = () => r(undefined))) }],
    });
    const run = track(a.run(saga, {}, { sagaId: 'long-1' }));
    const b = createOrchestrator({ ...opts, sagas: [saga] });
    for (let i = 0; i < 10; i++) {
      await clock.advance(1_000);
      expect(await b.sweep()).toEqual([]);
    }
    finish();
    await vi.waitFor(() => expect(run.done).toBe(true));
    expect((await a.get('long-1'))?.status).toBe('completed');
    await a.close();
    await b.close();
  });

  it('the background sweeper (sweepIntervalMs) resumes an abandoned saga on its own', async () => {
    const clock = new FakeClock();
    const store = new MemorySagaStore({ clock });
    let calls = 0;
    let gate: (() => void) | undefined;
    const saga = defineSaga('bg', {
      steps: [
        { name: 'one', run: () => undefined },
        {
          name: 'two',
          run: (_c, info) => {
            calls++;
            if (calls > 1) return undefined;
            return new Promise<undefined>((_, reject) => {
              gate = () => reject(new Error('x'));
              info.signal.addEventListener('abort', () => reject(info.signal.reason));
            });
          },
        },
      ],
    });
    const a = createOrchestrator({ store, clock, leaseMs: 3_000, sweepIntervalMs: 0, logger: quiet });
    const run = track(a.run(saga, {}, { sagaId: 'bg-1' }));
    await vi.waitFor(() => expect(calls).toBe(1));
    await a.close();
    expect(gate).toBeDefined();
    await vi.waitFor(() => expect(run.done).toBe(true));
    const b = createOrchestrator({
      store,
      clock,
      leaseMs: 3_000,
      sweepIntervalMs: 1_000,
      logger: quiet,
      sagas: [saga],
    });
    await clock.advance(4_000);
    await vi.waitFor(async () => expect((await b.get('bg-1'))?.status).toBe('completed'));
    expect(calls).toBe(2);
    await b.close();
  });
});

describe('bad options', () => {
  it('createOrchestrator and run name the bad field (InvalidOptionsError) before anything is written', async () => {
    expect(() => createOrchestrator({ leaseMs: -1 })).toThrow(/leaseMs/);
    expect(() => createOrchestrator({ stepMaxAttempts: 0 })).toThrow(/stepMaxAttempts/);
    expect(() => createOrchestrator({ nope: 1 } as never)).toThrow(/INVALID|nope|Unrecognized/i);
    const { orch } = setup();
    const saga = defineSaga('opts', { steps: [{ name: 'a', run: () => undefined }] });
    await expect(orch.run(saga, {}, { sagaId: 'has{braces}' })).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
      issues: [expect.objectContaining({ path: 'sagaId' })],
    });
    expect(await orch.get('has{braces}')).toBeUndefined();
    await orch.close();
  });
});
