import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './redis-server';

const SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';
const CTL = '/usr/lib/rabbitmq/bin/rabbitmqctl';

/**
 * A PRIVATE RabbitMQ node for restart scenarios (the shared broker on 5672 is never touched): its own node name,
 * AMQP and distribution ports, data dir, log dir, Erlang cookie (a private HOME) and no plugins. Started as this
 * process's child (`rabbitmq-server` in the foreground), so `stop()` ends exactly what it started.
 */
export interface RabbitNode {
  readonly port: number;
  readonly url: string;
  readonly nodename: string;
  readonly dir: string;
  /** `rabbitmqctl -n <node> <args>` with the node's cookie. */
  ctl(...args: string[]): Promise<string>;
  /** A broker restart: the node stops (graceful `rabbitmqctl stop`) and starts again on its data (`wipe`: without). */
  restart(options?: { wipe?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export async function startRabbitNode(options: { readyTimeoutMs?: number } = {}): Promise<RabbitNode> {
  const port = await freePort();
  let dist = await freePort();
  while (dist === port) dist = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'ballast-rabbit-'));
  const home = join(dir, 'home');
  mkdirSync(home);
  writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
  writeFileSync(join(dir, 'rabbitmq.conf'), `listeners.tcp.1 = 127.0.0.1:${port}\n`);
  const nodename = `ballast-chaos-${port}@localhost`;
  const env = {
    ...process.env,
    HOME: home,
    RABBITMQ_NODENAME: nodename,
    RABBITMQ_DIST_PORT: String(dist),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_PID_FILE: join(dir, 'pid'),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq'),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, 'advanced.config'),
    RABBITMQ_CONF_ENV_FILE: join(dir, 'rabbitmq-env.conf'),
  };
  const readyMs = options.readyTimeoutMs ?? 90_000;
  let child: ChildProcess | undefined;

  const ctl = (...args: string[]) =>
    new Promise<string>((resolve, reject) => {
      execFile(CTL, ['-n', nodename, ...args], { env, timeout: 60_000 }, (error, stdout, stderr) =>
        error ? reject(new Error(`rabbitmqctl ${args.join(' ')}: ${stderr || error.message}`)) : resolve(stdout),
      );
    });

  const boot = async () => {
    const c = spawn(SERVER, [], { env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    // This process ending (a failed test, Ctrl-C) takes the node with it: no orphaned broker.
    const onExit = () => c.kill('SIGKILL');
    process.once('exit', onExit);
    c.once('exit', () => process.off('exit', onExit));
    let log = '';
    const onData = (b: Buffer) => {
      log = (log + b.toString()).slice(-4_000);
    };
    c.stdout!.on('data', onData);
    c.stderr!.on('data', onData);
    let exited = false;
    c.once('exit', () => {
      exited = true;
    });
    const deadline = Date.now() + readyMs;
    while (Date.now() < deadline) {
      if (exited) throw new Error(`rabbitmq-server exited before ready:\n${log}`);
      if (/completed with/.test(log) && (await portOpen(port))) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    c.kill('SIGKILL');
    throw new Error(`rabbitmq-server not ready within ${readyMs} ms:\n${log}`);
  };

  const halt = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise<void>((r) => c.once('exit', () => r()));
    await ctl('stop').catch(() => c.kill('SIGTERM'));
    const t = setTimeout(() => c.kill('SIGKILL'), 20_000);
    await gone;
    clearTimeout(t);
  };

  await boot();
  return {
    port,
    url: `amqp://guest:guest@127.0.0.1:${port}`,
    nodename,
    dir,
    ctl,
    async restart({ wipe = false } = {}) {
      await halt();
      if (wipe) rmSync(join(dir, 'mnesia'), { recursive: true, force: true });
      await boot();
    },
    async stop() {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
