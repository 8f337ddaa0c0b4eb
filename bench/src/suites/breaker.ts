import {
  CircuitBreaker as BallastBreaker,
  retry as ballastRetry,
  timeout as ballastTimeout,
  wrap as ballastWrap,
} from '@ballast/circuit-breaker';
import {
  circuitBreaker as cockatielBreaker,
  retry as cockatielRetry,
  timeout as cockatielTimeout,
  wrap as cockatielWrap,
  handleAll,
  SamplingBreaker,
  TimeoutStrategy,
} from 'cockatiel';
import Opossum from 'opossum';
import type { BenchCase, Suite } from '../harness';

/**
 * Sequential awaited calls per measured `fn`. One call costs ~0.1–2 µs, less than tinybench's own per-iteration
 * bookkeeping, so every case batches; ops/s counts calls, p50/p99 are per batch.
 */
const BATCH = 100;
/**
 * opossum's failure-window batch. Each opossum failure re-reduces all N buckets and sorts every latency in the
 * window (0.5 ms to tens of ms per call, growing with the calls already in the window), so batching does not
 * matter to its number, while 100 calls × the harness's minimum iterations would run for many minutes.
 * Its per-iteration overhead stays under 0.1 %. Every other case and impl uses `BATCH`.
 */
const OPOSSUM_FAILURE_BATCH = 1;
const TIMEOUT_MS = 10_000;
const WINDOW_MS = 10_000;
/** Seed 003's breaker: open for 30 s before a probe. */
const RESET_MS = 30_000;
/** A volume threshold no run reaches: the failure-window breakers must stay closed under 100 % failures. */
const NEVER_TRIP = Number.MAX_SAFE_INTEGER;
const WINDOW_SIZES = [1_000, 100_000] as const;

const ok = async (): Promise<number> => 1;
const boom = new Error('bench: planned failure');
const fail = async (): Promise<number> => {
  throw boom;
};

type Impl = 'ballast' | 'opossum' | 'cockatiel';

const okValues = [async () => 1, async () => 2, async () => 3, async () => 4];
/**
 * One call site for four policies of different shapes (plain breaker, breaker with timeout, count-window
 * breaker, retry+breaker+timeout wrap) and four different closures: the `execute` call and the protected
 * function's call are megamorphic, as in a service with many dependencies — not the monomorphic loop of the
 * other cases, where the JIT inlines everything.
 */
function megamorphicCall(
  policies: { execute(fn: () => Promise<number>): Promise<number> }[],
  i: number,
): Promise<number> {
  const k = i & 3;
  const f = okValues[k]!;
  return policies[k]!.execute(() => f());
}

/** One impl's policy for one measured phase (tinybench's warm-up and run each get a fresh one). */
interface Live {
  /** One batch of sequential awaited calls. */
  run(): Promise<void>;
  /** Times the breaker opened since it was made: every case requires 0. */
  opens(): number;
  dispose(): void;
}

/**
 * A case whose policy is built in `beforeAll` and disposed in `afterAll`, so no breaker's timers (opossum rotates
 * its buckets and snapshots its stats on intervals: every 1 ms with 100k buckets) run during other cases.
 * `afterAll` throws if the breaker ever opened.
 */
function entry(name: string, impl: Impl, make: () => Live, opsPerCall = BATCH): BenchCase {
  let live: Live | undefined;
  return {
    case: name,
    impl,
    opsPerCall,
    beforeAll: () => {
      live?.dispose();
      live = make();
    },
    // An async function: tinybench detects it as async without calling it before `beforeAll`.
    fn: async () => {
      await live!.run();
    },
    afterAll: () => {
      const l = live;
      live = undefined;
      if (!l) return;
      const opens = l.opens();
      l.dispose();
      if (opens > 0) throw new Error(`${name}/${impl}: the breaker opened ${opens}× (it must stay closed)`);
    },
  };
}

// ── ballast ─────────────────────────────────────────────────────────────────────────────────────────────────
// Defaults except what each case needs (metrics on, as users get them: a no-op until an OTel SDK is registered).

function ballastOpens(breaker: BallastBreaker): () => number {
  let opens = 0;
  breaker.onOpen(() => void opens++);
  return () => opens;
}

