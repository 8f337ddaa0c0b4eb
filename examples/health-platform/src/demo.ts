/**
 * `npm run demo [-- --once]`: starts the health platform — each group of services in its own Node process under
 * a small supervisor when Redis answers (every process shares state through it), else every service in this
 * process on the in-memory backends — runs the story, then keeps the stack and dashboard up until Ctrl-C
 * (with --once, exits 0 only if every step behaved). `--no-story` starts the stack without the story (the
 * dashboard test uses it); `--one-process` forces the single-process mode; `--verbose` logs to stdout.
 */
import { unlinkSync } from 'node:fs';
import { redisAnswers } from './infra';
import { operatorToken } from './operator';
import { type OwnRedis, redisServerInstalled, startOwnRedis } from './own-redis';
import { type Stack, startPlatform, startProcesses } from './platform';
import { runStory } from './story';

const args = new Set(process.argv.slice(2));
const once = args.has('--once');

/** Separate processes share state through Redis: without it, every service runs in this process. */
async function redisUp(): Promise<boolean> {
  const redis = await redisAnswers(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  redis?.disconnect();
  return redis !== undefined;
}

/**
 * The demo's own Redis (a `redis-server` on a free port, no persistence) when `redis-server` is installed and
 * `REDIS_URL` does not name one: story step 17 restarts it, which a shared Redis must never be. Why not, else.
 */
async function ownRedis(): Promise<{ own?: OwnRedis; why?: string }> {
  if (process.env.REDIS_URL) return { why: 'REDIS_URL names a Redis the demo does not own' };
  if (!redisServerInstalled()) return { why: 'redis-server is not installed' };
  try {
    const own = await startOwnRedis();
    process.env.REDIS_URL = own.url; // every service process gets it through the supervisor's environment
    return { own };
  } catch (error) {
    return { why: `its redis-server did not start (${error instanceof Error ? error.message : String(error)})` };
  }
}

async function main(): Promise<number> {
  const { own, why } = await ownRedis();
  if (own) console.log(`own Redis: redis-server pid ${own.pid} on ${own.url} (no persistence; stopped on exit)`);
  else console.log(`own Redis: none — ${why}; using ${process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'}`);
  const processes = !args.has('--one-process') && (await redisUp());
  console.log(
    processes
      ? 'Ballast health platform — starting each group of services in its own process…'
      : 'Ballast health platform — starting every service in this process…',
  );
  const verbose = args.has('--verbose');
  const t0 = Date.now();
  let stack: Stack;
  try {
    stack = processes ? await startProcesses({ verbose }) : await startPlatform({ verbose });
  } catch (error) {
    await own?.stop();
    throw error;
  }
  if (own) stack.ownRedis = own;
  else if (why) stack.noOwnRedis = why;
  const startedMs = Date.now() - t0;
  let closing = false;
  const shutdown = async (code: number) => {
    if (closing) return;
    closing = true;
    console.log(
      processes
        ? '\nshutting down: SIGTERM to every process (each deregisters and drains), then this run’s keys…'
        : "\nshutting down: draining consumers, deregistering services, removing this run's keys…",
    );
    const t = Date.now();
    await stack.close().catch((e) => console.error('shutdown error:', e));
    // Last: the services drained and the run's keys are gone, so nothing uses it any more.
    await own?.stop().catch((e) => console.error('stopping the demo Redis:', e));
    console.log(`(stopped in ${Date.now() - t} ms)`);
    if (stack.envFile) unlinkSync(stack.envFile);
    if (stack.supervisor) console.log(stack.supervisor.table());
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  try {
    return await run(stack, shutdown, startedMs);
  } catch (error) {
    // Once the stack is up, a failure still stops every process and removes the run's keys and files.
    console.error('demo failed:', error);
    await shutdown(1);
    return 1;
  }
}

async function run(stack: Stack, shutdown: (code: number) => Promise<void>, startedMs: number): Promise<number> {
  const { infra } = stack;
  const verbose = args.has('--verbose');

  for (const notice of infra.notices) console.log(`notice: ${notice}`);
  console.log(
    `backends: ${infra.redis ? `Redis ${infra.redisUrl}` : 'in-memory'} (key prefix ${infra.prefix}) · ` +
      `xiaoke queue on ${{ rabbitmq: `RabbitMQ ${infra.amqpUrl.replace(/\/\/[^@/]*@/, '//')} (job status in Redis)`, redis: `Redis${infra.rabbitmqReachable ? '' : ' (RabbitMQ not reachable)'}`, memory: 'memory' }[infra.queueBackend]} · ` +
      `${infra.consulIsEmulator ? `Consul emulator at ${infra.consulUrl}` : `Consul at ${infra.consulUrl}`}`,
  );
  const counts = new Map<string, number>();
  for (const s of stack.services) counts.set(s.name, (counts.get(s.name) ?? 0) + s.instances);
  console.log(`services: ${[...counts].map(([name, n]) => `${name}${n > 1 ? `×${n}` : ''}`).join(', ')}`);
  if (stack.supervisor) {
    console.log(`\n${stack.supervisor.table()}\n(every process up and passing its health check in ${startedMs} ms)\n`);
    console.log(`env:       ${stack.envFile} (run one more service into this stack: see the README)`);
  }
  const adminToken = await operatorToken(stack);
  console.log(`gateway:   ${stack.gatewayUrl}   metrics: ${stack.gatewayUrl}/metrics`);
  // The fragment carries the operator's token to the page (browsers never send it to the server).
  console.log(`dashboard: ${stack.gatewayUrl}/admin/login#token=${adminToken}`);
  console.log(`logs:      ${verbose ? 'stdout' : infra.logFile}`);

  let ok = true;
  if (!args.has('--no-story')) {
    console.log('\n━━ the story');
    ok = await runStory(stack, console.log, adminToken);
  }
  if (once) {
    if (stack.supervisor) console.log(`\n${stack.supervisor.table()}`);
    await shutdown(ok ? 0 : 1);
    return ok ? 0 : 1;
  }
  console.log(`\nThe stack stays up. Dashboard: ${stack.gatewayUrl}/admin/login#token=${adminToken} — Ctrl-C to stop.`);
  return new Promise<number>(() => {});
}

main().catch((error) => {
  console.error('demo failed:', error);
  process.exit(1);
});
