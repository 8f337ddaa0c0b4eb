import { describe, expect, it } from 'vitest';
import type { Clock } from './clock';
import { TimeoutQueue } from './timeout-queue';

/** A hand-driven clock: `advance(ms)` runs the timers due. */
function manualClock() {
  let now = 0;
  let timers: { at: number; fn: () => void }[] = [];
  const clock = {
    now: () => now,
    monotonic: () => now,
    setTimeout(fn: () => void, ms: number) {
      const t = { at: now + ms, fn, unref: () => t };
      timers.push(t);
      return t;
    },
    clearTimeout(h: unknown) {
      timers = timers.filter((t) => t !== h);
    },
    setInterval: () => ({ unref: () => undefined }),
    clearInterval: () => {},
  } as unknown as Clock;
  return {
    clock,
    pending: () => timers.length,
    advance(ms: number) {
      now += ms;
      for (;;) {
        const due = timers.filter((t) => t.at <= now).sort((a, b) => a.at - b.at)[0];
        if (!due) return;
        timers = timers.filter((t) => t !== due);
        due.fn();
      }
    },
  };
}

describe('TimeoutQueue', () => {
  it('times out, in order, exactly the calls not finished by their deadline, with one timer', () => {
    const c = manualClock();
    const q = new TimeoutQueue(c.clock);
    const fired: string[] = [];
    const a = q.add(100, () => fired.push('a'));
    c.advance(30);
    q.add(100, () => fired.push('b'));
    const x = q.add(100, () => fired.push('c'));
    expect(c.pending()).toBe(1); // one timer for all three
    q.finish(x);
    q.finish(a);
    c.advance(70); // a's deadline: a finished, nothing fires
    expect(fired).toEqual([]);
    c.advance(30); // b's deadline
    expect(fired).toEqual(['b']);
    expect(q.size).toBe(0);
    expect(c.pending()).toBe(0);
  });

  it('forgets finished calls as they finish (no growth while replies keep coming)', () => {
    const c = manualClock();
    const q = new TimeoutQueue(c.clock);
    for (let i = 0; i < 10_000; i++) q.finish(q.add(100, () => {}));
    expect(q.size).toBe(0);
    const late = q.add(100, () => {});
    c.advance(100);
    expect(late.done).toBe(true);
  });
});
