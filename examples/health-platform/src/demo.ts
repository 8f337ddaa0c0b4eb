/**
 * `npm run demo [-- --once]`: starts every service of the health platform in this process, runs the story,
 * then keeps the stack and dashboard up until Ctrl-C (or, with --once, exits 0 only if every step behaved).
 * `--no-story` starts the stack without the story (the dashboard test uses it); `--verbose` logs to stdout.
 */
import { operatorToken } from './operator';
import { startPlatform } from './platform';
import { runStory } from './story';

const args = new Set(process.argv.slice(2));
const once = args.has('--once');

async function main(): Promise<number> {
  console.log('Ballast health platform — starting every service in one process…');
  const platform = await startPlatform({ verbose: args.has('--verbose') });
  const { infra, gateway } = platform;
  let closing = false;
  const shutdown = async (code: number) => {
    if (closing) return;
    closing = true;
    console.log("\nshutting down: draining consumers, deregistering services, removing this run's keys…");
    await platform.close().catch((e) => console.error('shutdown error:', e));
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));

  for (const notice of infra.notices) console.log(`notice: ${notice}`);
  console.log(
    `backends: ${infra.redis ? `Redis ${infra.redisUrl}` : 'in-memory'} (key prefix ${infra.prefix}) · ` +
      `xiaoke queue on ${{ rabbitmq: `RabbitMQ ${infra.amqpUrl.replace(/\/\/[^@/]*@/, '//')} (job status in Redis)`, redis: `Redis${infra.rabbitmqReachable ? '' : ' (RabbitMQ not reachable)'}`, memory: 'memory' }[infra.queueBackend]} · ` +
      `${infra.consulIsEmulator ? `Consul emulator at ${infra.consulUrl}` : `Consul at ${infra.consulUrl}`}`,
  );
  console.log(
    `services: ${platform.services.map((s) => `${s.name}${s.instances.length > 1 ? `×${s.instances.length}` : ''}`).join(', ')}, api-gateway`,
  );
  const adminToken = await operatorToken(platform);
  console.log(`gateway:   ${gateway.url}   metrics: ${gateway.url}/metrics`);
  // The fragment carries the operator's token to the page (browsers never send it to the server).
  console.log(`dashboard: ${gateway.url}/admin/login#token=${adminToken}`);
  console.log(`logs:      ${args.has('--verbose') ? 'stdout' : infra.logFile}`);

  let ok = true;
  if (!args.has('--no-story')) {
    console.log('\n━━ the story');
    ok = await runStory(platform, console.log, adminToken);
  }
  if (once) {
    await shutdown(ok ? 0 : 1);
    return ok ? 0 : 1;
  }
  console.log(`\nThe stack stays up. Dashboard: ${gateway.url}/admin/login#token=${adminToken} — Ctrl-C to stop.`);
  return new Promise<number>(() => {});
}

main().catch((error) => {
  console.error('demo failed:', error);
  process.exit(1);
});
