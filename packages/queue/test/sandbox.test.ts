/**
 * Sandboxed processors (§7): handlers in worker threads or child processes — the same behaviours for both. A
 * CPU-bound handler longer than the lease is not declared stalled (the worker's loop stays free to renew); a
 * crashing handler fails its attempt, not the worker; the job's signal and progress cross the boundary; an idle
 * pool does not keep the process alive, and `close()` ends what it started.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { useRedisFixture } from '@ballast/testkit/vitest';
import { afterEach, describe, expect, it } from 'vitest';
import { createQueue, createWorker, type Queue, type SandboxKind, sandboxed } from '../src/index';

const processor = new URL('./fixtures/sandbox-processor.mjs', import.meta.url);
const idleExit = fileURLToPath(new URL('./fixtures/sandbox-idle-exit.mjs', import.meta.url));
const fx = useRedisFixture({ name: 'queue-sandbox' });
const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c.close().catch(() => {});
});
let n = 0;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe.each<SandboxKind>(['thread', 'process'])('sandboxed processors (%s)', (sandbox) => {
  it('redis: a busy loop 2.5× the lease keeps its lease (renewed from the free event loop), never stalled', async () => {
    const name = `sbx-${sandbox}${n++}`;
    const q = createQueue(name, { backend: 'redis', redis: fx.current.redis, prefix: fx.current.prefix });
    // Another process's view: its stalled check recovers any lapsed lease.
    const other = createQueue(name, { backend: 'redis', redis: fx.current.redis, prefix: fx.current.prefix });
    open.push(q, other);
    createWorker(q, processor, { concurrency: 1, lockMs: 600, stalledIntervalMs: 60_000, sandbox });
    const { id } = await q.add('cpu', { kind: 'busy', ms: 1_500 }, { attempts: 1 });
    await expect.poll(async () => (await q.getJob(id))?.state, { timeout: 10_000 }).toBe('active');
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
    const q: Queue = createQueue(`sbx-crash-${sandbox}${n++}`);
    open.push(q);
    const dead: string[] = [];
    q.onDead((e) => void dead.push(e.jobId));
    // prefetch 0: a job fetched ahead waits for the blocking wait to end (blockMs) when nothing new arrives.
    createWorker(q, processor, { concurrency: 2, prefetch: 0, sandbox });
    const exit = await q.add('x', { kind: 'exit' }, { attempts: 1 });
    const uncaught = await q.add('x', { kind: 'uncaught' }, { attempts: 1 });
    const thrown = await q.add('x', { kind: 'throw' }, { attempts: 1 });
    await expect.poll(() => dead.length, { timeout: 15_000 }).toBe(3);
    for (const { id } of [exit, uncaught]) {
      expect((await q.getJob(id))?.error).toMatchObject({
        name: 'SandboxCrashedError',
        code: 'SANDBOX_CRASHED',
        message: expect.stringContaining(`crashed its ${sandbox}`),
      });
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

  it('progress and the abort signal cross the boundary; a handler deaf to its signal loses its sandbox', async () => {
    const q: Queue = createQueue(`sbx-signal-${sandbox}${n++}`);
    open.push(q);
    const progress: [string, unknown][] = [];
    const handler = sandboxed(processor, {
      size: 1,
      kind: sandbox,
      abortGraceMs: 200,
      onProgress: (id, p) => progress.push([id, p]),
    });
    open.push(handler);
    createWorker(q, handler, { concurrency: 1 });
    const stepped = await q.add('x', { kind: 'progress' });
    await expect.poll(async () => (await q.getJob(stepped.id))?.state, { timeout: 10_000 }).toBe('completed');
    expect(progress.filter(([id]) => id === stepped.id).map(([, p]) => p)).toEqual([
      { step: 1 },
      { step: 2 },
      { step: 3 },
    ]);
    const listening = await q.add('x', { kind: 'wait-abort' }, { timeoutMs: 300, attempts: 1 });
    await expect.poll(async () => (await q.getJob(listening.id))?.state, { timeout: 10_000 }).toBe('dead');
    // The sandbox saw the worker's abort, with the JobTimeoutError's code as its reason.
    await expect
      .poll(() => progress.filter(([id]) => id === listening.id).map(([, p]) => p))
      .toEqual(['started', 'aborted:JOB_TIMEOUT']);
    const deaf = await q.add('x', { kind: 'deaf' }, { timeoutMs: 300, attempts: 1 });
    await expect.poll(async () => (await q.getJob(deaf.id))?.state, { timeout: 10_000 }).toBe('dead');
    expect((await q.getJob(deaf.id))?.error).toMatchObject({ code: 'JOB_TIMEOUT', timeout: true });
    // The pool's one thread/process spun for a minute: it was killed and replaced, so the next job runs at once.
    const after = await q.add('x', { kind: 'ok' });
    await expect.poll(async () => (await q.getJob(after.id))?.state, { timeout: 10_000 }).toBe('completed');
  });

  it('an idle pool does not keep the process alive (a process that never closes it still exits)', async () => {
    const child = spawn(process.execPath, [idleExit, sandbox], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const [code, signal] = await once(child, 'exit');
    clearTimeout(timer);
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    const where = JSON.parse(out) as { pid: number; threadId: number }[];
    // One job per thread/child at a time: two jobs started together ran in two of them, not the main thread.
    expect(new Set(where.map((w) => `${w.pid}:${w.threadId}`)).size).toBe(2);
    const pids = where.map((w) => w.pid);
    if (sandbox === 'process') {
      expect(pids).not.toContain(child.pid);
      // The children left with their parent.
      await expect.poll(() => pids.filter(alive), { timeout: 5_000 }).toEqual([]);
    } else {
      expect(pids).toEqual([child.pid, child.pid]);
      expect(where.map((w) => w.threadId)).not.toContain(0);
    }
  });
});

describe('sandboxed processors (process only)', () => {
  it('a child killed from outside (SIGKILL) fails its attempt and is replaced; close() kills the children', async () => {
    const q: Queue = createQueue(`sbx-kill${n++}`);
    open.push(q);
    const progress: unknown[] = [];
    const handler = sandboxed(processor, { size: 1, kind: 'process', onProgress: (_, p) => progress.push(p) });
    open.push(handler);
    createWorker(q, handler, { concurrency: 1 });
    const hang = await q.add('x', { kind: 'hang' }, { attempts: 1 });
    await expect.poll(() => progress.length, { timeout: 10_000 }).toBe(1);
    const pid = Number(String(progress[0]).slice('pid:'.length));
    expect(pid).not.toBe(process.pid);
    process.kill(pid, 'SIGKILL');
    await expect.poll(async () => (await q.getJob(hang.id))?.state, { timeout: 10_000 }).toBe('dead');
    expect((await q.getJob(hang.id))?.error).toMatchObject({
      name: 'SandboxCrashedError',
      code: 'SANDBOX_CRASHED',
      message: `Sandboxed handler of job "${hang.id}" crashed its process: process killed by SIGKILL`,
    });
    const next = await q.add('x', { kind: 'pid' });
    await expect.poll(async () => (await q.getJob(next.id))?.state, { timeout: 10_000 }).toBe('completed');
    const replacement = (await q.getJob(next.id))?.result as number;
    expect(replacement).not.toBe(pid);
    expect(alive(replacement)).toBe(true);
    await handler.close();
    expect(alive(replacement)).toBe(false);
  });

  it('a module with a `process` named export (CJS) runs in a child process', async () => {
    const handler = sandboxed(new URL('./fixtures/sandbox-processor.cjs', import.meta.url), {
      size: 1,
      kind: 'process',
    });
    open.push(handler);
    const job = { id: 'c1', name: 'x', data: 21, priority: 0, attempt: 1, maxAttempts: 1, createdAt: 0 };
    const result = await handler(job as never, new AbortController().signal);
    expect(result).toEqual({ doubled: 42, pid: expect.any(Number), map: new Map([['a', 1]]) });
    expect((result as { pid: number }).pid).not.toBe(process.pid);
  });
});
