import { sleep } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { FakeClock, FakeClockLoopError } from './fake-clock';

describe('FakeClock', () => {
  it('fires timers in time order, ties in creation order, each at its own time', async () => {
    const clock = new FakeClock({ now: 1_000 });
    const fired: [string, number][] = [];
    clock.setTimeout(() => fired.push(['b', clock.now()]), 200);
    clock.setTimeout(() => fired.push(['a', clock.now()]), 100);
    clock.setTimeout(() => fired.push(['c', clock.now()]), 200);
    await clock.advance(150);
    expect(fired).toEqual([['a', 1_100]]);
    expect(clock.now()).toBe(1_150);
    await clock.advance(50);
    expect(fired).toEqual([
      ['a', 1_100],
      ['b', 1_200],
      ['c', 1_200],
    ]);
    expect(clock.monotonic()).toBe(200);
  });

  it('cleared timers never fire; pendingTimers lists what is left', async () => {
    const clock = new FakeClock({ now: 0 });
    let fired = false;
    const h = clock.setTimeout(() => {
      fired = true;
    }, 10);
    clock.setTimeout(() => {}, 30);
    expect(clock.pendingTimers().map((t) => t.at)).toEqual([10, 30]);
    clock.clearTimeout(h);
    await clock.advance(100);
    expect(fired).toBe(false);
    expect(clock.pendingCount).toBe(0);
  });

  it('intervals repeat; runAll refuses to loop forever', async () => {
    const clock = new FakeClock({ now: 0 });
    const ticks: number[] = [];
    const h = clock.setInterval(() => ticks.push(clock.now()), 100);
    await clock.advance(350);
    expect(ticks).toEqual([100, 200, 300]);
    await expect(clock.runAll(5)).rejects.toBeInstanceOf(FakeClockLoopError);
    clock.clearInterval(h);
    await clock.runAll();
    expect(clock.pendingCount).toBe(0);
  });

  it('drives promise chains: a retry loop of sleeps completes under advance()', async () => {
    const clock = new FakeClock({ now: 0 });
    const attemptsAt: number[] = [];
    const loop = (async () => {
      for (let i = 0; i < 4; i++) {
        attemptsAt.push(clock.now());
        await sleep(clock, 100 * 2 ** i);
      }
      return 'done';
    })();
    await clock.advance(1_500);
    await expect(loop).resolves.toBe('done');
    expect(attemptsAt).toEqual([0, 100, 300, 700]);
  });

  it('next() jumps to the next timer; timers set by callbacks inside the window fire too', async () => {
    const clock = new FakeClock({ now: 0 });
    const seen: number[] = [];
    clock.setTimeout(() => {
      seen.push(clock.now());
      clock.setTimeout(() => seen.push(clock.now()), 5);
    }, 10);
    expect(await clock.next()).toBe(true);
    expect(seen).toEqual([10]);
    await clock.advance(5);
    expect(seen).toEqual([10, 15]);
    expect(await clock.next()).toBe(false);
  });

  it('rejects negative advances', async () => {
    await expect(new FakeClock().advance(-1)).rejects.toThrow(RangeError);
  });
});
