// Instruction counts per call for issue 23 §3, repeatable on a loaded machine (wall time is not):
//
//   valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.0 node --single-threaded callgrind-breaker.mjs success ballast 0
//   valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.N node --single-threaded callgrind-breaker.mjs success ballast 400000
//   # instructions per call = (summary of cg.N − summary of cg.0) / 400000   (grep '^summary:' or '^totals:')
//
// Cases: `success` (ballast | cockatiel | opossum: a breaker without timeout around `async () => 1`) and
// `composite` (ballast: wrap(retry, breaker, timeout(10 s)) with a closure per call | opossum: its breaker
// with a 10 s timeout in a 3-retry loop) — the shapes of the `breaker` bench suite. Both runs of a pair do
// the same 20 000-call warm-up, so the difference is N steady-state calls. Run `npm run build` first.
import { CircuitBreaker, retry, timeout, wrap } from '@ballast/circuit-breaker';
import { circuitBreaker, handleAll, SamplingBreaker } from 'cockatiel';
import Opossum from 'opossum';

const [kase, impl, calls] = process.argv.slice(2);
const ok = async () => 1;
const WARM_UP = 20_000;

function make() {
  if (kase === 'success' && impl === 'ballast') {
    const b = new CircuitBreaker({ timeoutMs: false });
    return () => b.execute(ok);
  }
  if (kase === 'success' && impl === 'cockatiel') {
    const b = circuitBreaker(handleAll, {
      halfOpenAfter: 30_000,
      breaker: new SamplingBreaker({ threshold: 0.5, duration: 10_000, minimumRps: 1 }),
    });
    return () => b.execute(ok);
  }
  if (kase === 'success' && impl === 'opossum') {
    const b = new Opossum(ok, { timeout: false, volumeThreshold: 10 });
    return () => b.fire();
  }
  if (kase === 'composite' && impl === 'ballast') {
    const p = wrap(retry({ maxRetries: 3 }), new CircuitBreaker({ timeoutMs: false }), timeout(10_000));
    return () => p.execute(() => ok());
  }
  if (kase === 'composite' && impl === 'opossum') {
    const b = new Opossum(ok, { timeout: 10_000, volumeThreshold: 10 });
    return async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await b.fire();
        } catch (error) {
          if (attempt >= 3 || b.opened) throw error;
        }
      }
    };
  }
  throw new Error('usage: node callgrind-breaker.mjs <success|composite> <ballast|cockatiel|opossum> <calls>');
}

const run = make();
const n = Number(calls);
for (let i = 0; i < WARM_UP; i++) await run();
for (let i = 0; i < n; i++) await run();
process.exit(0);
