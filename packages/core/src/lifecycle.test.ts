import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { getShutdownRegistry, handleSignals, ShutdownRegistry, setShutdownRegistry } from './lifecycle';
import { createLogger } from './logger';

describe('ShutdownRegistry', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('closes in reverse start order, awaiting each', async () => {
    const order: string[] = [];
    const reg = new ShutdownRegistry();
    reg.register('redis', async () => {
      await new Promise((r) => setTimeout(r, 10));
      order.push('redis');
    });
    reg.register('consumer', { close: () => void order.push('consumer') });
    reg.register('http', async () => {
      order.push('http');
    });
    const report = reg.shutdown();
    await vi.advanceTimersByTimeAsync(10);
    const r = await report;
    expect(order).toEqual(['http', 'consumer', 'redis']);
    expect(r.ok).toBe(true);
    expect(r.steps.map((s) => [s.name, s.status])).toEqual([
      ['http', 'closed'],
      ['consumer', 'closed'],
      ['redis', 'closed'],
    ]);
  });

  it('a stuck step times out, is reported, and later steps still run', async () => {
    const order: string[] = [];
    const reg = new ShutdownRegistry({ stepTimeoutMs: 5_000 });
    reg.register('db', () => void order.push('db'));
    reg.register('stuck', () => new Promise(() => {}), { timeoutMs: 1_000 });
    reg.register('failing', () => {
      throw new Error('nope');
    });
    const p = reg.shutdown();
    await vi.advanceTimersByTimeAsync(999);
    expect(order).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    const r = await p;
    expect(order).toEqual(['db']);
    expect(r.ok).toBe(false);
    expect(r.steps.map((s) => s.status)).toEqual(['failed', 'timeout', 'closed']);
    expect((r.steps[0]!.error as Error).message).toBe('nope');
    expect((r.steps[1]!.error as Error).message).toMatch(/"stuck" did not close within 1000 ms/);
    expect(r.steps[1]!.durationMs).toBeCloseTo(1_000, 0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('an overall deadline bounds N stuck steps: not N × the step timeout', async () => {
    const order: string[] = [];
    const reg = new ShutdownRegistry({ stepTimeoutMs: 10_000, totalTimeoutMs: 15_000 });
    reg.register('sync-after-deadline', () => void order.push('sync-after-deadline'));
    reg.register('stuck-after-deadline', () => new Promise(() => order.push('stuck-after-deadline')));
    reg.register('stuck-2', () => new Promise(() => order.push('stuck-2')));
    reg.register('stuck-1', () => new Promise(() => order.push('stuck-1')));
    const p = reg.shutdown();
    await vi.advanceTimersByTimeAsync(10_000); // stuck-1 used its own 10 s
    expect(order).toEqual(['stuck-1', 'stuck-2']);
    await vi.advanceTimersByTimeAsync(4_999); // stuck-2 gets only the 5 s left of the 15 s
    expect(order).toEqual(['stuck-1', 'stuck-2']);
    await vi.advanceTimersByTimeAsync(1);
    await vi.runAllTimersAsync(); // the steps past the deadline get zero-delay timers: no time passes
    const r = await p;
    // 15 s, plus at most 1 ms per step past the deadline (a zero-delay timer is 1 ms, as in Node).
    expect(r.durationMs).toBeGreaterThanOrEqual(15_000);
    expect(r.durationMs).toBeLessThanOrEqual(15_002);
    // After the deadline the remaining steps are still called; a synchronous close completes, others are cut.
    expect(order).toEqual(['stuck-1', 'stuck-2', 'stuck-after-deadline', 'sync-after-deadline']);
    expect(r.steps.map((s) => [s.name, s.status])).toEqual([
      ['stuck-1', 'timeout'],
      ['stuck-2', 'timeout'],
      ['stuck-after-deadline', 'timeout'],
      ['sync-after-deadline', 'closed'],
    ]);
    expect((r.steps[0]!.error as Error).message).toBe('"stuck-1" did not close within 10000 ms');
    expect((r.steps[1]!.error as Error).message).toBe(
      '"stuck-2" did not close before the shutdown deadline (15000 ms for all steps)',
    );
    expect(r.steps[1]!.durationMs).toBeCloseTo(5_000, 0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('the overall deadline defaults to 30 s', async () => {
    const reg = new ShutdownRegistry();
    for (const name of ['d', 'c', 'b', 'a']) reg.register(name, () => new Promise(() => {}));
    const p = reg.shutdown();
    await vi.advanceTimersByTimeAsync(30_000);
    await vi.runAllTimersAsync();
    const r = await p;
    expect(r.steps.map((s) => s.status)).toEqual(['timeout', 'timeout', 'timeout', 'timeout']);
    expect(r.steps.slice(0, 3).map((s) => s.durationMs)).toEqual([10_000, 10_000, 10_000]);
    expect(r.steps[3]!.durationMs).toBeLessThanOrEqual(1);
  });

  it('shutdown is idempotent and refuses new registrations', async () => {
    let closes = 0;
    const reg = new ShutdownRegistry();
    reg.register('x', () => void closes++);
    const [a, b] = await Promise.all([reg.shutdown(), reg.shutdown()]);
    expect(a).toBe(b);
    expect(closes).toBe(1);
    expect(() => reg.register('late', () => {})).toThrow(/shutdown has begun/);
  });

  it('unregister removes a resource that closed by itself', async () => {
    const reg = new ShutdownRegistry();
    const closed: string[] = [];
    const off = reg.register('a', () => void closed.push('a'));
    reg.register('b', () => void closed.push('b'));
    off();
    expect(reg.size).toBe(1);
    await reg.shutdown();
    expect(closed).toEqual(['b']);
  });

  it('the default registry is replaceable, and the previous one can be put back', () => {
    const original = getShutdownRegistry();
    const mine = new ShutdownRegistry();
    const previous = setShutdownRegistry(mine);
    try {
      expect(previous).toBe(original);
      expect(getShutdownRegistry()).toBe(mine);
    } finally {
      setShutdownRegistry(previous);
    }
    expect(getShutdownRegistry()).toBe(original);
    // undefined resets it: a fresh one is created on demand.
    setShutdownRegistry(undefined);
    const fresh = getShutdownRegistry();
    expect(fresh).not.toBe(original);
    setShutdownRegistry(original);
  });
});

describe('handleSignals', () => {
  it('runs shutdown on the signal and reports; uninstall removes the handler', async () => {
    const reg = new ShutdownRegistry();
    const closed: string[] = [];
    reg.register('svc', () => void closed.push('svc'));
    const before = process.listenerCount('SIGUSR2');
    let resolveDone: (v: unknown) => void = () => {};
    const done = new Promise((r) => {
      resolveDone = r;
    });
    const uninstall = handleSignals(reg, {
      signals: ['SIGUSR2'],
      exit: false,
      onShutdown: (report, signal) => resolveDone({ ok: report.ok, signal }),
    });
    expect(process.listenerCount('SIGUSR2')).toBe(before + 1);
    process.emit('SIGUSR2', 'SIGUSR2');
    await expect(done).resolves.toEqual({ ok: true, signal: 'SIGUSR2' });
    expect(closed).toEqual(['svc']);
    uninstall();
    expect(process.listenerCount('SIGUSR2')).toBe(before);
  });
});

describe('shutdown log lines', () => {
  it('a resource closing as planned is a debug line, not info: a library does not chatter at info', async () => {
    const lines: { level: number; msg: string }[] = [];
    const logger = createLogger({
      level: 'debug',
      destination: { write: (s: string) => void lines.push(JSON.parse(s)) },
    });
    const reg = new ShutdownRegistry({ logger });
    reg.register('redis', () => {});
    await reg.shutdown();
    expect(lines).toEqual([expect.objectContaining({ level: 20, msg: 'closed', resource: 'redis' })]);
  });
});
