/** Starts the whole platform in one process: backends, every service on its own loopback port, the gateway. */
import { randomBytes } from 'node:crypto';
import { createLockManager, setLockManager } from '@ballast/lock';
import { createPlatformConfig, platformConfigStore } from './config';
import { Ctx, type RunningService } from './context';
import { ServiceRegistry } from './discovery';
import { startGateway } from './gateway';
import { type Infra, startInfra } from './infra';
import { installMetrics } from './metrics';
import { SagaFeed } from './sagas';
import { startAuthService } from './services/auth';
import { startBlockchainService } from './services/blockchain';
import { startHealthDataService } from './services/health-data';
import { startDiagnosisServices, startLaokeService, startRagService, startSoerService } from './services/simple';
import { startUserService } from './services/users';
import { startXiaoaiService } from './services/xiaoai';
import { startXiaokeService } from './services/xiaoke';

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

export type Platform = Awaited<ReturnType<typeof startPlatform>>;

export async function startPlatform(options: { verbose?: boolean } = {}) {
  const infra: Infra = await startInfra(options);
  const metrics = installMetrics();
  const registry = new ServiceRegistry(infra.consulUrl, { cacheTtlMs: 2_000 });
  const configStore = platformConfigStore(infra.redis, infra.prefix);
  const config = await createPlatformConfig(configStore, randomBytes(24).toString('hex'));
  const locks = createLockManager({
    ...(infra.redis ? { redis: infra.redis } : {}),
    prefix: infra.prefix,
    logger: infra.logger,
  });
  setLockManager(locks);
  const ctx = new Ctx(infra, registry, config, locks);
  const feed = new SagaFeed(ctx);

  const services: RunningService[] = [];
  services.push(await startUserService(ctx));
  services.push(await startAuthService(ctx));
  services.push(await startBlockchainService(ctx));
  const xiaoke = await startXiaokeService(ctx);
  services.push(xiaoke);
  services.push(await startHealthDataService(ctx, feed));
  services.push(await startRagService(ctx));
  services.push(await startLaokeService(ctx));
  services.push(await startSoerService(ctx));
  services.push(...(await startDiagnosisServices(ctx)));
  services.push(await startXiaoaiService(ctx, feed));
  const gateway = await startGateway(ctx, metrics, {
    feed,
    queue: xiaoke.queue as never,
    xiaokeConfig: xiaoke.config,
    services: SERVICES,
    configStore,
  });
  await registry.waitPassing(Object.fromEntries(SERVICES.map((s) => [s, s === 'rag-service' ? 2 : 1])));

  let closed = false;
  return {
    infra,
    ctx,
    feed,
    gateway,
    xiaoke,
    services,
    async close() {
      if (closed) return;
      closed = true;
      await gateway.close();
      for (const s of [...services].reverse()) await s.close().catch(() => {});
      await feed.close().catch(() => {});
      await ctx.closeBuses().catch(() => {});
      await ctx.client.close();
      await locks.close?.().catch(() => {});
      await config.close().catch(() => {});
      await configStore.close().catch(() => {});
      await metrics.close().catch(() => {});
      await registry.close().catch(() => {});
      await infra.close();
    },
  };
}
