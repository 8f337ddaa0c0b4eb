/**
 * Saga v2 (issue 21), on every store: in-doubt steps (§1), the DLQ that never loses an entry (§2), fair
 * recovery (§3), definition versions (§4), cancel / deadlines / list / idempotency fingerprints (§5), events
 * written with the state (§6).
 * Orchestrator timers run on the FakeClock; steps that "ignore their signal" sleep on it too.
 */
import { sleep } from '@ballast/core';
import { track } from '@ballast/testkit';
import { defineContract } from '@ballast/testkit/vitest';
import { expect, it, vi } from 'vitest';
import {
  defineSaga,
  isIdempotencyConflictError,
  isSagaReplayTimeoutError,
  parallel,
  type SagaStore,
  type StepDefinition,
} from '../src/index';
import { HEALTH_STEPS, healthDataSaga, healthInput, services } from './fixtures/sagas';
import { failure, orchestrator, type SagaBackendUnderTest, uid } from './orchestrator.contract';

/** The store, with the `failAt`-th call (0-based) after `arm()` rejecting: a blip mid-operation. */
function blipping(store: SagaStore) {
  let calls = -1;
  let failAt = -1;
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (calls >= 0 && calls++ === failAt) return Promise.reject(new Error(`store blip at ${String(prop)}`));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return {
    store: proxy,
    arm(n: number) {
      calls = 0;
      failAt = n;
    },
  };
}

type Ctx = Record<string, unknown>;

/** A bus that records what reaches it; `down` rejects every publish, `frozen` never settles one (a dead process). */
function recordingBus() {
  const got: { type: string; payload: { sagaId: string; step?: string } }[] = [];
  const bus = {
    got,
    down: false,
    frozen: false,
    publish(type: string, payload: { sagaId: string; step?: string }) {
      if (bus.frozen) return new Promise(() => {});
      if (bus.down) return Promise.reject(new Error('bus down'));
      got.push({ type, payload });
      return Promise.resolve('id');
    },
    of: (sagaId: string) =>
      got
        .filter((e) => e.payload.sagaId === sagaId)
        .map((e) => (e.payload.step ? `${e.type}:${e.payload.step}` : e.type)),
  };
  return bus;
}

