/**
 * Consul's blocking queries: a read with `?index=N` is held until the store's changes move its index past N,
 * the `?wait` time (plus jitter) passes, or the client goes away.
 */
import type { ServerResponse } from 'node:http';
import { parseDuration } from './duration';
import type { Reply, Request } from './http';
import type { ConsulStore } from './store';

const DEFAULT_WAIT_MS = 5 * 60_000;
const MAX_WAIT_MS = 10 * 60_000;

/** Consul's blocking query: with `?index=N` (N > 0) hold until the result's index exceeds N or `wait` passes. */
export function blocking(s: ConsulStore, r: Request, res: ServerResponse, evaluate: () => Reply): Promise<Reply> {
  const clock = s.clock;
  const minIndex = r.uint('index') ?? 0;
  const waitMs = Math.min(parseDuration(r.query.get('wait') ?? undefined) ?? DEFAULT_WAIT_MS, MAX_WAIT_MS);
  const first = evaluate();
  if (minIndex === 0 || (first.index ?? 1) > minIndex) return Promise.resolve(first);
  return new Promise<Reply>((resolve) => {
    let done = false;
    const finish = (reply: Reply) => {
      if (done) return;
      done = true;
      unsubscribe();
      clock.clearTimeout(timer);
      res.off('close', onClose);
      resolve(reply);
    };
    const unsubscribe = s.onChange(() => {
      const next = evaluate();
      if ((next.index ?? 1) > minIndex) finish(next);
    });
    // Consul adds up to wait/16 of jitter so many watchers do not wake together.
    const timer = clock.setTimeout(() => finish(evaluate()), waitMs + Math.random() * (waitMs / 16));
    timer.unref();
    const onClose = () => finish({});
    res.on('close', onClose);
  });
}
