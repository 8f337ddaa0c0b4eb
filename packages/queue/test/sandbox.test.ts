/**
 * Sandboxed processors (§7): handlers in worker threads. A CPU-bound handler longer than the lease is not
 * declared stalled (the worker's loop stays free to renew); a crashing handler fails its attempt, not the
 * worker; the job's signal and progress cross the thread boundary.
 */
import { useRedisFixture } from '@ballast/testkit/vitest';
import { afterEach, describe, expect, it } from 'vitest';
import { createQueue, createWorker, type Queue, sandboxed } from '../src/index';

const processor = new URL('./fixtures/sandbox-processor.mjs', import.meta.url);
const fx = useRedisFixture({ name: 'queue-sandbox' });
const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c.close().catch(() => {});
});
let n = 0;

describe('sandboxed processors', () => {
  it('redis: a busy loop 2.5× the lease keeps its lease (renewed from the free event loop), never stalled', async () => {
    const name = `sbx${n++}`;
    const q = createQueue(name, { backend: 'redis', redis: fx.current.redis, prefix: fx.current.prefix });
    // Another process's view: its stalled check recovers any lapsed lease.
    const other = createQueue(name, { backend: 'redis', redis: fx.current.redis, prefix: fx.current.prefix });
    open.push(q, other);
    createWorker(q, processor, { concurrency: 1, lockMs: 600, stalledIntervalMs: 60_000 });
    const { id } = await q.add('cpu', { kind: 'busy', ms: 1_500 }, { attempts: 1 });
    await expect.poll(async () => (await q.getJob(id))?.state).toBe('active');
    let checks = 0;
    while ((await q.getJob(id))?.state === 'active') {
      // Each check runs while the handler spins: this thread is free, so is the worker's renewal timer.
      expect(await other.backend.recoverStalled(Date.now(), 0)).toEqual([]);
      checks++;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(checks).toBeGreaterThanOrEqual(5);
    expect(await q.getJob(id)).toMatchObject({ state: 'completed', result: 'busy done', stalledCount: 0 });
  });

  it('a crashing handler (process.exit, an uncaught error) fails its attempt; the worker runs the next job', async () => {
    const q: Queue = createQueue(`sbx-crash${n++}`);
    open.push(q);
    const dead: string[] = [];
    q.onDead((e) => void dead.push(e.jobId));
    // prefetch 0: a job fetched ahead waits for the blocking wait to end (blockMs) when nothing new arrives.
    createWorker(q, processor, { concurrency: 2, prefetch: 0 });
    const exit = await q.add('x', { kind: 'exit' }, { attempts: 1 });
    const uncaught = await q.add('x', { kind: 'uncaught' }, { attempts: 1 });
    const thrown = await q.add('x', { kind: 'throw' }, { attempts: 1 });
    await expect.poll(() => dead.length, { timeout: 15_000 }).toBe(3);
    for (const { id } of [exit, uncaught]) {
      expect((await q.getJob(id))?.error).toMatchObject({ name: 'SandboxCrashedError', code: 'SANDBOX_CRASHED' });
    }
    // A handler's own error crosses with its name and code.
    expect((await q.getJob(thrown.id))?.error).toMatchObject({
      name: 'UpstreamError',
      code: 'UPSTREAM_NO',
      message: 'upstream said no',
    });
    const ok = await q.add('x', { kind: 'ok' });
    await expect.poll(async () => (await q.getJob(ok.id))?.state, { timeout: 15_000 }).toBe('completed');
    expect((await q.getJob(ok.id))?.result).toEqual({ ok: { kind: 'ok' }, attempt: 1 });
  });

  it('progress and the abort signal cross the boundary; a handler deaf to its signal loses its thread', async () => {
    const q: Queue = createQueue(`sbx-signal${n++}`);
    open.push(q);
    const progress: [string, unknown][] = [];
    const handler = sandboxed(processor, { size: 1, abortGraceMs: 200, onProgress: (id, p) => progress.push([id, p]) });
    open.push(handler);
    createWorker(q, handler, { concurrency: 1 });
    const stepped = await q.add('x', { kind: 'progress' });
    await expect.poll(async () => (await q.getJob(stepped.id))?.state).toBe('completed');
    expect(progress.filter(([id]) => id === stepped.id).map(([, p]) => p)).toEqual([
      { step: 1 },
      { step: 2 },
      { step: 3 },
    ]);
    const listening = await q.add('x', { kind: 'wait-abort' }, { timeoutMs: 300, attempts: 1 });
    await expect.poll(async () => (await q.getJob(listening.id))?.state, { timeout: 10_000 }).toBe('dead');
    // The thread saw the worker's abort, with the JobTimeoutError's code as its reason.
    await expect
      .poll(() => progress.filter(([id]) => id === listening.id).map(([, p]) => p))
      .toEqual(['started', 'aborted:JOB_TIMEOUT']);
    const deaf = await q.add('x', { kind: 'deaf' }, { timeoutMs: 300, attempts: 1 });
    await expect.poll(async () => (await q.getJob(deaf.id))?.state, { timeout: 10_000 }).toBe('dead');
    expect((await q.getJob(deaf.id))?.error).toMatchObject({ code: 'JOB_TIMEOUT', timeout: true });
    // The pool's one thread spun for a minute: it was terminated and replaced, so the next job runs at once.
    const after = await q.add('x', { kind: 'ok' });
    await expect.poll(async () => (await q.getJob(after.id))?.state, { timeout: 10_000 }).toBe('completed');
  });
});