const ballast = {
  successNoTimeout(): Live {
    const breaker = new BallastBreaker({ timeoutMs: false });
    return {
      async run() {
        for (let i = 0; i < BATCH; i++) await breaker.execute(ok);
      },
      opens: ballastOpens(breaker),
      dispose: () => void breaker.close(),
    };
  },
  successTimeout(): Live {
    const breaker = new BallastBreaker({ timeoutMs: TIMEOUT_MS });
    return {
      async run() {
        for (let i = 0; i < BATCH; i++) await breaker.execute(ok);
      },
      opens: ballastOpens(breaker),
      dispose: () => void breaker.close(),
    };
  },
  /**
   * As a user writes it: `wrap(retry({ maxRetries: 3 }), breaker, timeout(10_000))` — the default backoff, a
   * breaker with its defaults but no timeout of its own (the per-try timeout is the policy's), and the function
   * passed as a fresh closure on every call. Each try gets its own deadline; a timeout is a breaker failure.
   */
  composite(): Live {
    const breaker = new BallastBreaker({ timeoutMs: false });
    const policy = ballastWrap(ballastRetry({ maxRetries: 3 }), breaker, ballastTimeout(10_000));
    return {
      async run() {
        for (let i = 0; i < BATCH; i++) await policy.execute(() => ok());
      },
      opens: ballastOpens(breaker),
      dispose: () => void policy.close(),
    };
  },
  /** Several breakers and policies alternating at one call site (see `megamorphic`). */
  megamorphic(): Live {
    const plain = new BallastBreaker({ name: 'a', timeoutMs: false });
    const timed = new BallastBreaker({ name: 'b', timeoutMs: TIMEOUT_MS });
    const counted = new BallastBreaker({ name: 'c', timeoutMs: false, windowType: 'count' });
    const inner = new BallastBreaker({ name: 'd', timeoutMs: false });
    const composed = ballastWrap(ballastRetry({ maxRetries: 3 }), inner, ballastTimeout(TIMEOUT_MS));
    const policies: { execute(fn: () => Promise<number>): Promise<number> }[] = [plain, timed, counted, composed];
    const breakers = [plain, timed, counted, inner];
    const opens = breakers.map(ballastOpens);
    return {
      async run() {
        for (let i = 0; i < BATCH; i++) await megamorphicCall(policies, i);
      },
      opens: () => opens.reduce((n, o) => n + o(), 0),
      dispose: () => {
        for (const b of [plain, timed, counted]) void b.close();
        void composed.close();
      },
    };
  },
  failureWindow(buckets: number): Live {
    const breaker = new BallastBreaker({
      timeoutMs: false,
      rollingCountBuckets: buckets,
      rollingCountTimeoutMs: WINDOW_MS,
      volumeThreshold: NEVER_TRIP,
    });
    return {
      async run() {
        for (let i = 0; i < BATCH; i++) {
          try {
            await breaker.execute(fail);
          } catch {}
        }
      },
      opens: ballastOpens(breaker),
      dispose: () => void breaker.close(),
    };
  },
};

// ── opossum ─────────────────────────────────────────────────────────────────────────────────────────────────
// opossum binds one action per breaker. Its defaults match seed 003's except volumeThreshold (0): set to ours (10).

function opossumOpens(breaker: Opossum): () => number {
  let opens = 0;
  breaker.on('open', () => void opens++);
  return () => opens;
}

/** opossum has no retry policy: the tiny loop a service writes around `fire()` (3 retries, no delay). */
async function opossumRetry(breaker: Opossum<[], number>): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await breaker.fire();
    } catch (error) {
      if (attempt >= 3 || breaker.opened) throw error;
    }
  }
}

/** A plain opossum breaker fired BATCH times per call; the success cases differ only in its timeout. */
function opossumFiring(timeout: number | false): Live {
  const breaker = new Opossum(ok, { timeout, volumeThreshold: 10 });
  return {
    async run() {
      for (let i = 0; i < BATCH; i++) await breaker.fire();
    },
    opens: opossumOpens(breaker),
    dispose: () => breaker.shutdown(),
  };
}

