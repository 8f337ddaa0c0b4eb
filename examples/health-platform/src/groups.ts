/**
 * Which services run together. `npm run demo` starts each group as its own Node process (`src/service.ts
 * <group>`) under the supervisor; without Redis (nothing to share state through) every group runs in the demo's
 * one process instead. health-data-service runs twice, in two processes, so a saga whose process dies is resumed
 * by the other instance's sweeper.
 */
import type { RunningService } from './context';
import type { Runtime } from './runtime';

// Each process loads only the modules of the services it runs (dynamic imports): every Ballast package costs
// a few hundred ms of CPU to load, and the demo starts six processes on what may be a small machine.
type Starter = (rt: Runtime, instance: number) => Promise<RunningService | RunningService[]>;

/** Every service the platform has, by name (the gateway is its own group: see `startGatewayGroup`). */
export const SERVICE_STARTERS: Record<string, Starter> = {
  'user-service': async (rt) => (await import('./services/users')).startUserService(rt.ctx),
  'auth-service': async (rt) => (await import('./services/auth')).startAuthService(rt.ctx),
  'blockchain-service': async (rt) => (await import('./services/blockchain')).startBlockchainService(rt.ctx),
  'health-data-service': async (rt, i) =>
    (await import('./services/health-data')).startHealthDataService(rt.ctx, await rt.sagas(), i),
  'xiaoke-service': async (rt) => (await import('./services/xiaoke')).startXiaokeService(rt.ctx),
  'rag-service': async (rt) => (await import('./services/simple')).startRagService(rt.ctx),
  'laoke-service': async (rt) => (await import('./services/simple')).startLaokeService(rt.ctx),
  'soer-service': async (rt) => (await import('./services/simple')).startSoerService(rt.ctx),
  // look, listen, inquiry and palpation share one starter (and one module).
  'diagnosis-services': async (rt) => (await import('./services/simple')).startDiagnosisServices(rt.ctx),
  'xiaoai-service': async (rt) => (await import('./services/xiaoai')).startXiaoaiService(rt.ctx, await rt.sagas()),
};

export interface Group {
  name: string;
  /** What it starts, in order (`name` or `name#instance`). */
  starts: string[];
  /** Only when the platform runs as separate processes (a second instance needs state shared through Redis). */
  processesOnly?: boolean;
}

export const GROUPS: Group[] = [
  { name: 'accounts', starts: ['user-service', 'auth-service', 'blockchain-service'] },
  { name: 'health-data-1', starts: ['health-data-service#1'] },
  { name: 'health-data-2', starts: ['health-data-service#2'], processesOnly: true },
  { name: 'xiaoke', starts: ['xiaoke-service'] },
  {
    name: 'agents',
    starts: ['rag-service', 'laoke-service', 'soer-service', 'diagnosis-services', 'xiaoai-service'],
  },
  { name: 'gateway', starts: ['api-gateway'] },
];

/** Every service's name as discovery knows it (the dashboard lists them). */
export const SERVICES = [
  'api-gateway',
  'auth-service',
  'user-service',
  'health-data-service',
  'blockchain-service',
  'rag-service',
  'xiaoai-service',
  'xiaoke-service',
  'laoke-service',
  'soer-service',
  'look-service',
  'listen-service',
  'inquiry-service',
  'palpation-service',
];

/** Starts one entry of a group (`name` or `name#instance`), except the gateway. */
export async function startEntry(rt: Runtime, entry: string): Promise<RunningService[]> {
  const [name, instance] = entry.split('#') as [string, string | undefined];
  const start = SERVICE_STARTERS[name];
  if (!start) throw new Error(`unknown service "${name}" (known: ${Object.keys(SERVICE_STARTERS).join(', ')})`);
  const started = await start(rt, Number(instance ?? 1));
  return Array.isArray(started) ? started : [started];
}
