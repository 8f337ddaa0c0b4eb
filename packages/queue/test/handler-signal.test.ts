/**
 * Every handler gets its attempt's abort signal, whatever its declared arity (issue 19 §2): rest parameters,
 * a default parameter and a wrapper of length 0 used to get a signal that never aborted, so work kept running
 * after its attempt timed out; `@Task` methods reach theirs through `currentJob()`.
 */
import { FakeClock, track } from '@ballast/testkit';
import { afterEach, expect, it } from 'vitest';
import {
  createQueue,
  createWorker,
  currentJob,
  type Handler,
  isJobTimeoutError,
  type Job,
  type Queue,
  registerTasks,
  Task,
} from '../src/index';

const open: { q: Queue; clock: FakeClock }[] = [];
afterEach(async () => {
  for (const { q, clock } of open.splice(0)) {
    // A handler still running (a failing run of these tests) is abandoned at the drain timeout.
    const closing = q.close().catch(() => {});
    await clock.advance(30_000);
    await closing;
  }
});

let n = 0;
function setup() {
  const clock = new FakeClock();
  const q = createQueue(`signal-${n++}`, { clock });
  open.push({ q, clock });
  return { clock, q };
}

/** Resolves with the abort reason of `signal` (never when it does not abort). */
const aborted = (signal: AbortSignal | undefined) =>
  new Promise<unknown>((resolve) => signal?.addEventListener('abort', () => resolve(signal.reason), { once: true }));

/**
 * Runs one job with a 5 s timeout through `handler` (which reports the signal it saw) and checks that signal
 * aborts with the JobTimeoutError when the attempt times out.
 */
async function expectAbortAtTimeout(
  { clock, q }: ReturnType<typeof setup>,
  register: (seen: (signal: AbortSignal | undefined) => void) => void,
  jobName = 'j',
) {
  let signal: AbortSignal | undefined;
  let reason: ReturnType<typeof track<unknown>> | undefined;
  const started = track(
    new Promise<void>((resolve) => {
      register((seen) => {
        signal = seen;
        reason = track(aborted(seen));
        resolve();
      });
    }),
  );
  const failed = track(new Promise((r) => q.onFailed(r)));
  await q.add(jobName, {}, { timeoutMs: 5_000, attempts: 1 });
  await expect.poll(() => started.done).toBe(true);
  expect(signal?.aborted).toBe(false);
  await clock.advance(5_000);
  await expect.poll(() => failed.done).toBe(true);
  // The abort event fires with the timeout, before the attempt's failure is recorded.
  expect(reason?.done).toBe(true);
  expect(isJobTimeoutError(reason?.value)).toBe(true);
}

const worker = (q: Queue, handler: Handler) => createWorker(q, handler, { stalledIntervalMs: 3_600_000 });
const forever = () => new Promise<never>(() => {});

it('a handler with rest parameters gets a signal that aborts on the timeout', async () => {
  const s = setup();
  await expectAbortAtTimeout(s, (seen) => {
    const handler = (...args: unknown[]) => {
      seen(args[1] as AbortSignal);
      return forever();
    };
    expect(handler.length).toBe(0);
    worker(s.q, handler);
  });
});

it('a handler whose signal parameter has a default gets a signal that aborts on the timeout', async () => {
  const s = setup();
  await expectAbortAtTimeout(s, (seen) => {
    const handler = (_job: Job, signal: AbortSignal = new AbortController().signal) => {
      seen(signal);
      return forever();
    };
    expect(handler.length).toBe(1);
    worker(s.q, handler);
  });
});

it('a handler wrapped by a logging helper (length 0) still gets the signal, and currentJob() inside it', async () => {
  const s = setup();
  const logged =
    <A extends unknown[], R>(fn: (...args: A) => R) =>
    (...args: A): R =>
      fn(...args);
  let fromContext: { id: string; signal: AbortSignal } | undefined;
  await expectAbortAtTimeout(s, (seen) => {
    const handler = logged((job: Job, signal: AbortSignal) => {
      seen(signal);
      const ctx = currentJob();
      fromContext = ctx && { id: ctx.job.id, signal: ctx.signal };
      expect(fromContext?.id).toBe(job.id);
      return forever();
    });
    expect(handler.length).toBe(0);
    worker(s.q, handler as Handler);
  });
  expect(fromContext?.signal.aborted).toBe(true);
  expect(currentJob()).toBeUndefined();
});

it('a @Task method reaches its job and timeout signal through currentJob()', async () => {
  const s = setup();
  type Legacy = (target: object, key: string, d: PropertyDescriptor) => PropertyDescriptor;
  let report: ((signal: AbortSignal | undefined) => void) | undefined;
  class Reports {
    async build(_reportId: string): Promise<void> {
      // Past an await, too: the context follows the method's async continuation.
      await Promise.resolve();
      report?.(currentJob()?.signal);
      return forever();
    }
  }
  const d = Object.getOwnPropertyDescriptor(Reports.prototype, 'build')!;
  Object.defineProperty(
    Reports.prototype,
    'build',
    (Task({ queue: s.q, timeoutMs: 5_000, attempts: 1 }) as unknown as Legacy)(Reports.prototype, 'build', d),
  );
  await expectAbortAtTimeout(
    s,
    (seen) => {
      report = seen;
      registerTasks(createWorker(s.q, {}, { stalledIntervalMs: 3_600_000 }), new Reports());
    },
    'Reports.build',
  );
});
