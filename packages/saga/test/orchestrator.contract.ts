/**
 * The orchestrator contract, run on every store (memory, Redis, Redis Cluster): both seed sagas end to end,
 * compensation in reverse, compensation retries under a FakeClock then DLQ, parallel cancellation,
 * idempotency, recovery by a second orchestrator's sweeper, fencing. Orchestrator timers run on the FakeClock;
 * lease expiry is the store's (memory: the FakeClock; Redis: the server's clock, so `expireLeases` waits).
 */
import { createLogger } from '@ballast/core';
import { FakeClock, track } from '@ballast/testkit';
import { defineContract } from '@ballast/testkit/vitest';
import { afterEach, expect, it, vi } from 'vitest';
import {
  type CompensationFailedEvent,
  createOrchestrator,
  isContextNotSerializableError,
  isSagaExistsError,
  isSagaFailedError,
  isSagaLeaseLostError,
  type OrchestratorOptions,
  type SagaFailedError,
  type SagaOrchestrator,
  type SagaStore,
} from '../src/index';
import {
  CONSULTATION_AGENTS,
  consultationInput,
  consultationSaga,
  HEALTH_STEPS,
  healthDataSaga,
  healthInput,
  services,
} from './fixtures/sagas';

export interface SagaBackendUnderTest {
  store: SagaStore;
  clock: FakeClock;
  leaseMs: number;
  /** Lets every lease taken so far lapse. */
  expireLeases(): Promise<void>;
}

const quiet = createLogger({ level: 'silent' });
const open: SagaOrchestrator[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});

export function orchestrator(u: SagaBackendUnderTest, extra: OrchestratorOptions = {}): SagaOrchestrator {
  const o = createOrchestrator({
    store: u.store,
    clock: u.clock,
    leaseMs: u.leaseMs,
    sweepIntervalMs: 0,
    logger: quiet,
    ...extra,
  });
  open.push(o);
  return o;
}

export async function failure(p: Promise<unknown>): Promise<SagaFailedError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isSagaFailedError(error)).toBe(true);
  return error as SagaFailedError;
}

let seq = 0;
export const uid = (what: string) => `${what}-${Date.now().toString(36)}-${seq++}`;

