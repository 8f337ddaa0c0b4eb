/**
 * Saga v2 (issue 21), on every store: in-doubt steps (§1), the DLQ that never loses an entry (§2), fair
 * recovery (§3), definition versions (§4), cancel / deadlines / list / idempotency fingerprints (§5).
 * Orchestrator timers run on the FakeClock; steps that "ignore their signal" sleep on it too.
 */
import { sleep } from '@ballast/core';
import { track } from '@ballast/testkit';
import { defineContract } from '@ballast/testkit/vitest';
import { expect, it, vi } from 'vitest';
import { defineSaga, parallel, type StepDefinition } from '../src/index';
import { failure, orchestrator, type SagaBackendUnderTest, uid } from './orchestrator.contract';

type Ctx = Record<string, unknown>;

/** A step that ignores its signal and applies its effect after `ms` on the clock (never, when undefined). */
function stubborn(u: SagaBackendUnderTest, log: string[], name: string, ms?: number): StepDefinition<Ctx> {
  return {
    name,
    retry: false,
    timeoutMs: 1_000,
    async run() {
      log.push(`run:${name}`);
      if (ms === undefined) await new Promise(() => {});
      await sleep(u.clock, ms!);
      log.push(`applied:${name}`);
    },
    async compensate() {
      log.push(`undo:${name}`);
    },
  };
}

export const sagaV2Contract = defineContract<SagaBackendUnderTest>('Saga v2', (make) => {
  it('§1 a timed-out try is given its grace to settle: the retry never overlaps it, a late success counts', async () => {
    const u = await make();
    let active = 0;
    let most = 0;
    let tries = 0;
    const saga = defineSaga<Ctx>(uid('overlap'), {
      steps: [
        {
          name: 'slow',
          timeoutMs: 1_000,
          retry: { maxAttempts: 2, backoff: false },
          async run() {
            tries++;
            active++;
            most = Math.max(most, active);
            // Ignores its signal: the first try takes 3 s, a second would be instant.
            if (tries === 1) await sleep(u.clock, 3_000);
            active--;
            return { done: tries };
          },
        },
      ],
    });
    const run = track(orchestrator(u).run(saga, {}));
    await vi.waitFor(() => expect(tries).toBe(1));
    await u.clock.advance(1_000); // the timeout: the try is aborted but still running
    await u.clock.advance(2_000); // it settles within the grace
    await vi.waitFor(() => expect(run.done).toBe(true));
    expect(run.error).toBeUndefined();
    expect(most).toBe(1);
    expect(tries).toBe(1);
    expect(run.value).toEqual({ done: 1 });
  });

  it('§1 a cancelled parallel branch whose effect lands after the abort is compensated', async () => {
    const u = await make();
    const log: string[] = [];
    const saga = defineSaga<Ctx>(uid('late-branch'), {
      steps: [
        parallel([
          stubborn(u, log, 'book', 100),
          {
            name: 'fail',
            retry: false,
            async run() {
              await sleep(u.clock, 10);
              throw new Error('fail failed');
            },
          },
        ]),
      ],
    });
    const run = track(orchestrator(u).run(saga, {}));
    await vi.waitFor(() => expect(log).toContain('run:book'));
    await u.clock.advance(10); // the sibling fails: book is cancelled, but ignores it
    await u.clock.advance(100); // …and its booking lands 100 ms later
    await vi.waitFor(() => expect(run.done).toBe(true));
    const err = await failure(Promise.reject(run.error));
    expect(err.status).toBe('compensated');
    expect(err.compensations.map((c) => [c.step, c.result])).toEqual([['book', 'compensated']]);
    expect(log).toEqual(['run:book', 'applied:book', 'undo:book']);
  });

  it.each([true, false])(
    '§1 a step that ignores its signal and never settles is in doubt after the grace (compensateInDoubt %s)',
    async (compensateInDoubt) => {
      const u = await make();
      const log: string[] = [];
      const saga = defineSaga<Ctx>(uid('hang'), {
        steps: [
          { name: 'first', run: () => void log.push('run:first'), compensate: () => void log.push('undo:first') },
          stubborn(u, log, 'hang'),
        ],
      });
      const orch = orchestrator(u, { compensateInDoubt, stepSettleGraceMs: 2_000 });
      const run = track(orch.run(saga, {}));
      await vi.waitFor(() => expect(log).toContain('run:hang'));
      await u.clock.advance(1_000); // timed out: aborted, waiting for it to settle
      await u.clock.advance(1_999);
      expect(log).toEqual(['run:first', 'run:hang']); // no compensation while it may still be running
      await u.clock.advance(1);
      await vi.waitFor(() => expect(run.done).toBe(true));
      const err = await failure(Promise.reject(run.error));
      expect(err.failedStep).toBe('hang');
      if (compensateInDoubt) {
        expect(err.compensations).toEqual([
          { step: 'hang', result: 'compensated', attempts: 1, inDoubt: true },
          { step: 'first', result: 'compensated', attempts: 1 },
        ]);
        expect(log).toEqual(['run:first', 'run:hang', 'undo:hang', 'undo:first']);
      } else {
        expect(err.compensations.map((c) => c.step)).toEqual(['first']);
      }
      expect(await orch.get(err.sagaId)).toMatchObject({ status: 'compensated', inDoubtSteps: ['hang'] });
    },
  );
});
