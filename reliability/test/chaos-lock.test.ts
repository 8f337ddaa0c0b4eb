/**
 * The lock chaos scenario in short mode, and its verifier. Pausing the holder past its TTL lets a second
 * holder in (overlaps > 0: a lock alone cannot stop that), yet no stale write gets through fencedSet.
 * A control run without pauses shows the overlap counter is not noise: the lock keeps holders apart.
 */
import { describe, expect, it } from 'vitest';
import { defaultRedisUrl, seededRandom } from '../src/scenario';
import { lockCounts, runLock, scenario, verifyFencing } from '../src/scenarios/lock';

const ctx = () => ({ mode: 'short' as const, redisUrl: defaultRedisUrl(), log: () => {}, random: seededRandom(11) });

describe('fencing verifier', () => {
  it('replays writes in server order: an accepted older token is a stale write accepted', () => {
    const history = ['1', '3', '2', '4', '2'];
    const results = { '1': '1:1:a', '2': '3:1:b', '3': '2:0:a', '4': '4:1:c', '5': '2:1:a' };
    expect(verifyFencing(history, results)).toEqual({
      writes: 5,
      accepted: 4,
      staleRejected: 1,
      staleAccepted: 1,
      reusedAccepted: 0,
      wrongRejections: 0,
      unknown: 0,
      notRun: 0,
    });
  });

  it('a NOSCRIPT refusal is a write that never ran, not an unknown outcome; its EVAL retry is judged', () => {
    const history = ['1', '2', '2'];
    const results = { '1': '1:1:a', '2': '2:n:b', '3': '2:1:b' };
    expect(verifyFencing(history, results)).toEqual({
      writes: 2,
      accepted: 2,
      staleRejected: 0,
      staleAccepted: 0,
      reusedAccepted: 0,
      wrongRejections: 0,
      unknown: 0,
      notRun: 1,
    });
    // Any other script error stays unknown.
    expect(verifyFencing(['1'], { '1': '1:e:a' })).toMatchObject({ unknown: 1, notRun: 0 });
  });

  it('the newest token accepted again from another client is a reused token accepted (a counter gone back); the same client writing twice is not', () => {
    const history = ['1', '2', '2', '2', '1'];
    const results = { '1': '1:1:a', '2': '2:1:b', '3': '2:1:b', '4': '2:1:c', '5': '1:0:a' };
    expect(verifyFencing(history, results)).toMatchObject({
      accepted: 4,
      staleAccepted: 0,
      reusedAccepted: 1,
      staleRejected: 1,
    });
  });

  it('a rejected write no newer token overtook is a wrong rejection; a missing outcome is unknown', () => {
    expect(verifyFencing(['5', '6'], { '1': '5:0:a' })).toMatchObject({ wrongRejections: 1, unknown: 1, writes: 1 });
  });
});

describe('lock scenario', () => {
  it('lock (short): holders SIGSTOPped past the TTL → overlaps seen, 0 stale writes accepted', async () => {
    const ledger = await scenario.run(ctx());
    expect(ledger.failures).toEqual([]);
    expect(ledger.details.staleWritesAccepted).toBe(0);
    expect(ledger.lost).toBe(0);
    expect(Number(ledger.details.overlapsWithoutFencing)).toBeGreaterThan(0);
    expect(Number(ledger.details.pauses)).toBeGreaterThan(0);
    expect(ledger.processed).toBeGreaterThan(0);
  }, 200_000);

  it('control: without pauses the lock alone keeps holders apart (0 overlaps, nothing rejected)', async () => {
    const ledger = await runLock(ctx(), { ...lockCounts.short, clients: 3, chaosMs: 3_000, pauses: false });
    expect(ledger.failures).toEqual([]);
    expect(ledger.details.overlapsWithoutFencing).toBe(0);
    expect(ledger.details.staleWritesRejected).toBe(0);
    expect(ledger.processed).toBe(ledger.produced);
    expect(ledger.processed).toBeGreaterThan(10);
  }, 200_000);
});
