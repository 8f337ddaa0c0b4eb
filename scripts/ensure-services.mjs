#!/usr/bin/env node
// Makes sure the real servers the integration tests use answer on loopback:
//   Redis    127.0.0.1:6379  (PING → +PONG)
//   RabbitMQ 127.0.0.1:5672  (AMQP 0-9-1 header → Connection.Start frame)
//   Redis Cluster 127.0.0.1:7001-7003 and three independent Redis masters 127.0.0.1:7201-7203 (Redlock)
// and Debian's Chromium for the dashboard test.
// When a server is installed but down it is started — the Redis ones as whoever runs this, root or not: every
// file they write (logs, Cluster state) goes under the temp directory, never /var/lib or /var/log; RabbitMQ only
// as root (Debian's wrapper refuses other users). When it is missing and we are root it is installed with
// apt-get; otherwise we stop with the exact command to run.
// Usage: node scripts/ensure-services.mjs [redis] [redis-cluster] [redis-redlock] [rabbitmq] [chromium]   (default: all)
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const isRoot = process.getuid?.() === 0;

const writable = (path) => {
  try {
    accessSync(path, constants.W_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/**
 * A directory under the temp directory that the current user can write: `<tmp>/<name>/<sub>`, or — when an
 * earlier run as another user (root) left that one behind — `<tmp>/<name>-<uid>/<sub>`.
 */
function ownDir(name, sub) {
  for (const top of [name, `${name}-${process.getuid?.() ?? 'user'}`]) {
    const dir = join(tmpdir(), top, sub);
    try {
      mkdirSync(dir, { recursive: true });
    } catch {
      continue;
    }
    if (writable(dir)) return dir;
  }
  throw new Error(`no writable directory for ${name}/${sub} under ${tmpdir()} (set TMPDIR to one)`);
}

/** `--logfile <tmp>/<file>` when that file can be written (redis-server refuses to start otherwise), else none. */
function tmpLogfileArgs(file) {
  const path = join(tmpdir(), file);
  if (existsSync(path) ? writable(path) : writable(tmpdir())) return ['--logfile', path];
  return [];
}

// The redis-server arguments of each server we start, exported so they can be checked as a non-root user.

/**
 * The main Redis: exactly issue #3's command (`redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379
 * --save "" --appendonly no`) — no --dir: with no RDB and no AOF it writes no data file, so the working
 * directory does not matter — plus a log under the temp directory when that can be written.
 */
export function redisArgs(port = 6379) {
  const args = ['--daemonize', 'yes', '--bind', '127.0.0.1', '-::1', '--port', String(port)];
  return [...args, '--save', '', '--appendonly', 'no', ...tmpLogfileArgs(`ballast-redis-${port}.log`)];
}

/** A Cluster node: it must write its nodes.conf, so its --dir is a directory this user can write. */
export function clusterNodeArgs(port) {
  const dir = ownDir('ballast-redis-cluster', String(port));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes'];
  args.push('--cluster-config-file', 'nodes.conf', '--dir', dir, '--daemonize', 'yes');
  return [...args, '--save', '', '--appendonly', 'no', '--logfile', join(dir, 'redis.log')];
}

/** One of the independent Redlock masters. */
export function redlockNodeArgs(port) {
  const dir = ownDir('ballast-redlock', String(port));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--daemonize', 'yes'];
  return [...args, '--save', '', '--appendonly', 'no', '--dir', dir, '--logfile', join(dir, 'redis.log')];
}

/** Sends `payload` to host:port and resolves true when `accept(firstChunk)` holds. */
function probe(port, payload, accept, timeoutMs = 1500) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write(payload));
    socket.once('data', (chunk) => done(accept(chunk)));
  });
}

const CLUSTER_PORTS = [7001, 7002, 7003];
const clusterOk = (port) => probe(port, 'CLUSTER INFO\r\n', (b) => b.toString().includes('cluster_state:ok'));

const REDLOCK_PORTS = [7201, 7202, 7203];
const pong = (port) => probe(port, 'PING\r\n', (b) => b.toString().startsWith('+PONG'));
const answers = (port) =>
  spawnSync('redis-cli', ['-p', String(port), 'PING'], { encoding: 'utf8' }).stdout?.trim() === 'PONG';

/** Whether the broker on 127.0.0.1:5672 answers the AMQP header with a frame — synchronous, for the start hook. */
function amqpAnswers() {
  const script = `const s=require('net').connect(5672,'127.0.0.1');s.on('connect',()=>s.write(Buffer.from('AMQP\\x00\\x00\\x09\\x01','latin1')));s.on('data',(b)=>process.exit(b[0]===1?0:1));s.on('error',()=>process.exit(1));setTimeout(()=>process.exit(1),1500)`;
  return spawnSync(process.execPath, ['-e', script], { timeout: 4_000 }).status === 0;
}

function waitSync(cond, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (cond()) return true;
    spawnSync('sleep', ['0.5']);
  }
  return cond();
}

