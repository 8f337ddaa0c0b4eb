import { FakeClock } from '@ballast/testkit';
import { describe, expect, it } from 'vitest';
import { type Deadline, DeadlineQueue } from './deadlines';

interface TestDeadline extends Deadline {
  readonly label: string;
}

/** A deadline that records `label@time` in `log` when it expires. */
function deadline(clock: FakeClock, log: string[], label: string, at: number, onExpire?: () => void): TestDeadline {
  return {
    label,
    at,
    prev: undefined,
    next: undefined,
    queued: false,
    expire() {
      log.push(`${label}@${clock.monotonic()}`);
      onExpire?.();
    },
    close(reason) {
      log.push(`${label} closed: ${String(reason)}`);
    },
  };
}

describe('DeadlineQueue', () => {
  it('expires deadlines added out of order in time order, each at its own time', async () => {
    const clock = new FakeClock();
    const queue = new DeadlineQueue(clock);
    const log: string[] = [];
    queue.add(deadline(clock, log, 'c', 300));
    queue.add(deadline(clock, log, 'a', 100));
    queue.add(deadline(clock, log, 'b', 200));
    queue.add(deadline(clock, log, 'a2', 100)); // tie: after the earlier one with the same time
    queue.add(deadline(clock, log, 'b2', 150));
    expect(clock.pendingCount).toBe(1);

    await clock.advance(99);
    expect(log).toEqual([]);
    await clock.advance(1);
    expect(log).toEqual(['a@100', 'a2@100']);
    await clock.advance(50);
    expect(log).toEqual(['a@100', 'a2@100', 'b2@150']);
    await clock.advance(150);
    expect(log).toEqual(['a@100', 'a2@100', 'b2@150', 'b@200', 'c@300']);
    expect(queue.isEmpty).toBe(true);
    expect(clock.pendingCount).toBe(0);
  });

  it('keeps one timer, re-armed for an earlier deadline', async () => {
    const clock = new FakeClock();
    const queue = new DeadlineQueue(clock);
    const log: string[] = [];
    queue.add(deadline(clock, log, 'late', 1_000));
    expect(clock.pendingTimers().map((t) => t.at - clock.now())).toEqual([1_000]);
    queue.add(deadline(clock, log, 'early', 10));
    expect(clock.pendingTimers().map((t) => t.at - clock.now())).toEqual([10]);
    queue.add(deadline(clock, log, 'middle', 500));
    expect(clock.pendingCount).toBe(1);
    await clock.advance(10);
    expect(log).toEqual(['early@10']);
    expect(clock.pendingCount).toBe(1);
    await clock.advance(990);
    expect(log).toEqual(['early@10', 'middle@500', 'late@1000']);
  });

  it('never expires a removed deadline, wherever it sat in the list', async () => {
    const clock = new FakeClock();
    const queue = new DeadlineQueue(clock);
    const log: string[] = [];
    const a = deadline(clock, log, 'a', 100);
    const b = deadline(clock, log, 'b', 200);
    const c = deadline(clock, log, 'c', 300);
    const d = deadline(clock, log, 'd', 400);
    for (const x of [a, b, c, d]) queue.add(x);
    queue.remove(a); // head
    queue.remove(c); // middle
    queue.remove(d); // tail
    queue.remove(d); // twice is harmless
    expect([a, c, d].map((x) => [x.queued, x.prev, x.next])).toEqual([
      [false, undefined, undefined],
      [false, undefined, undefined],
      [false, undefined, undefined],
    ]);
    await clock.advance(1_000);
    expect(log).toEqual(['b@200']);
    expect(queue.isEmpty).toBe(true);
  });

  it('a timer armed for a removed head fires harmlessly and re-arms for the next one', async () => {
    const clock = new FakeClock();
    const queue = new DeadlineQueue(clock);
    const log: string[] = [];
    const first = deadline(clock, log, 'first', 100);
    queue.add(first);
    queue.add(deadline(clock, log, 'second', 250));
    queue.remove(first);
    await clock.advance(100);
    expect(log).toEqual([]);
    expect(clock.pendingCount).toBe(1);
    await clock.advance(150);
    expect(log).toEqual(['second@250']);
  });

  it('fires a deadline that is already due at the next tick', async () => {
    const clock = new FakeClock();
    await clock.advance(1_000);
    const queue = new DeadlineQueue(clock);
    const log: string[] = [];
    queue.add(deadline(clock, log, 'past', 500));
    await clock.advance(0);
    expect(log).toEqual(['past@1000']);
  });

  it('accepts deadlines added by an expiring one', async () => {
    const clock = new FakeClock();
    const queue = new DeadlineQueue(clock);
    const log: string[] = [];
    queue.add(deadline(clock, log, 'a', 100, () => queue.add(deadline(clock, log, 'child', 150))));
    queue.add(deadline(clock, log, 'b', 200));
    await clock.advance(300);
    expect(log).toEqual(['a@100', 'child@150', 'b@200']);
  });

  it('does not expire a due deadline that an earlier one removed while expiring ("expire runs if still queued")', async () => {
    const clock = new FakeClock();
    const queue = new DeadlineQueue(clock);
    const log: string[] = [];
    const b = deadline(clock, log, 'b', 100);
    const a = deadline(clock, log, 'a', 100, () => queue.remove(b)); // e.g. a nested call cancelled by its parent
    const c = deadline(clock, log, 'c', 100);
    queue.add(a);
    queue.add(b);
    queue.add(c);
    await clock.advance(100);
    expect(log).toEqual(['a@100', 'c@100']);
    expect(queue.isEmpty).toBe(true);
  });

  it('close clears the timer and settles every pending deadline with the reason; none fires later', async () => {
    const clock = new FakeClock();
    const queue = new DeadlineQueue(clock);
    const log: string[] = [];
    queue.add(deadline(clock, log, 'a', 100));
    queue.add(deadline(clock, log, 'b', 200));
    expect(clock.pendingCount).toBe(1);
    queue.close('shut');
    expect(clock.pendingCount).toBe(0);
    expect(queue.isEmpty).toBe(true);
    expect(log).toEqual(['a closed: shut', 'b closed: shut']);
    await clock.advance(1_000);
    expect(log).toEqual(['a closed: shut', 'b closed: shut']);
  });

  it('stays usable after close: deadlines queued before it never come back', async () => {
    const clock = new FakeClock();
    const queue = new DeadlineQueue(clock);
    const log: string[] = [];
    const a = deadline(clock, log, 'a', 100);
    const b = deadline(clock, log, 'b', 200);
    queue.add(a);
    queue.add(b);
    queue.close('shut');
    // A call that was in flight at close time finishes and unlinks its deadline.
    queue.remove(a);
    expect(queue.isEmpty).toBe(true);
    queue.add(deadline(clock, log, 'c', 300));
    await clock.advance(1_000);
    expect(log).toEqual(['a closed: shut', 'b closed: shut', 'c@300']);
    expect(queue.isEmpty).toBe(true);
  });
});
