import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A free loopback TCP port (bound and released: good enough for a server started right after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface RedisServer {
  port: number;
  /** `redis://127.0.0.1:<port>`. */
  url: string;
  /** Working directory (AOF/RDB, certificates), removed by `stop()`. */
  dir: string;
  /** The running `redis-server` process (a new one after `restart()`). */
  readonly process: ChildProcess;
  /** Stops the server, keeping its port and dir, so `restart()` can bring it back (an outage). */
  kill(): Promise<void>;
  /** Starts it again on the same port and dir (stopping it first if it runs); resolves once it accepts connections. */
  restart(): Promise<void>;
  /** SIGSTOP: the server keeps its connections but answers nothing (a hung server). `resume()` undoes it. */
  pause(): void;
  resume(): void;
  /** SIGTERM (SIGKILL after 5 s), and removes `dir` unless it was given. */
  stop(): Promise<void>;
}

export interface StartRedisOptions {
  /** Extra `redis-server` arguments, e.g. `['--appendonly', 'yes']`, `['--user', 'app on >pw ~k:* +get']`. */
  args?: readonly string[];
  /** Listen on this plain port (default: a free one). `0` disables it (TLS only). */
  port?: number;
  /** Use this directory (e.g. with certificates in it); default a fresh temp dir. */
  dir?: string;
  /** How long to wait for `Ready to accept connections` (default 15 s). */
  readyTimeoutMs?: number;
}

/** Spawns `redis-server` and resolves with the process once it logs that it accepts connections. */
async function spawnServer(args: readonly string[], readyTimeoutMs: number): Promise<ChildProcess> {
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server not ready:\n${log}`)), readyTimeoutMs);
    const onData = (chunk: Buffer) => {
      log += chunk.toString();
      if (/Ready to accept connections/.test(log)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (${code}) before ready:\n${log}`));
    });
  });
  try {
    await ready;
  } catch (error) {
    await terminate(child);
    throw error;
  }
  return child;
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGCONT'); // a paused server cannot act on SIGTERM
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(t);
}

/**
 * Starts a private `redis-server` on loopback for one test (its own port, its own dir, no persistence unless
 * asked), resolving when it accepts connections. Outage tests `kill()` it and `restart()` it on the same port.
 */
export async function startRedisServer(options: StartRedisOptions = {}): Promise<RedisServer> {
  const port = options.port ?? (await freePort());
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'ballast-redis-'));
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
    ...(options.args ?? []),
  ];
  const readyMs = options.readyTimeoutMs ?? 15_000;
  let child: ChildProcess;
  try {
    child = await spawnServer(args, readyMs);
  } catch (error) {
    if (!options.dir) rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    get process() {
      return child;
    },
    kill: () => terminate(child),
    async restart() {
      await terminate(child);
      child = await spawnServer(args, readyMs);
    },
    pause: () => void child.kill('SIGSTOP'),
    resume: () => void child.kill('SIGCONT'),
    async stop() {
      await terminate(child);
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
