import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const register = fileURLToPath(new URL('./child/register.mjs', import.meta.url));

/** Every worker still alive in this process: killed on exit so a failed run leaves no orphans. */
const alive = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of alive) c.kill('SIGKILL');
  });
}

export interface WorkerHandle {
  readonly pid: number;
  readonly name: string;
  /** Resolves when the worker printed its `READY` line; rejects if it exits or the timeout passes first. */
  readonly ready: Promise<void>;
  /** Resolves with the exit code or signal when the process is gone. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last lines the worker wrote to stderr (for failure messages). */
  stderrTail(): string;
  /** Lines the worker printed to stdout starting with `RESULT ` (parsed as JSON). */
  readonly results: unknown[];
  signal(sig: NodeJS.Signals): boolean;
  readonly running: boolean;
}

export interface SpawnWorkerOptions {
  /** Worker file under src/workers, e.g. `bus-consumer.ts`. */
  script: string;
  name: string;
  /** Passed to the worker as JSON in `BALLAST_CHAOS_CONFIG`. */
  config: unknown;
  /** A worker that is not READY by then is killed (default 60 s: the machine may be busy). */
  readyTimeoutMs?: number;
  /** Hard limit of the worker's whole life: SIGKILLed after it (every child is bounded in time). */
  lifetimeMs: number;
}

/**
 * Starts `node --import tsx --import child/register.mjs src/workers/<script>` on loopback with its config in
 * the environment. The worker reads `@ballast/*` from source (as vitest does) and says `READY` on stdout.
 */
export function spawnWorker(options: SpawnWorkerOptions): WorkerHandle {
  installExitHook();
  const script = fileURLToPath(new URL(`./workers/${options.script}`, import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', register, script], {
    cwd: packageDir,
    env: {
      ...process.env,
      BALLAST_CHAOS_CONFIG: JSON.stringify(options.config),
      BALLAST_LOG_LEVEL: process.env.BALLAST_CHAOS_LOG_LEVEL ?? 'silent',
      NODE_OPTIONS: '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  alive.add(child);
  let running = true;
  const stderr: string[] = [];
  const results: unknown[] = [];
  let onReady: () => void = () => {};
  let onFail: (e: Error) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    onReady = resolve;
    onFail = reject;
  });
  ready.catch(() => {});
  const readyTimer = setTimeout(() => {
    onFail(new Error(`worker ${options.name} not ready within ${options.readyTimeoutMs ?? 60_000} ms`));
    child.kill('SIGKILL');
  }, options.readyTimeoutMs ?? 60_000);
  const lifeTimer = setTimeout(() => child.kill('SIGKILL'), options.lifetimeMs);
  let buffered = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    let nl = buffered.indexOf('\n');
    while (nl >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line === 'READY') {
        clearTimeout(readyTimer);
        onReady();
      } else if (line.startsWith('RESULT ')) {
        results.push(JSON.parse(line.slice(7)));
      }
      nl = buffered.indexOf('\n');
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr.push(chunk);
    if (stderr.length > 50) stderr.shift();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      running = false;
      alive.delete(child);
      clearTimeout(readyTimer);
      clearTimeout(lifeTimer);
      onFail(
        new Error(`worker ${options.name} exited (${signal ?? code}) before READY: ${stderr.join('').slice(-2000)}`),
      );
      resolve({ code, signal });
    });
  });
  return {
    pid: child.pid ?? -1,
    name: options.name,
    ready,
    exited,
    results,
    stderrTail: () => stderr.join('').slice(-2000),
    signal: (sig) => running && child.kill(sig),
    get running() {
      return running;
    },
  };
}

/** SIGTERMs the workers, then SIGKILLs whichever is still there after `graceMs`; resolves when all are gone. */
export async function stopAll(workers: readonly WorkerHandle[], graceMs = 5_000): Promise<void> {
  for (const w of workers) {
    w.signal('SIGCONT');
    w.signal('SIGTERM');
  }
  const timer = setTimeout(() => {
    for (const w of workers) w.signal('SIGKILL');
  }, graceMs);
  await Promise.all(workers.map((w) => w.exited));
  clearTimeout(timer);
}
