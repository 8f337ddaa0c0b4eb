/**
 * What one process of the platform holds: the backends (its own, or the supervisor's when it joins a stack),
 * discovery, config-center, the lock manager, the service context and the saga feed.
 */
import { randomBytes } from 'node:crypto';
import { createLockManager, setLockManager } from '@ballast/lock';
import { createPlatformConfig, type PlatformConfig } from './config';
import { type ActivityLog, Ctx } from './context';
import { ServiceRegistry } from './discovery';
import { type Infra, startInfra } from './infra';
import type { SagaFeed } from './sagas';

export interface Runtime {
  infra: Infra;
  registry: ServiceRegistry;
  config: PlatformConfig;
  ctx: Ctx;
  /** The saga feed (and @ballast/saga), loaded by the first process part that needs it. */
  sagas(): Promise<SagaFeed>;
  /** The JWT secret every auth-service and gateway of this stack shares. */
  jwtSecret: string;
  close(): Promise<void>;
}

export async function startRuntime(
  options: {
    verbose?: boolean;
    join?: NonNullable<Parameters<typeof startInfra>[0]>['join'];
    activity?: ActivityLog;
    /** Names this process's config cache files (its group, or `supervisor`). */
    process?: string;
  } = {},
): Promise<Runtime> {
  const infra = await startInfra({
    ...(options.verbose === undefined ? {} : { verbose: options.verbose }),
    ...(options.join ? { join: options.join } : {}),
  });
  const registry = new ServiceRegistry(infra.consulUrl, { cacheTtlMs: 2_000 });
  const jwtSecret = process.env.HP_JWT_SECRET ?? randomBytes(24).toString('hex');
  const place = {
    consulUrl: infra.consulUrl,
    prefix: infra.prefix,
    process: options.process ?? 'main',
    logger: infra.logger,
  };
  // The process that starts a run (not one joining it) writes the chaos switches to Consul, all off.
  const config = await createPlatformConfig(place, jwtSecret, { seed: !options.join });
  const locks = createLockManager({
    ...(infra.redis ? { redis: infra.redis } : {}),
    prefix: infra.prefix,
    logger: infra.logger,
  });
  setLockManager(locks);
  const ctx = new Ctx(infra, registry, config, locks, options.activity, place);
  let feed: Promise<SagaFeed> | undefined;
  const sagas = () => {
    feed ??= import('./sagas').then(({ SagaFeed }) => new SagaFeed(ctx));
    return feed;
  };
  return {
    infra,
    registry,
    config,
    ctx,
    sagas,
    jwtSecret,
    async close() {
      await (await feed)?.close().catch(() => {});
      await ctx.closeBuses().catch(() => {});
      await ctx.client.close();
      await locks.close?.().catch(() => {});
      await config.close().catch(() => {});
      await registry.close().catch(() => {});
      await infra.close();
    },
  };
}
