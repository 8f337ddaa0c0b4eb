/** The worker side of child.ts: config in, `READY` and `RESULT {…}` lines out, bounded life. */

export function workerConfig<T>(): T {
  const raw = process.env.BALLAST_CHAOS_CONFIG;
  if (!raw) throw new Error('BALLAST_CHAOS_CONFIG is not set: start workers through spawnWorker()');
  return JSON.parse(raw) as T;
}

export function announceReady(): void {
  process.stdout.write('READY\n');
}

export function reportResult(result: unknown): void {
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

/**
 * Runs `main` with a graceful SIGTERM (`stop` aborts) and a hard deadline: the worker exits by itself even
 * if the parent vanished. Unexpected errors print to stderr and exit 1.
 */
export function runWorker(main: (stop: AbortSignal) => Promise<void>, maxLifetimeMs: number): void {
  const stop = new AbortController();
  process.once('SIGTERM', () => stop.abort());
  const hard = setTimeout(() => process.exit(3), maxLifetimeMs);
  hard.unref();
  // The parent is gone (its pipe closed): stop too.
  process.stdout.on('error', () => process.exit(4));
  // Keeps the event loop alive while `main` waits on nothing but the stop signal.
  const keepAlive = setInterval(() => {}, 60_000);
  main(stop.signal).then(
    () => {
      clearInterval(keepAlive);
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