/** rabbitmqctl, bounded: its CLI node can hang on a wedged broker. */
const ctl = (args, timeout) => spawnSync('rabbitmqctl', args, { stdio: 'inherit', timeout }).status === 0;

/** A RabbitMQ Erlang node is running (whether or not its application is). */
const rabbitNodeAlive = () => spawnSync('pgrep', ['-f', 'beam.*-s rabbit boot'], { stdio: 'ignore' }).status === 0;

function rabbitLogTail() {
  const dir = '/var/log/rabbitmq';
  try {
    const logs = readdirSync(dir)
      .filter((f) => f.endsWith('.log'))
      .map((f) => join(dir, f));
    const newest = logs.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
    return newest ? readFileSync(newest, 'utf8').split('\n').slice(-25).join('\n') : undefined;
  } catch {
    return undefined;
  }
}

export const services = {
  redis: {
    label: 'Redis 127.0.0.1:6379',
    binary: 'redis-server',
    aptPackages: ['redis-server'],
    check: () => probe(6379, 'PING\r\n', (b) => b.toString().startsWith('+PONG')),
    start: () => spawnSync('redis-server', redisArgs(6379), { stdio: 'inherit' }).status === 0,
    startHint: 'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no',
    waitMs: 20_000,
  },
  // A local 3-master Redis Cluster for the Cluster tests (keys in different slots, MOVED, hash tags).
  'redis-cluster': {
    label: 'Redis Cluster 127.0.0.1:7001-7003',
    binary: 'redis-server',
    aptPackages: ['redis-server'],
    check: async () => (await Promise.all(CLUSTER_PORTS.map(clusterOk))).every(Boolean),
    start() {
      for (const port of CLUSTER_PORTS) {
        if (answers(port)) continue; // only the ones that are down
        if (spawnSync('redis-server', clusterNodeArgs(port), { stdio: 'inherit' }).status !== 0) return false;
      }
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && !CLUSTER_PORTS.every(answers)) spawnSync('sleep', ['0.2']);
      // A node that kept its nodes.conf may already be in a healthy cluster: keep it.
      const healthy = (port) =>
        spawnSync('redis-cli', ['-p', String(port), 'CLUSTER', 'INFO'], { encoding: 'utf8' }).stdout?.includes(
          'cluster_state:ok',
        );
      if (CLUSTER_PORTS.every(healthy)) return true;
      // Otherwise what is there is a half-formed or broken cluster left by an earlier run (a node
      // restarted without its nodes.conf, keys in db 0). It only ever holds test data: wipe every
      // node and form the cluster afresh, or `--cluster create` refuses with "node is not empty".
      for (const port of CLUSTER_PORTS) {
        spawnSync('redis-cli', ['-p', String(port), 'FLUSHALL'], { encoding: 'utf8' });
        spawnSync('redis-cli', ['-p', String(port), 'CLUSTER', 'RESET', 'HARD'], { encoding: 'utf8' });
      }
      const nodes = CLUSTER_PORTS.map((p) => `127.0.0.1:${p}`);
      return (
        spawnSync('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes'], {
          stdio: 'inherit',
        }).status === 0
      );
    },
    startHint: 'node scripts/ensure-services.mjs redis-cluster',
    waitMs: 30_000,
  },
  // Three independent, non-persistent Redis masters for the Redlock tests (a quorum is 2 of 3).
  'redis-redlock': {
    label: 'Redis (Redlock) 127.0.0.1:7201-7203',
    binary: 'redis-server',
    aptPackages: ['redis-server'],
    check: async () => (await Promise.all(REDLOCK_PORTS.map(pong))).every(Boolean),
    start() {
      for (const port of REDLOCK_PORTS) {
        if (answers(port)) continue; // only the ones that are down
        if (spawnSync('redis-server', redlockNodeArgs(port), { stdio: 'inherit' }).status !== 0) return false;
      }
      return true;
    },
    startHint: 'node scripts/ensure-services.mjs redis-redlock',
    waitMs: 20_000,
  },
  rabbitmq: {
    label: 'RabbitMQ 127.0.0.1:5672',
    binary: 'rabbitmq-server',
    aptPackages: ['rabbitmq-server'],
    // A server answers the protocol header with a method frame (type 1).
    check: () => probe(5672, Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'), (b) => b[0] === 1),
    // Debian's rabbitmq-server wrapper runs the broker only as root (it switches to the rabbitmq user) or as
    // rabbitmq; for anyone else it is refused (after running the server in the foreground with no arguments),
    // so we do not try: the hint says sudo.
    start() {
      if (!isRoot && userInfo().username !== 'rabbitmq') return false;
      if (isRoot) mkdirSync('/var/log/rabbitmq', { recursive: true });
      // The port can be closed while the node itself runs: its application was stopped (`rabbitmqctl stop_app`
      // by a fault test that did not get to `start_app`) or it is wedged. `rabbitmq-server -detached` then
      // fails quietly — the node name is taken — and nothing ever answers (a CI run here waited its 90 s out).
      // So a live node is asked to start its application; a node that will not is stopped, killed if need be,
      // and the broker started afresh.
      // A node can also be wedged with its application running: connections accepted and never answered (seen
      // here after two concurrent deletes of one vhost) — start_app then succeeds at once and changes nothing, so
      // what counts is the protocol answer (`amqpAnswers`), not an open port.
      if (rabbitNodeAlive()) {
        // It may be booting (a normal boot answers within seconds): give it 20 s before anything else.
        console.log('[services] RabbitMQ: the node runs but does not answer yet; waiting for it');
        if (waitSync(amqpAnswers, 20_000)) return true;
        console.log('[services] RabbitMQ: still no answer; rabbitmqctl start_app');
        if (ctl(['start_app'], 30_000) && waitSync(amqpAnswers, 20_000)) return true;
        console.log('[services] RabbitMQ: the node still does not answer; stopping it');
        ctl(['stop'], 20_000);
        if (!waitSync(() => !rabbitNodeAlive(), 10_000)) {
          spawnSync('pkill', ['-9', '-f', 'beam.*-s rabbit boot'], { stdio: 'ignore' });
          waitSync(() => !rabbitNodeAlive(), 10_000);
        }
      }
      return spawnSync('rabbitmq-server', ['-detached'], { stdio: 'inherit', timeout: 60_000 }).status === 0;
    },
    // What the broker logged, shown when it did not come up.
    diagnose: () => rabbitLogTail(),
    startHint: isRoot ? 'rabbitmq-server -detached' : 'sudo rabbitmq-server -detached',
    waitMs: 90_000,
  },
  // Not a server: Debian's Chromium, which the dashboard's end-to-end test drives through playwright-core
  // (browser downloads do not work here, so the project installs the distribution's build).
  chromium: {
    label: 'Chromium /usr/bin/chromium',
    binary: 'chromium',
    aptPackages: ['chromium'],
    check: async () => existsSync('/usr/bin/chromium'),
    start: () => existsSync('/usr/bin/chromium'),
    // Nothing to start: installing it is all (see installHint).
    startHint: undefined,
    waitMs: 1_000,
  },
};