export const sagaContract = defineContract<SagaBackendUnderTest>('Saga orchestrator', (make) => {
  it('health-data saga (seed 000): runs the four steps in order and stores seed 001 state', async () => {
    const u = await make();
    const s = services();
    const orch = orchestrator(u);
    const sagaId = uid('hd');
    const out = await orch.run(healthDataSaga(s), healthInput, { sagaId });
    expect(out).toEqual({
      ...healthInput,
      valid: true,
      recordId: 'rec-d1',
      blockId: 'blk-rec-d1',
      analysisId: 'ai-u1',
    });
    expect(s.calls).toEqual(HEALTH_STEPS.map((n) => `run:${n}`));
    expect(s.keys.get('update_blockchain')).toEqual([`${sagaId}:update_blockchain`]);
    const state = await orch.get(sagaId);
    expect(state).toMatchObject({
      status: 'completed',
      saga: 'health-data',
      currentStep: 4,
      executedSteps: HEALTH_STEPS,
      context: out,
      owner: '',
    });
  });

  it.each(HEALTH_STEPS.map((step, i) => [step, i] as const))(
    'failure at %s compensates exactly the completed steps, in reverse',
    async (failing, i) => {
      const u = await make();
      const s = services();
      s.failRun.add(failing);
      const orch = orchestrator(u);
      const sagaId = uid('hdf');
      const err = await failure(orch.run(healthDataSaga(s), healthInput, { sagaId }));
      const done = HEALTH_STEPS.slice(0, i);
      const undoable = done.filter((n) => n !== 'validate_user').reverse();
      expect(err).toMatchObject({ failedStep: failing, status: 'compensated', sagaId });
      expect(err.error.message).toBe(`${failing} failed`);
      expect(err.compensations.map((c) => [c.step, c.result])).toEqual(
        [...done].reverse().map((n) => [n, n === 'validate_user' ? 'skipped' : 'compensated']),
      );
      expect(s.calls).toEqual([...done.map((n) => `run:${n}`), `run:${failing}`, ...undoable.map((n) => `undo:${n}`)]);
      expect(await orch.get(sagaId)).toMatchObject({ status: 'compensated', failedStep: failing, executedSteps: done });
    },
  );

  it('a failing compensation is retried after 1 s, 2 s, 4 s, then DLQ + hook + compensation_failed; the DLQ retry finishes it', async () => {
    const u = await make();
    const s = services();
    s.failRun.add('trigger_ai_analysis');
    s.failUndo.add('update_blockchain');
    const hook: CompensationFailedEvent[] = [];
    const orch = orchestrator(u, { onCompensationFailed: (e) => void hook.push(e) });
    const sagaId = uid('hdc');
    const run = track(orch.run(healthDataSaga(s), healthInput, { sagaId }));
    const undos = () => s.calls.filter((c) => c === 'undo:update_blockchain').length;
    await vi.waitFor(() => expect(undos()).toBe(1));
    for (const [delay, tries] of [
      [1_000, 2],
      [2_000, 3],
      [4_000, 4],
    ] as const) {
      await u.clock.advance(delay - 1);
      expect(undos()).toBe(tries - 1);
      await u.clock.advance(1);
      await vi.waitFor(() => expect(undos()).toBe(tries));
    }
    await vi.waitFor(() => expect(run.done).toBe(true));
    const err = run.error as SagaFailedError;
    expect(err.status).toBe('compensation_failed');
    expect(err.compensations.map((c) => [c.step, c.result, c.attempts])).toEqual([
      ['update_blockchain', 'failed', 4],
      ['save_health_data', 'compensated', 1],
      ['validate_user', 'skipped', 0],
    ]);
    expect(await orch.get(sagaId)).toMatchObject({ status: 'compensation_failed' });
    const dlq = (await orch.deadLetters()).filter((d) => d.sagaId === sagaId);
    expect(dlq).toHaveLength(1);
    expect(dlq[0]).toMatchObject({ saga: 'health-data', step: 'update_blockchain' });
    expect(JSON.parse(dlq[0]!.error).message).toBe('undo update_blockchain failed');
    expect(hook).toEqual([expect.objectContaining({ sagaId, step: 'update_blockchain', deadLetterId: dlq[0]!.id })]);

    // The blockchain is back: retrying the dead letter compensates what is left, and only that.
    s.failUndo.clear();
    s.calls.length = 0;
    await orch.retryDeadLetter(dlq[0]!.id);
    expect(s.calls).toEqual(['undo:update_blockchain']);
    expect(await orch.get(sagaId)).toMatchObject({ status: 'compensated' });
    expect((await orch.deadLetters()).filter((d) => d.sagaId === sagaId)).toEqual([]);
  });

  it('killed between its dead letter and the terminal write: the alert is out and a sweeper still ends the saga', async () => {
    const u = await make();
    const s = services();
    s.failRun.add('trigger_ai_analysis');
    s.failUndo.add('update_blockchain');
    const hook: CompensationFailedEvent[] = [];
    // Orchestrator a "dies" at its terminal write: the store call never reaches the server.
    const dying = new Proxy(u.store, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        // Stores keep #private state: every method runs on the real store.
        if (prop !== 'complete') return value.bind(target);
        return (...args: Parameters<SagaStore['complete']>) =>
          args[2].status === 'compensation_failed'
            ? Promise.reject(new Error('process killed'))
            : (value as SagaStore['complete']).apply(target, args);
      },
    });
    const a = orchestrator(u, { store: dying, onCompensationFailed: (e) => void hook.push(e) });
    const sagaId = uid('dlq-crash');
    const run = track(a.run(healthDataSaga(s), healthInput, { sagaId }));
    const undos = () => s.calls.filter((c) => c === 'undo:update_blockchain').length;
    for (const [delay, tries] of [
      [1_000, 2],
      [2_000, 3],
      [4_000, 4],
    ] as const) {
      await vi.waitFor(() => expect(undos()).toBe(tries - 1));
      await u.clock.advance(delay);
    }
    await vi.waitFor(() => expect(run.done).toBe(true));
    // The dead letter and the alert went out before the write that died…
    expect((await a.deadLetters()).filter((d) => d.sagaId === sagaId)).toHaveLength(1);
    expect(hook.map((e) => e.sagaId)).toEqual([sagaId]);
    // …and the saga is not left terminal-but-unalerted: it is still compensating, so a sweeper picks it up.
    expect(await a.get(sagaId)).toMatchObject({ status: 'compensating' });
    await a.close();
    s.failUndo.clear();
    await u.expireLeases();
    const b = orchestrator(u, { sagas: [healthDataSaga(s)] });
    expect(await b.sweep()).toEqual([sagaId]);
    expect(await b.settled(sagaId)).toMatchObject({ status: 'compensated' });
  });

  it('consultation saga (seed 001): the three agents run in parallel and the saga completes', async () => {
    const u = await make();
    const s = services();
    for (const a of CONSULTATION_AGENTS) s.block.add(a);
    const orch = orchestrator(u);
    const run = track(orch.run(consultationSaga(s), consultationInput));
    // All three started before any finished: they run at once.
    await Promise.all(CONSULTATION_AGENTS.map((a) => s.started(a)));
    for (const a of CONSULTATION_AGENTS) s.release(a);
    await vi.waitFor(() => expect(run.done).toBe(true));
    expect(run.error).toBeUndefined();
    expect(run.value).toMatchObject({
      xiaoai: 'tcm: balanced',
      xiaoke: 'service: booked',
      laoke: 'knowledge: sleep early',
    });
    expect(run.value).toMatchObject({ reportId: 'r-c-u2', notified: true, healthRecordVersion: 2 });
  });

  it('a failing parallel branch cancels its siblings; completed and cancelled (in-doubt) branches are compensated', async () => {
    const u = await make();
    const s = services();
    s.block.add('call_xiaoke');
    s.failRun.add('call_laoke');
    const orch = orchestrator(u);
    const err = await failure(orch.run(consultationSaga(s), consultationInput));
    expect(err.failedStep).toBe('call_laoke');
    expect(s.signals.get('call_xiaoke')?.aborted).toBe(true);
    const undone = s.calls.filter((c) => c.startsWith('undo:'));
    // xiaoke was cancelled mid-call (in doubt: compensated first), xiaoai completed (compensated), laoke
    // failed outright (not); then the record.
    expect(undone).toEqual(['undo:call_xiaoke', 'undo:call_xiaoai', 'undo:create_consultation_record']);
    expect(err.compensations.find((c) => c.step === 'call_xiaoke')).toMatchObject({ inDoubt: true });
    expect(s.calls).not.toContain('run:generate_diagnosis_report');
  });

  it('idempotencyKey: a second run returns the first outcome without running anything', async () => {
    const u = await make();
    const s = services();
    const orch = orchestrator(u);
    const key = uid('order');
    const saga = healthDataSaga(s);
    const first = await orch.run(saga, healthInput, { idempotencyKey: key });
    const second = await orchestrator(u).run(saga, healthInput, { idempotencyKey: key });
    expect(second).toEqual(first);
    expect(s.calls.filter((c) => c === 'run:validate_user')).toHaveLength(1);

    s.failRun.add('update_blockchain');
    const failedKey = uid('order');
    const e1 = await failure(orch.run(saga, healthInput, { idempotencyKey: failedKey }));
    const e2 = await failure(orch.run(saga, healthInput, { idempotencyKey: failedKey }));
    expect(e2).toMatchObject({ sagaId: e1.sagaId, failedStep: 'update_blockchain', status: 'compensated' });
    expect(e2.compensations).toEqual(e1.compensations);
  });

  it('a concurrent second run with the same idempotencyKey waits for the first outcome', async () => {
    const u = await make();
    const s = services();
    s.block.add('update_blockchain');
    const saga = healthDataSaga(s);
    const key = uid('dup');
    const a = track(orchestrator(u).run(saga, healthInput, { idempotencyKey: key }));
    await s.started('update_blockchain');
    const b = track(orchestrator(u, { idempotencyPollMs: 10 }).run(saga, healthInput, { idempotencyKey: key }));
    await u.clock.advance(50);
    expect(b.done).toBe(false);
    s.release('update_blockchain');
    await vi.waitFor(() => expect(a.done).toBe(true));
    await vi.waitFor(async () => {
      await u.clock.advance(10);
      expect(b.done).toBe(true);
    });
    expect(b.value).toEqual(a.value);
  });

  it('a taken sagaId and a context JSON cannot store are typed errors before anything is written', async () => {
    const u = await make();
    const s = services();
    const orch = orchestrator(u);
    const sagaId = uid('dupid');
    await orch.run(healthDataSaga(s), healthInput, { sagaId });
    await expect(orch.run(healthDataSaga(s), healthInput, { sagaId })).rejects.toSatisfy(isSagaExistsError);
    const bad = uid('bad');
    const input = { ...healthInput, at: new Date() } as unknown as typeof healthInput;
    await expect(orch.run(healthDataSaga(s), input, { sagaId: bad })).rejects.toSatisfy(isContextNotSerializableError);
    expect(await orch.get(bad)).toBeUndefined();
  });

  it('an orchestrator abandoned mid-saga: a second orchestrator sweeps it and finishes forward', async () => {
    const u = await make();
    const s = services();
    s.block.add('update_blockchain');
    const saga = healthDataSaga(s);
    const a = orchestrator(u);
    const sagaId = uid('abandon');
    const first = track(a.run(saga, healthInput, { sagaId }));
    await s.started('update_blockchain');
    const b = orchestrator(u, { sagas: [saga] });
    expect(await b.sweep()).toEqual([]); // a's lease is live
    await a.close(); // a dies: nothing more is written for it
    await vi.waitFor(() => expect(first.done).toBe(true));
    s.block.delete('update_blockchain');
    await u.expireLeases();
    expect(await b.sweep()).toEqual([sagaId]);
    const state = await b.settled(sagaId);
    expect(state).toMatchObject({ status: 'completed', executedSteps: HEALTH_STEPS });
    // Steps 1–2 were not re-run; the interrupted one ran again with the same idempotency key.
    expect(s.calls).toEqual([
      'run:validate_user',
      'run:save_health_data',
      'run:update_blockchain',
      'run:update_blockchain',
      'run:trigger_ai_analysis',
    ]);
    expect(s.keys.get('update_blockchain')).toEqual([`${sagaId}:update_blockchain`, `${sagaId}:update_blockchain`]);
  });

  it("recovery 'compensate': the sweeper undoes the abandoned saga's completed steps", async () => {
    const u = await make();
    const s = services();
    s.block.add('update_blockchain');
    const saga = healthDataSaga(s, { recovery: 'compensate', name: 'health-data-c' });
    const a = orchestrator(u);
    const sagaId = uid('abandon-c');
    track(a.run(saga, healthInput, { sagaId }));
    await s.started('update_blockchain');
    await a.close();
    await u.expireLeases();
    const b = orchestrator(u, { sagas: [saga] });
    expect(await b.sweep()).toEqual([sagaId]);
    // update_blockchain was running when a died: in doubt, so it is compensated too (compensateInDoubt).
    expect(await b.settled(sagaId)).toMatchObject({
      status: 'compensated',
      compensatedSteps: ['update_blockchain', 'save_health_data', 'validate_user'],
      compensations: [
        { step: 'update_blockchain', result: 'compensated', attempts: 1, inDoubt: true },
        { step: 'save_health_data', result: 'compensated', attempts: 1 },
        { step: 'validate_user', result: 'skipped', attempts: 0 },
      ],
    });
    expect(s.calls.filter((c) => c.startsWith('undo:'))).toEqual(['undo:update_blockchain', 'undo:save_health_data']);
  });

  it('abandoned while compensating: the sweeper goes on compensating, never forward', async () => {
    const u = await make();
    const s = services();
    s.failRun.add('trigger_ai_analysis');
    s.failUndo.add('update_blockchain');
    const saga = healthDataSaga(s);
    const a = orchestrator(u);
    const sagaId = uid('abandon-comp');
    const first = track(a.run(saga, healthInput, { sagaId }));
    // a is between compensation retries of update_blockchain (waiting 1 s on its clock) when it dies.
    await vi.waitFor(() => expect(s.calls).toContain('undo:update_blockchain'));
    await a.close();
    await vi.waitFor(() => expect(first.done).toBe(true));
    expect(await a.get(sagaId)).toMatchObject({ status: 'compensating', failedStep: 'trigger_ai_analysis' });
    s.failUndo.clear();
    await u.expireLeases();
    const b = orchestrator(u, { sagas: [saga] });
    expect(await b.sweep()).toEqual([sagaId]);
    expect(await b.settled(sagaId)).toMatchObject({
      status: 'compensated',
      compensatedSteps: ['update_blockchain', 'save_health_data', 'validate_user'],
    });
    expect(s.calls.slice(-2)).toEqual(['undo:update_blockchain', 'undo:save_health_data']);
    expect(s.calls.filter((c) => c === 'run:trigger_ai_analysis')).toHaveLength(1);
  });

  it('two sweepers racing for one abandoned saga: exactly one claims it', async () => {
    const u = await make();
    const s = services();
    s.block.add('save_health_data');
    const saga = healthDataSaga(s);
    const a = orchestrator(u);
    const sagaId = uid('race');
    track(a.run(saga, healthInput, { sagaId }));
    await s.started('save_health_data');
    await a.close();
    s.block.clear();
    await u.expireLeases();
    const sweepers = Array.from({ length: 4 }, () => orchestrator(u, { sagas: [saga] }));
    const claims = await Promise.all(sweepers.map((o) => o.sweep()));
    expect(claims.flat().filter((id) => id === sagaId)).toHaveLength(1);
    const winner = sweepers[claims.findIndex((c) => c.includes(sagaId))]!;
    expect(await winner.settled(sagaId)).toMatchObject({ status: 'completed' });
    expect(s.calls.filter((c) => c === 'run:trigger_ai_analysis')).toHaveLength(1);
  });

  it('fencing: once another orchestrator claimed the saga, the old owner cannot write and stops', async () => {
    const u = await make();
    const s = services();
    s.block.add('update_blockchain');
    const saga = healthDataSaga(s);
    // The old owner is alive but its lease lapses (a long GC pause): renewal runs on its own clock, which stands still.
    const a = orchestrator(u, { clock: new FakeClock() });
    const sagaId = uid('fence');
    const first = track(a.run(saga, healthInput, { sagaId }));
    await s.started('update_blockchain');
    await u.expireLeases();
    const b = orchestrator(u, { sagas: [saga] });
    expect(await b.sweep()).toEqual([sagaId]);
    // b re-runs update_blockchain (blocked too); a's step now finishes and a tries to write.
    await s.started('update_blockchain', 2);
    s.release('update_blockchain');
    await vi.waitFor(() => expect(first.done).toBe(true));
    expect(isSagaLeaseLostError(first.error)).toBe(true);
    s.block.clear();
    s.release('update_blockchain');
    expect(await b.settled(sagaId)).toMatchObject({ status: 'completed' });
    expect(s.calls.filter((c) => c === 'run:trigger_ai_analysis')).toHaveLength(1);
  });
});