const opossum = {
  megamorphic(): Live {
    const make = (timeout: number | false) => new Opossum(ok, { timeout, volumeThreshold: 10 });
    const breakers = [make(false), make(TIMEOUT_MS), make(false), make(TIMEOUT_MS)];
    const policies = [
      { execute: () => breakers[0]!.fire() },
      { execute: () => breakers[1]!.fire() },
      { execute: () => breakers[2]!.fire() },
      { execute: () => opossumRetry(breakers[3]!) },
    ] as { execute(fn: () => Promise<number>): Promise<number> }[];
    const opens = breakers.map(opossumOpens);
    return {
      async run() {
        for (let i = 0; i < BATCH; i++) await megamorphicCall(policies, i);
      },
      opens: () => opens.reduce((n, o) => n + o(), 0),
      dispose: () => {
        for (const b of breakers) b.shutdown();
      },
    };
  },
  successNoTimeout: (): Live => opossumFiring(false),
  successTimeout: (): Live => opossumFiring(TIMEOUT_MS),
  /** Retry emulated with `opossumRetry` (opossum has none); the 10 s timeout is the breaker's own. */
  composite(): Live {
    const breaker = new Opossum(ok, { timeout: TIMEOUT_MS, volumeThreshold: 10 });
    return {
      async run() {
        for (let i = 0; i < BATCH; i++) await opossumRetry(breaker);
      },
      opens: opossumOpens(breaker),
      dispose: () => breaker.shutdown(),
    };
  },
  /**
   * `rollingCountBuckets: N` over `rollingCountTimeout: 10_000`. opossum rotates buckets with a `setInterval` of
   * ⌊10 000 / N⌋ ms: at N = 100k that is 0, which Node runs every ≥ 1 ms, so its window really spans ≥ 100 s.
   * Defaults otherwise (rolling percentiles and snapshots on), as users get them.
   */
  failureWindow(buckets: number): Live {
    const breaker = new Opossum(fail, {
      timeout: false,
      rollingCountBuckets: buckets,
      rollingCountTimeout: WINDOW_MS,
      volumeThreshold: NEVER_TRIP,
    });
    return {
      async run() {
        for (let i = 0; i < OPOSSUM_FAILURE_BATCH; i++) {
          try {
            await breaker.fire();
          } catch {}
        }
      },
      opens: opossumOpens(breaker),
      dispose: () => breaker.shutdown(),
    };
  },
};

// ── cockatiel ───────────────────────────────────────────────────────────────────────────────────────────────

/**
 * The closest to seed 003's breaker (≥ 50 % failures over 10 s, 10 buckets, ≥ 10 calls in the window, 30 s open):
 * `SamplingBreaker` is cockatiel's time-window breaker — 10 s in ten 1 s windows, and `minimumRps: 1` is
 * "10 calls per 10 s". (`ConsecutiveBreaker` counts failures in a row, not a rate; `CountBreaker` counts the
 * last N calls, not a time window.)
 */
function cockatielWindowBreaker() {
  return cockatielBreaker(handleAll, {
    halfOpenAfter: RESET_MS,
    breaker: new SamplingBreaker({ threshold: 0.5, duration: WINDOW_MS, minimumRps: 1 }),
  });
}

function cockatielOpens(breaker: ReturnType<typeof cockatielBreaker>): () => number {
  let opens = 0;
  breaker.onBreak(() => void opens++);
  return () => opens;
}

