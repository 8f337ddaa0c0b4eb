/**
 * One process of the platform: `tsx src/service.ts <group | service> [--instance N] [--verbose]`.
 *
 * The supervisor (`src/supervisor.ts`) starts one per group with the stack's backends in the environment
 * (`infraEnv`) and an IPC channel: activities go up to it, and the gateway's process gets everyone else's back
 * (its dashboard and saga list). Started by hand with the environment of a running demo (the file the demo
 * prints: `set -a; . /tmp/hp-demo-….env`), a service joins that stack — e.g. a third rag-service instance:
 * `tsx src/service.ts rag-service --instance 3`; its activities go to stdout.
 *
 * SIGTERM (or SIGINT, or the supervisor going away): deregister from discovery (no new calls are routed here),
 * drain (HTTP in flight, queue jobs, event consumers), close the backends, exit 0.
 */
import { ActivityLog, type RunningService } from './context';
import { GROUPS, type Group, SERVICE_STARTERS, startEntry } from './groups';
import { joinedFromEnv } from './infra';
import { startRuntime } from './runtime';

const args = process.argv.slice(2);
const name = args.find((a) => !a.startsWith('--') && !/^\d+$/.test(a));
const instanceAt = args.indexOf('--instance');
const instance = instanceAt >= 0 ? Number(args[instanceAt + 1]) : undefined;

function groupOf(n: string | undefined): Group | undefined {
  if (!n) return undefined;
  const group = GROUPS.find((g) => g.name === n);
  if (group) return group;
  if (n === 'api-gateway' || SERVICE_STARTERS[n]) return { name: n, starts: [instance ? `${n}#${instance}` : n] };
  if (['look-service', 'listen-service', 'inquiry-service', 'palpation-service'].includes(n)) {
    return { name: n, starts: ['diagnosis-services'] }; // the four diagnoses start together
  }
  return undefined;
}

const group = groupOf(name);
if (!group) {
  console.error(
    `usage: tsx src/service.ts <group | service> [--instance N]\n  groups:   ${GROUPS.map((g) => g.name).join(', ')}\n` +
      `  services: api-gateway, ${Object.keys(SERVICE_STARTERS).join(', ')}`,
  );
  process.exit(2);
}

const send = process.send?.bind(process);
const activity = new ActivityLog({ group: group.name, pid: process.pid }, (a) =>
  send ? send({ t: 'activity', a }) : console.log(`[${a.service}] ${a.text}`),
);
const join = joinedFromEnv();
if (!join) {
  console.log(
    'HP_PREFIX is not set: this process starts its own backends (own key prefix, own Consul emulator) — ' +
      'calls to services it does not run find no instance. Load a running demo’s env file to join its stack.',
  );
}
const rt = await startRuntime({
  ...(join ? { join } : {}),
  activity,
  verbose: args.includes('--verbose'),
  process: `${group.name}${instance ? `-${instance}` : ''}-${process.pid}`,
});
if (instance !== undefined && group.starts.length === 1) rt.ctx.instance = instance;
const started: (RunningService & { url?: string })[] = [];
let stopping = false;

async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    setTimeout(() => process.exit(1), 10_000).unref(); // a drain that hangs does not keep the process
    for (const s of [...started].reverse()) await s.close().catch(() => {});
    await rt.close().catch(() => {});
    process.exit(code);
  }
  return new Promise<never>(() => {});
}
process.on('SIGTERM', () => void stop(0));
process.on('SIGINT', () => void stop(0));
process.on('disconnect', () => void stop(0)); // the supervisor went away: no orphans

try {
  for (const entry of group.starts) {
    if (entry === 'api-gateway') started.push(await (await import('./platform')).startGatewayService(rt));
    else started.push(...(await startEntry(rt, entry)));
  }
} catch (error) {
  console.error(`[${group.name}] failed to start:`, error);
  await stop(1);
}
process.on('message', (m: { t?: string; a?: Parameters<ActivityLog['ingest']>[0] }) => {
  if (m.t === 'activity' && m.a) activity.ingest(m.a);
});
const ready = {
  t: 'ready',
  group: group.name,
  pid: process.pid,
  services: started.map((s) => ({ name: s.name, instances: s.instances.map((i) => i.id) })),
  wantsActivity: group.starts.includes('api-gateway'),
  ...(started.find((s) => s.url) ? { gatewayUrl: started.find((s) => s.url)!.url } : {}),
};
if (send) send(ready);
else
  console.log(`${group.name} (pid ${process.pid}) up: ${ready.services.map((s) => s.instances.join(', ')).join(', ')}`);
