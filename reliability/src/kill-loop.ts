import type { WorkerHandle } from './child';
import { delay } from './scenario';

/** What a kill loop did: read live by the scenario (progress lines) and at the end (checks, ledger). */
export interface KillTally {
  kills: number;
  restartFailures: number;
}

export interface KillLoopOptions {
  /** The workers up when the loop starts; replacements join once they say READY. */
  workers: readonly WorkerHandle[];
  /** Spawns a replacement worker. */
  start(): WorkerHandle;
  random(): number;
  /** A kill every `gapMs` + up to `jitterMs`. */
  gapMs: number;
  jitterMs: number;
  maxKills: number;
  /** Checked before each wait and again before each kill: false ends the loop. */
  keepGoing(): boolean | Promise<boolean>;
  tally: KillTally;
}

/**
 * The chaos every worker scenario shares: SIGKILL a random ready worker every gap (+ jitter) and start its
 * replacement at once — the next kill does not wait for it, so kills stay evenly spaced. Bounded by
 * `maxKills`; resolves once every replacement is READY (or counted as a failed restart).
 */
export async function killAtRandom(o: KillLoopOptions): Promise<void> {
  const ready = new Set<WorkerHandle>(o.workers);
  const restarts: Promise<void>[] = [];
  while (o.tally.kills < o.maxKills && (await o.keepGoing())) {
    await delay(o.gapMs + o.random() * o.jitterMs);
    if (!(await o.keepGoing())) break;
    const live = [...ready].filter((w) => w.running);
    const victim = live[Math.floor(o.random() * live.length)];
    if (!victim) continue;
    ready.delete(victim);
    victim.signal('SIGKILL');
    o.tally.kills++;
    const next = o.start();
    restarts.push(
      next.ready.then(
        () => void ready.add(next),
        () => void o.tally.restartFailures++,
      ),
    );
  }
  await Promise.all(restarts);
}