const HAPPY_EVENTS = ['saga.started', ...HEALTH_STEPS.map((step) => `step.completed:${step}`), 'saga.completed'];

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

  it.each([0, 1, 2, 3, 4])(
    '§2 the store failing at call %i of a DLQ retry never loses the saga: the entry stays or a sweeper finishes it',
    async (failAt) => {
      const u = await make();
      const s = services();
      s.failRun.add('trigger_ai_analysis');
      s.failUndo.add('update_blockchain');
      const saga = healthDataSaga(s);
      const a = orchestrator(u, { compensationMaxRetries: 0 });
      const sagaId = uid('dlq-blip');
      const err = await failure(a.run(saga, healthInput, { sagaId }));
      expect(err.status).toBe('compensation_failed');
      const [entry] = (await a.deadLetters(10_000)).filter((d) => d.sagaId === sagaId);
      expect(entry).toBeDefined();

      s.failUndo.clear();
      const blip = blipping(u.store);
      const c = orchestrator(u, { store: blip.store, sagas: [saga] });
      blip.arm(failAt);
      const retried = await c.retryDeadLetter(entry!.id).then(
        () => 'ok',
        (e: unknown) => e,
      );
      blip.arm(-1);
      await c.close();
      if (retried !== 'ok') {
        // The invariant: the dead letter is still there to retry, or the saga is claimable by a sweeper.
        const left = (await a.deadLetters(10_000)).filter((d) => d.sagaId === sagaId);
        if (left.length > 0) {
          await orchestrator(u, { sagas: [saga] }).retryDeadLetter(left[0]!.id);
        } else if ((await a.get(sagaId))?.status !== 'compensated') {
          await u.expireLeases();
          const b = orchestrator(u, { sagas: [saga] });
          expect(await b.sweep()).toEqual([sagaId]);
          await b.settled(sagaId);
        }
      }
      expect(await a.get(sagaId)).toMatchObject({ status: 'compensated' });
      expect((await a.deadLetters(10_000)).filter((d) => d.sagaId === sagaId)).toEqual([]);
    },
  );

  it('§2 dead letters page with a cursor: every entry once, oldest first per saga', async () => {
    const u = await make();
    const sagaIds = Array.from({ length: 5 }, () => uid('page'));
    const added: string[] = [];
    for (const [i, sagaId] of sagaIds.entries()) {
      for (const step of ['x', 'y']) {
        added.push(await u.store.addDeadLetter({ sagaId, saga: 'p', step, error: '{}', context: '{}', at: i }));
      }
    }
    const orch = orchestrator(u);
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await orch.deadLetters({ count: 3, ...(after ? { after } : {}) });
      if (page.length === 0) break;
      expect(page.length).toBeLessThanOrEqual(3);
      seen.push(...page.map((d) => d.id));
      after = page[page.length - 1]!.id;
    }
    expect(new Set(seen).size).toBe(seen.length);
    const mine = seen.filter((id) => added.includes(id));
    expect([...mine].sort()).toEqual([...added].sort());
    for (const sagaId of sagaIds) {
      const own = added.filter((_, i) => sagaIds[Math.floor(i / 2)] === sagaId);
      expect(mine.filter((id) => own.includes(id))).toEqual(own);
    }
  });

  it('§3 fair recovery: 40 expired sagas of a name this sweeper does not know never stand ahead of its own', async () => {
    const u = await make();
    // Every id carries one hash tag: on Redis all 41 sagas share a partition, the foreign ones expiring first.
    const tag = `{${uid('fair')}}`;
    for (let i = 0; i < 40; i++) {
      await u.store.create(
        { id: `${tag}-foreign-${i}`, saga: 'other-service-saga', owner: 'dead', context: '{}' },
        u.leaseMs,
      );
    }
    const mine = defineSaga<Ctx>(uid('mine'), { steps: [{ name: 'only', run: () => ({ resumed: true }) }] });
    const ownId = `${tag}-own`;
    await u.store.create({ id: ownId, saga: mine.name, owner: 'dead', context: '{}' }, u.leaseMs);
    await u.expireLeases();
    const sweeper = orchestrator(u, { sagas: [mine], sweepBatch: 1 });
    expect(await sweeper.sweep()).toEqual([ownId]);
    expect(await sweeper.settled(ownId)).toMatchObject({ status: 'completed', context: { resumed: true } });
    // The foreign sagas were left alone.
    expect(await sweeper.get(`${tag}-foreign-0`)).toMatchObject({ status: 'running', owner: 'dead' });
  });

  /** v1: book → pay → ship; each run/undo logged. `steps` renames/adds/removes for later versions. */
  function versioned(log: string[], name: string, version: number, steps: string[], block?: string) {
    return defineSaga<Ctx>(
      { name, version },
      {
        recovery: 'compensate',
        steps: steps.map((n) => ({
          name: n,
          retry: false as const,
          async run(_c: Readonly<Ctx>, info: { signal: AbortSignal }) {
            log.push(`v${version}:run:${n}`);
            if (n === block) {
              await new Promise((_, reject) => info.signal.addEventListener('abort', () => reject(info.signal.reason)));
            }
          },
          compensate: () => void log.push(`v${version}:undo:${n}`),
        })),
      },
    );
  }

  /** Starts `v1` with a dead orchestrator mid `block`, lets its lease lapse. */
  async function abandonedOn(u: SagaBackendUnderTest, v1: ReturnType<typeof versioned>, log: string[], block: string) {
    const a = orchestrator(u);
    const sagaId = uid('ver');
    track(a.run(v1, {}, { sagaId }));
    await vi.waitFor(() => expect(log).toContain(`v1:run:${block}`));
    await a.close();
    await u.expireLeases();
    return sagaId;
  }

  it('§4 a step renamed in v2: recovery of a v1 saga runs v1 (registered side by side) and compensates the old name', async () => {
    const u = await make();
    const log: string[] = [];
    const name = uid('rename');
    const v1 = versioned(log, name, 1, ['book', 'pay', 'ship'], 'ship');
    const v2 = versioned(log, name, 2, ['reserve', 'pay', 'ship'], 'ship');
    const sagaId = await abandonedOn(u, v1, log, 'ship');
    const b = orchestrator(u, { sagas: [v1, v2] });
    expect(await b.sweep()).toEqual([sagaId]);
    expect(await b.settled(sagaId)).toMatchObject({ status: 'compensated', definitionVersion: 1 });
    expect(log.filter((l) => l.includes(':undo:'))).toEqual(['v1:undo:ship', 'v1:undo:pay', 'v1:undo:book']);
  });

  it('§4 a step added in v2: a v1 saga resumes forward on v1 steps, not at v2 positions', async () => {
    const u = await make();
    const log: string[] = [];
    const name = uid('added');
    const v1 = defineSaga<Ctx>(
      { name, version: 1 },
      {
        steps: ['book', 'pay', 'ship'].map((n) => ({ name: n, run: () => void log.push(`v1:run:${n}`) })),
      },
    );
    const v2 = defineSaga<Ctx>(
      { name, version: 2 },
      {
        steps: ['audit', 'book', 'pay', 'ship'].map((n) => ({ name: n, run: () => void log.push(`v2:run:${n}`) })),
      },
    );
    // A v1 saga whose owner died after `book` (stored: executed [book], current unit 1).
    const sagaId = uid('added-id');
    const created = await u.store.create(
      { id: sagaId, saga: name, definitionVersion: 1, owner: 'dead', context: '{}' },
      u.leaseMs,
    );
    expect(created.created).toBe(true);
    const version = created.created ? created.version : 0;
    await u.store.advance(sagaId, { owner: 'dead', version }, { executedSteps: ['book'], currentStep: 1 }, u.leaseMs);
    await u.expireLeases();
    const b = orchestrator(u, { sagas: [v1, v2] });
    expect(await b.sweep()).toEqual([sagaId]);
    expect(await b.settled(sagaId)).toMatchObject({ status: 'completed', executedSteps: ['book', 'pay', 'ship'] });
    expect(log).toEqual(['v1:run:pay', 'v1:run:ship']);
  });

  it('§4 a step removed in v2, v1 not registered: dead-lettered as unknown_definition_version, nothing skipped', async () => {
    const u = await make();
    const log: string[] = [];
    const name = uid('removed');
    const v1 = versioned(log, name, 1, ['book', 'pay', 'ship'], 'ship');
    const v2 = versioned(log, name, 2, ['pay', 'ship'], 'ship');
    const sagaId = await abandonedOn(u, v1, log, 'ship');
    const b = orchestrator(u, { sagas: [v2] });
    expect(await b.sweep()).toEqual([sagaId]);
    expect(await b.settled(sagaId)).toMatchObject({ status: 'compensation_failed', definitionVersion: 1 });
    expect(log.filter((l) => l.includes(':undo:'))).toEqual([]);
    const [entry] = (await b.deadLetters(10_000)).filter((d) => d.sagaId === sagaId);
    expect(entry).toMatchObject({ reason: 'unknown_definition_version', saga: name });
    // v1 deployed again: the dead letter's retry compensates on v1, book included.
    const c = orchestrator(u, { sagas: [v1, v2] });
    expect(await c.retryDeadLetter(entry!.id)).toMatchObject({ status: 'compensated' });
    expect(log.filter((l) => l.includes(':undo:'))).toEqual(['v1:undo:ship', 'v1:undo:pay', 'v1:undo:book']);
  });

  it('§5 idempotency keys fingerprint the input: same key, different input is IdempotencyConflictError', async () => {
    const u = await make();
    const s = services();
    const saga = healthDataSaga(s);
    const key = uid('fp');
    const orch = orchestrator(u);
    const first = await orch.run(saga, healthInput, { idempotencyKey: key });
    // Same input, keys in another order: the same request.
    const reordered = { data: healthInput.data, userId: healthInput.userId };
    expect(await orchestrator(u).run(saga, reordered, { idempotencyKey: key })).toEqual(first);
    const conflict = await orchestrator(u)
      .run(saga, { ...healthInput, userId: 'other' }, { idempotencyKey: key })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(isIdempotencyConflictError(conflict)).toBe(true);
    expect(s.calls.filter((c) => c === 'run:validate_user')).toHaveLength(1);
  });

  it('§5 a replay whose first run nobody sweeps waits at most replayWaitMs, then SagaReplayTimeoutError', async () => {
    const u = await make();
    const s = services();
    s.block.add('update_blockchain');
    const saga = healthDataSaga(s);
    const key = uid('stuck');
    const a = orchestrator(u);
    track(a.run(saga, healthInput, { idempotencyKey: key }));
    await s.started('update_blockchain');
    await a.close(); // the first run's orchestrator is gone; no sweeper runs
    const startedAt = u.clock.now();
    const replay = track(
      orchestrator(u, { replayWaitMs: 1_000, idempotencyPollMs: 100 }).run(saga, healthInput, { idempotencyKey: key }),
    );
    await vi.waitFor(async () => {
      await u.clock.advance(100);
      expect(replay.done).toBe(true);
    });
    expect(isSagaReplayTimeoutError(replay.error)).toBe(true);
    expect(u.clock.now() - startedAt).toBeLessThanOrEqual(1_200);
  });

  it.each(['signal', 'deadlineMs', 'cancel'] as const)(
    '§5 cancelled by %s: the running step is aborted and, with the completed ones, compensated',
    async (how) => {
      const u = await make();
      const s = services();
      s.block.add('update_blockchain');
      const orch = orchestrator(u);
      const sagaId = uid(`cancel-${how}`);
      const ac = new AbortController();
      const run = track(
        orch.run(healthDataSaga(s), healthInput, {
          sagaId,
          ...(how === 'signal' ? { signal: ac.signal } : {}),
          ...(how === 'deadlineMs' ? { deadlineMs: 5_000 } : {}),
        }),
      );
      await s.started('update_blockchain');
      if (how === 'signal') ac.abort('user gave up');
      if (how === 'deadlineMs') await u.clock.advance(5_000);
      if (how === 'cancel') expect(await orch.cancel(sagaId, 'operator')).toBe(true);
      await vi.waitFor(() => expect(run.done).toBe(true));
      const err = await failure(Promise.reject(run.error));
      expect(err).toMatchObject({ status: 'compensated', failedStep: 'update_blockchain' });
      expect(err.error.code).toBe('SAGA_CANCELLED');
      expect(err.compensations.map((c) => [c.step, c.result, c.inDoubt ?? false])).toEqual([
        ['update_blockchain', 'compensated', true],
        ['save_health_data', 'compensated', false],
        ['validate_user', 'skipped', false],
      ]);
      expect(s.calls).not.toContain('run:trigger_ai_analysis');
      expect(await orch.cancel(sagaId)).toBe(false);
    },
  );

  it('§5 list finds in-flight sagas by status, name and age, paging with a cursor', async () => {
    const u = await make();
    const s = services();
    s.failRun.add('trigger_ai_analysis');
    s.failUndo.add('update_blockchain');
    const saga = healthDataSaga(s, { name: uid('listed') });
    const orch = orchestrator(u);
    const ids = [uid('l'), uid('l'), uid('l')];
    // Three sagas stuck compensating (update_blockchain's undo fails and waits 1 s on the FakeClock to retry).
    for (const sagaId of ids) track(orch.run(saga, healthInput, { sagaId }));
    await vi.waitFor(() => expect(s.calls.filter((c) => c === 'undo:update_blockchain')).toHaveLength(3));
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await orch.list({
        status: 'compensating',
        name: saga.name,
        limit: 2,
        ...(cursor ? { cursor } : {}),
      });
      expect(page.sagas.length).toBeLessThanOrEqual(2);
      expect(page.sagas.every((r) => r.status === 'compensating' && r.saga === saga.name)).toBe(true);
      seen.push(...page.sagas.map((r) => r.id));
      cursor = page.cursor;
    } while (cursor);
    expect(seen.sort()).toEqual([...ids].sort());
    expect((await orch.list({ status: 'running', name: saga.name })).sagas).toEqual([]);
    expect((await orch.list({ name: saga.name, olderThanMs: 3_600_000 })).sagas).toEqual([]);
    expect((await orch.list()).sagas.map((r) => r.id).sort()).toEqual([...ids].sort());
  });

  it('§5 cancel from another process: the owner sees it at its next renewal; an abandoned one is compensated on recovery', async () => {
    const u = await make();
    const s = services();
    s.block.add('update_blockchain');
    // Its own name: sagas other tests left abandoned under the shared prefix are not this sweeper's.
    const saga = healthDataSaga(s, { name: uid('xcancel-saga') });
    const a = orchestrator(u);
    const other = orchestrator(u);
    const live = uid('xcancel');
    const run = track(a.run(saga, healthInput, { sagaId: live }));
    await s.started('update_blockchain');
    expect(await other.cancel(live, 'from elsewhere')).toBe(true);
    await u.clock.advance(Math.ceil(u.leaseMs / 3)); // a's renewal reads the flag
    await vi.waitFor(() => expect(run.done).toBe(true));
    const err = await failure(Promise.reject(run.error));
    expect(err).toMatchObject({ status: 'compensated', failedStep: 'update_blockchain' });
    expect(err.error.code).toBe('SAGA_CANCELLED');

    // Its orchestrator died before it could see the flag: the sweeper compensates instead of going forward.
    s.calls.length = 0;
    const dead = uid('xcancel-dead');
    const b = orchestrator(u);
    track(b.run(saga, healthInput, { sagaId: dead }));
    await s.started('update_blockchain');
    await b.close();
    expect(await other.cancel(dead)).toBe(true);
    await u.expireLeases();
    const sweeper = orchestrator(u, { sagas: [saga] });
    expect(await sweeper.sweep()).toEqual([dead]);
    expect(await sweeper.settled(dead)).toMatchObject({ status: 'compensated', error: { code: 'SAGA_CANCELLED' } });
    expect(s.calls).not.toContain('run:trigger_ai_analysis');
    expect(await other.cancel(dead)).toBe(false);
  });

  it('§6 a bus that refuses every publish loses no event: they wait in the outbox and go out in order once it is back', async () => {
    const u = await make();
    const s = services();
    const bus = recordingBus();
    bus.down = true;
    const orch = orchestrator(u, { bus });
    const happy = uid('ev-happy');
    await orch.run(healthDataSaga(s), healthInput, { sagaId: happy });
    s.failRun.add('trigger_ai_analysis');
    const failed = uid('ev-failed');
    await failure(orch.run(healthDataSaga(s), healthInput, { sagaId: failed }));
    expect(bus.got).toEqual([]);
    bus.down = false;
    await orch.relayEvents();
    expect(bus.of(happy)).toEqual(HAPPY_EVENTS);
    expect(bus.of(failed)).toEqual([
      'saga.started',
      ...HEALTH_STEPS.slice(0, 3).map((step) => `step.completed:${step}`),
      'saga.compensated',
    ]);
    await orch.relayEvents(); // relayed once: the outbox is empty now
    expect(bus.of(happy)).toHaveLength(HAPPY_EVENTS.length);
  });

  it('§6 an orchestrator that dies between its state writes and its publishes loses no event: another relays them', async () => {
    const u = await make();
    const s = services();
    const dying = recordingBus();
    dying.frozen = true; // every publish hangs: the process is gone right after each state write
    const a = orchestrator(u, { bus: dying });
    const sagaId = uid('ev-killed');
    void a.run(healthDataSaga(s), healthInput, { sagaId }).catch(() => {});
    await vi.waitFor(async () => expect((await a.get(sagaId))?.status).toBe('completed'));
    await a.close();
    expect(dying.got).toEqual([]);
    const live = recordingBus();
    const b = orchestrator(u, { bus: live });
    await b.relayEvents();
    expect(live.of(sagaId)).toEqual(HAPPY_EVENTS);
  });

  it("§6 each orchestrator relays its own events to its bus; a sweep relays a dead one's once they are a lease old", async () => {
    const u = await make();
    const s = services();
    const [busA, busB, busC] = [recordingBus(), recordingBus(), recordingBus()];
    const a = orchestrator(u, { bus: busA });
    const b = orchestrator(u, { bus: busB });
    const [ofA, ofB] = [uid('ev-a'), uid('ev-b')];
    busA.down = true; // a's events wait in the outbox: b's relay leaves them to a
    await a.run(healthDataSaga(s), healthInput, { sagaId: ofA });
    await b.run(healthDataSaga(s), healthInput, { sagaId: ofB });
    await vi.waitFor(() => expect(busB.of(ofB)).toEqual(HAPPY_EVENTS));
    busA.down = false;
    await a.relayEvents();
    expect([busA.of(ofA), busA.of(ofB), busB.of(ofA)]).toEqual([HAPPY_EVENTS, [], []]);

    const dying = recordingBus();
    dying.frozen = true;
    const d = orchestrator(u, { bus: dying });
    const dead = uid('ev-dead');
    void d.run(healthDataSaga(s), healthInput, { sagaId: dead }).catch(() => {});
    await vi.waitFor(async () => expect((await d.get(dead))?.status).toBe('completed'));
    await d.close();
    await u.expireLeases();
    const c = orchestrator(u, { bus: busC });
    await c.sweep();
    await vi.waitFor(() => expect(busC.of(dead)).toEqual(HAPPY_EVENTS));
  });

  it('§6 an event the bus will never accept is dropped (logged), not a block on every later one', async () => {
    const u = await make();
    const s = services();
    const bus = recordingBus();
    const strict = {
      publish: (type: string, payload: { sagaId: string; step?: string }) =>
        type === 'saga.started'
          ? Promise.reject(Object.assign(new Error('unknown event type'), { code: 'UNKNOWN_EVENT_TYPE' }))
          : bus.publish(type, payload),
    };
    const orch = orchestrator(u, { bus: strict });
    const sagaId = uid('ev-poison');
    await orch.run(healthDataSaga(s), healthInput, { sagaId });
    await orch.relayEvents();
    expect(bus.of(sagaId)).toEqual(HAPPY_EVENTS.slice(1));
  });

  it("§6 the outbox reads past other writers' entries (paging) and filters by age on the store's clock", async () => {
    const u = await make();
    const tag = `{${uid('ob')}}`; // one partition for both sagas on Redis
    const many = Array.from({ length: 130 }, (_, i) => ({
      type: 'step.completed',
      payload: { sagaId: 'x', step: `s${i}` },
    }));
    await u.store.create({ id: `${tag}-other`, saga: 'ob', owner: 'other', context: '{}' }, u.leaseMs, many);
    await u.store.create({ id: `${tag}-mine`, saga: 'ob', owner: 'me', context: '{}' }, u.leaseMs, [
      { type: 'saga.started', payload: { sagaId: `${tag}-mine`, saga: 'ob' } },
    ]);
    const mine = await u.store.readOutbox!({ limit: 10, of: `${tag}-mine`, by: 'me' });
    expect(mine.map((e) => [e.type, e.by, JSON.parse(e.payload).sagaId])).toEqual([
      ['saga.started', 'me', `${tag}-mine`],
    ]);
    expect(await u.store.readOutbox!({ limit: 10, of: `${tag}-mine`, minAgeMs: 3_600_000 })).toEqual([]);
    const all = await u.store.readOutbox!({ limit: 1_000, of: `${tag}-mine` });
    expect(all.filter((e) => e.by === 'other')).toHaveLength(130);
    await u.store.ackOutbox!(all.map((e) => e.id));
    expect(await u.store.readOutbox!({ limit: 10, of: `${tag}-mine`, by: 'me' })).toEqual([]);
  });

  it('§6 a publish that never settles does not stall the relay: past a lease it gives up, and the next relay delivers', async () => {
    const u = await make();
    const s = services();
    const bus = recordingBus();
    bus.frozen = true;
    const orch = orchestrator(u, { bus });
    const sagaId = uid('ev-hung');
    await orch.run(healthDataSaga(s), healthInput, { sagaId });
    bus.frozen = false;
    await u.clock.advance(u.leaseMs); // the hung publish is given up
    await orch.relayEvents();
    expect(bus.of(sagaId)).toEqual(HAPPY_EVENTS);
  });
});
