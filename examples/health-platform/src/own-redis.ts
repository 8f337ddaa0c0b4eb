/**
 * The demo's own Redis: a `redis-server` on a free loopback port, without persistence (`--save ''`,
 * `--appendonly no`, its `--dir` a temp directory of its own), so the story can restart it — losing every key —
 * without touching a Redis anyone else uses. Started only when `redis-server` is installed.
 *
 * No leaked server, however the demo ends: the server runs under a tiny `sh` guard in a process group of its own
 * (a terminal's Ctrl-C reaches the demo only, which stops the services first and the server last); the guard
 * reads its stdin, a pipe from the demo, and kills the server when that pipe closes — which the kernel does when
 * the demo exits, even by SIGKILL.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface OwnRedis {
  port: number;
  url: string;
  /** The running server's pid. */
  readonly pid: number;
  /**
   * A crash and a restart without data: SIGKILL to the server, `downMs` with nothing listening, then a new
   * server on the same port (empty: it persisted nothing). Resolves once the new one accepts connections.
   */
  restart(downMs: number): Promise<{ oldPid: number; newPid: number }>;
  /** Stops the server (SIGTERM through its guard) and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

/** Whether `redis-server` can be run here. */
export function redisServerInstalled(): boolean {
  const r = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  return r.status === 0;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/**
 * The guard: starts the server, prints its pid, waits for stdin to close (EOF), then stops the server and waits
 * for it. `$@` are the server's arguments.
 */
const GUARD = 'redis-server "$@" & r=$!; echo "guarded-pid $r"; read _ ; kill "$r" 2>/dev/null; wait "$r"';

interface Running {
  guard: ChildProcess;
  pid: number;
  exited: Promise<void>;
}

async function spawnGuarded(args: string[], readyTimeoutMs: number): Promise<Running> {
  const guard = spawn('sh', ['-c', GUARD, 'sh', ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  const exited = new Promise<void>((resolve) => guard.once('exit', () => resolve()));
  let log = '';
  let pid = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`redis-server not ready in ${readyTimeoutMs} ms:\n${log}`)),
        readyTimeoutMs,
      );
      const onData = (chunk: Buffer) => {
        log += chunk.toString();
        pid ||= Number(/guarded-pid (\d+)/.exec(log)?.[1] ?? 0);
        if (pid && /Ready to accept connections/.test(log)) {
          clearTimeout(timer);
          resolve();
        }
      };
      guard.stdout!.on('data', onData);
      guard.stderr!.on('data', onData);
      guard.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      guard.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${code}) before it was ready:\n${log}`));
      });
    });
  } catch (error) {
    guard.stdin!.end();
    await Promise.race([exited, new Promise((r) => setTimeout(r, 2_000))]);
    throw error;
  }
  // Its log is not needed past readiness; keep the pipes drained so the server never blocks on a full one.
  guard.stdout!.resume();
  guard.stderr!.resume();
  return { guard, pid, exited };
}

/** Closing the guard's stdin stops the server (SIGTERM) and the guard; resolves when the guard exited. */
async function stopGuarded(r: Running): Promise<void> {
  if (r.guard.exitCode === null && r.guard.signalCode === null) r.guard.stdin!.end();
  const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 5_000).unref());
  if ((await Promise.race([r.exited, timeout])) === 'timeout') {
    for (const pid of [r.pid, r.guard.pid]) {
      try {
        if (pid) process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await r.exited;
  }
}

export async function startOwnRedis(options: { readyTimeoutMs?: number } = {}): Promise<OwnRedis> {
  const readyMs = options.readyTimeoutMs ?? 10_000;
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'hp-demo-redis-'));
  const args = [
    '--bind',
    '127.0.0.1',
    '--port',
    String(port),
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'no',
    '--protected-mode',
    'no',
  ];
  let current: Running;
  try {
    current = await spawnGuarded(args, readyMs);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  let stopped = false;
  // A last resort for a demo that exits without running its shutdown (an uncaught error): the pipe closes then
  // anyway, but killing here does not depend on the guard noticing.
  const onExit = () => {
    try {
      process.kill(current.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  };
  process.once('exit', onExit);
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return current.pid;
    },
    async restart(downMs) {
      if (stopped) throw new Error('the demo Redis was stopped');
      const old = current;
      process.kill(old.pid, 'SIGKILL'); // a crash: no shutdown, nothing saved
      await stopGuarded(old);
      await new Promise((r) => setTimeout(r, downMs));
      current = await spawnGuarded(args, readyMs);
      return { oldPid: old.pid, newPid: current.pid };
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      process.off('exit', onExit);
      await stopGuarded(current);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