const cockatiel = {
  megamorphic(): Live {
    const a = cockatielWindowBreaker();
    const b = cockatielWindowBreaker();
    const c = cockatielWindowBreaker();
    const d = cockatielWindowBreaker();
    const policies = [
      a,
      cockatielWrap(b, cockatielTimeout(TIMEOUT_MS, TimeoutStrategy.Aggressive)),
      c,
      cockatielWrap(
        cockatielRetry(handleAll, { maxAttempts: 3 }),
        d,
        cockatielTimeout(TIMEOUT_MS, TimeoutStrategy.Aggressive),
      ),
    ] as { execute(fn: () => Promise<number>): Promise<number> }[];
    const opens = [a, b, c, d].map(cockatielOpens);
    return {
      async run() {
        for (let i = 0; i < BATCH; i++) await megamorphicCall(policies, i);
      },
      opens: () => opens.reduce((n, o) => n + o(), 0),
      dispose: () => {},
    };
  },
  successNoTimeout(): Live {
    const breaker = cockatielWindowBreaker();
    return {
      async run() {
        for (let i = 0; i < BATCH; i++) await breaker.execute(ok);
      },
      opens: cockatielOpens(breaker),
      dispose: () => {},
    };
  },
  /**
   * Breaker outside the timeout, as in ours and opossum (a timed-out call counts as a breaker failure) and as in
   * the composite; `wrap(timeout, breaker)` costs the same two layers.
   */
  successTimeout(): Live {
    const breaker = cockatielWindowBreaker();
    const policy = cockatielWrap(breaker, cockatielTimeout(TIMEOUT_MS, TimeoutStrategy.Aggressive));
    return {
      async run() {
        for (let i = 0; i < BATCH; i++) await policy.execute(ok);
      },
      opens: cockatielOpens(breaker),
      dispose: () => {},
    };
  },
  /** cockatiel's `maxAttempts` counts retries (`retries < maxAttempts`): 3 retries, like ours; no delay by default. */
  composite(): Live {
    const breaker = cockatielWindowBreaker();
    const policy = cockatielWrap(
      cockatielRetry(handleAll, { maxAttempts: 3 }),
      breaker,
      cockatielTimeout(TIMEOUT_MS, TimeoutStrategy.Aggressive),
    );
    return {
      async run() {
        for (let i = 0; i < BATCH; i++) await policy.execute(() => ok());
      },
      opens: cockatielOpens(breaker),
      dispose: () => {},
    };
  },
  /**
   * cockatiel has no bucket count. `SamplingBreaker` keeps one bucket per ~1 s (at least 5), so
   * `duration: N s` holds N buckets, like the others' N — its cost per call does not depend on N (running sums;
   * a rotation once a second). `CountBreaker({ size: N })` cannot stay closed: its `minimumNumberOfCalls` is at
   * most `size` and its threshold below 1, so it opens after N failures. `minimumRps: MAX_SAFE_INTEGER` is the
   * volume threshold no run reaches.
   */
  failureWindow(buckets: number): Live {
    const breaker = cockatielBreaker(handleAll, {
      halfOpenAfter: RESET_MS,
      breaker: new SamplingBreaker({ threshold: 0.5, duration: buckets * 1_000, minimumRps: NEVER_TRIP }),
    });
    return {
      async run() {
        for (let i = 0; i < BATCH; i++) {
          try {
            await breaker.execute(fail);
          } catch {}
        }
      },
      opens: cockatielOpens(breaker),
      dispose: () => {},
    };
  },
};

/**
 * Our circuit breaker beside opossum and cockatiel, in one process, one case after another. No Redis.
 * - `success-no-timeout`: a breaker without timeout around `async () => 1`.
 * - `success-timeout`: the same with a 10 s timeout.
 * - `composite`: `wrap(retry({ maxRetries: 3 }), breaker, timeout(10_000))` with a closure per call; every call
 *   succeeds at once. opossum: its breaker with a 10 s timeout in a 3-retry loop; cockatiel: its wrap.
 * - `megamorphic`: four breakers/policies of different shapes alternating at one call site.
 * - `failure-window-1k` / `-100k`: every call rejects (one preallocated Error) into a window of N buckets; the
 *   breaker must stay closed throughout (volume threshold out of reach), checked after each phase.
 */
export const breaker: Suite = {
  name: 'breaker',
  description:
    'circuit breaker, timeout, retry+breaker+timeout and 100 %-failure windows: ballast vs opossum vs cockatiel',
  async setup() {
    const cases: BenchCase[] = [
      entry('success-no-timeout', 'ballast', ballast.successNoTimeout),
      entry('success-no-timeout', 'opossum', opossum.successNoTimeout),
      entry('success-no-timeout', 'cockatiel', cockatiel.successNoTimeout),
      entry('success-timeout', 'ballast', ballast.successTimeout),
      entry('success-timeout', 'opossum', opossum.successTimeout),
      entry('success-timeout', 'cockatiel', cockatiel.successTimeout),
      entry('composite', 'ballast', ballast.composite),
      entry('composite', 'opossum', opossum.composite),
      entry('composite', 'cockatiel', cockatiel.composite),
      entry('megamorphic', 'ballast', ballast.megamorphic),
      entry('megamorphic', 'opossum', opossum.megamorphic),
      entry('megamorphic', 'cockatiel', cockatiel.megamorphic),
    ];
    for (const n of WINDOW_SIZES) {
      const name = `failure-window-${n / 1_000}k`;
      cases.push(
        entry(name, 'ballast', () => ballast.failureWindow(n)),
        entry(name, 'opossum', () => opossum.failureWindow(n), OPOSSUM_FAILURE_BATCH),
        entry(name, 'cockatiel', () => cockatiel.failureWindow(n)),
      );
    }
    return { cases };
  },
};
