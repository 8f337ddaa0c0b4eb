// Redis stopped and restarted under a saga orchestrator: run() fails typed within commandTimeoutMs, the
// sweeper logs the outage once, close() is bounded, sagas run again after the restart. Timings are printed.
import { isBackendUnavailableError } from '@ballast/core';
import { captureLogs } from '@ballast/testkit';
import { useRedisServer } from '@ballast/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { createOrchestrator, defineSaga, RedisSagaStore } from '../src/index';

// A private redis-server (AOF: its data survives restart) and a client with ioredis's defaults (~10 s before
// it gives up on a command): the bounds asserted below are Ballast's, not the client's.
const fx = useRedisServer();

const since = (t: number) => Math.round(performance.now() - t);

describe('saga with Redis down', () => {
  it('fails typed and bounded, logs the sweeper outage once, closes bounded, recovers', async () => {
    const { server, redis } = fx;
    const logs = captureLogs();
    const store = new RedisSagaStore({ redis, prefix: 'outage', commandTimeoutMs: 500 });
    const orchestrator = createOrchestrator({ store, logger: logs.logger, sweepIntervalMs: 0 });
    let entered: (() => void) | undefined;
    let gate: Promise<void> | undefined;
    const order = defineSaga<{ n: number }>('order', {
      steps: [
        {
          name: 'reserve',
          run: async () => {
            entered?.();
            await gate;
          },
        },
      ],
    });
    await orchestrator.run(order, { n: 1 });

    await server.kill();
    let t = performance.now();
    const error = await orchestrator.run(order, { n: 2 }).catch((e: unknown) => e);
    const runTook = since(t);
    expect(isBackendUnavailableError(error)).toBe(true);
    expect(runTook).toBeLessThan(1_500);

    for (let i = 0; i < 3; i++) expect(await orchestrator.sweep()).toEqual([]);
    const sweepWarns = logs.atLeast(40).filter((l) => String(l.msg).startsWith('saga recovery sweep failed'));
    expect(sweepWarns).toHaveLength(1);
    expect(logs.atLeast(50)).toEqual([]);

    t = performance.now();
    await server.restart();
    while (
      !(await orchestrator.run(order, { n: 3 }).then(
        () => true,
        () => false,
      ))
    );
    const recoverTook = since(t);
    await orchestrator.sweep();
    expect(logs.lines.some((l) => l.msg === 'saga recovery sweep works again')).toBe(true);

    // A saga in flight when Redis goes away: close() stops driving it within the command timeout.
    const running = new Promise<void>((r) => (entered = r));
    let open!: () => void;
    gate = new Promise<void>((r) => (open = r));
    const inFlight = orchestrator.run(order, { n: 4 }).catch((e: unknown) => e);
    await running;
    await server.kill();
    open();
    t = performance.now();
    await orchestrator.close();
    const closeTook = since(t);
    expect(closeTook).toBeLessThan(1_500);
    await inFlight;
    await server.restart();
    console.info(
      `[saga outage] run → typed error in ${runTook} ms (commandTimeoutMs 500); close() after outage ${closeTook} ms; ` +
        `running again ${recoverTook} ms after restart`,
    );
  });
});