function which(bin) {
  const paths = (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/usr/local/sbin', '/sbin']);
  return paths.some((p) => existsSync(`${p}/${bin}`));
}

async function waitFor(service) {
  const deadline = Date.now() + service.waitMs;
  while (Date.now() < deadline) {
    if (await service.check()) return true;
    await new Promise((r) => setTimeout(r, 500));
  }
  return false;
}

/** The one command that installs (and, for a server, starts) `service`: what a non-root user is told to run. */
export function installHint(service) {
  const install = `sudo apt-get update && sudo apt-get install -y --no-install-recommends ${service.aptPackages.join(' ')}`;
  return service.startHint ? `${install} && ${service.startHint}` : install;
}

let aptUpdated = false;
function aptInstall(pkgs) {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) {
    if (spawnSync('apt-get', ['update'], { stdio: 'inherit', env }).status !== 0) return false;
    aptUpdated = true;
  }
  return (
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], { stdio: 'inherit', env }).status === 0
  );
}

export async function ensureService(name) {
  const service = services[name];
  if (await service.check()) {
    console.log(`[services] ${service.label}: up`);
    return;
  }
  if (!which(service.binary)) {
    if (!isRoot) throw new Error(`${service.label} is not installed. Run: ${installHint(service)}`);
    console.log(`[services] ${service.label}: not installed, apt-get install ${service.aptPackages.join(' ')}`);
    if (!aptInstall(service.aptPackages)) throw new Error(`apt-get install ${service.aptPackages.join(' ')} failed`);
    // The Debian package may have started it already.
    if (await waitFor({ ...service, waitMs: 5_000 })) {
      console.log(`[services] ${service.label}: up after install`);
      return;
    }
  }
  console.log(`[services] ${service.label}: down, starting it`);
  const byHand = service.startHint ?? installHint(service);
  if (!service.start()) throw new Error(`${service.label} could not be started here. Run: ${byHand}`);
  if (!(await waitFor(service))) {
    const why = service.diagnose?.();
    if (why) console.error(`[services] ${service.label}: what it logged last:\n${why}`);
    throw new Error(`${service.label} did not answer after starting it. Start it by hand: ${byHand}`);
  }
  console.log(`[services] ${service.label}: up`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const wanted = process.argv.slice(2);
  const names = wanted.length > 0 ? wanted : Object.keys(services);
  try {
    for (const name of names) {
      if (!services[name]) throw new Error(`unknown service "${name}"; known: ${Object.keys(services).join(', ')}`);
      await ensureService(name);
    }
  } catch (err) {
    console.error(`[services] ${err.message}`);
    process.exit(1);
  }
}
