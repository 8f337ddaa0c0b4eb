import { createLogger } from '@ballast/core';
import { FakeClock } from '@ballast/testkit';
import { describe, expect, it } from 'vitest';
import { Renewal, type RenewalOptions } from './renewal';

const logger = createLogger({ level: 'silent' });

function renewal(clock: FakeClock, extend: RenewalOptions['extend'], lost: string[], autoExtend = true) {
  return new Renewal({
    clock,
    ttlMs: 300,
    driftFactor: 0.01,
    autoExtend,
    attemptStart: clock.monotonic(),
    extend,
    onLost: (r) => lost.push(r),
    logger,
  });
}

describe('Renewal (a primitive lease kept alive)', () => {
  it('confirmed extensions every ttl/3 keep the lease valid for as long as it is held', async () => {
    const clock = new FakeClock();
    const lost: string[] = [];
    let extends_ = 0;
    const r = renewal(
      clock,
      async () => {
        extends_++;
        return true;
      },
      lost,
    );
    await clock.advance(3_000);
    expect(lost).toEqual([]);
    expect(extends_).toBe(30);
    expect(r.valid).toBe(true);
    r.stop();
  });

  it('an extension that never answers (a frozen connection) loses the lease at its validity, not later', async () => {
    const clock = new FakeClock();
    const lost: string[] = [];
    renewal(clock, () => new Promise<boolean>(() => {}), lost);
    await clock.advance(293); // validity: 300 − (300 × 0.01 + 2) = 295 ms
    expect(lost).toEqual([]);
    await clock.advance(3);
    expect(lost).toEqual(['its validity ran out before an extension was confirmed']);
  });

  it('a lease stopped (released) while an extension is in flight never reports a loss', async () => {
    const clock = new FakeClock();
    const lost: string[] = [];
    let answer: (ok: boolean) => void = () => {};
    const r = renewal(clock, () => new Promise<boolean>((resolve) => (answer = resolve)), lost);
    await clock.advance(100); // the extension is sent
    r.stop(); // released meanwhile: the extension now finds the lease gone
    answer(false);
    await clock.advance(1_000);
    expect(lost).toEqual([]);
  });

  it('without autoExtend the lease runs out at its validity; a refused extension loses it at once', async () => {
    const clock = new FakeClock();
    const lost: string[] = [];
    renewal(clock, async () => true, lost, false);
    await clock.advance(296);
    expect(lost).toHaveLength(1);
    const refused: string[] = [];
    renewal(clock, async () => false, refused);
    await clock.advance(100);
    expect(refused).toEqual(['it was gone or taken when extending it']);
  });
});
