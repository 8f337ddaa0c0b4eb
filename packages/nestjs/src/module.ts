import { BreakerRegistry } from '@ballast/circuit-breaker';
import { Config } from '@ballast/config-center';
import { Discovery } from '@ballast/discovery';
import { EventBus } from '@ballast/event-bus';
import { LockManager } from '@ballast/lock';
import { SagaOrchestrator } from '@ballast/saga';
import { type DynamicModule, Module, type Provider } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { BallastExplorer } from './explorer';
import { BallastHealthIndicator } from './health';
import { BallastLifecycle } from './lifecycle';
import {
  type BallastModuleAsyncOptions,
  type BallastModuleOptions,
  checkModuleOptions,
  type QueueRegistration,
} from './options';
import { BallastResources } from './resources';
import { BALLAST_OPTIONS, getQueueToken, getRedisToken } from './tokens';

/** Providers of the pieces, each resolved from the resources (`undefined` when not configured). */
function pieceProviders(connectionNames: readonly string[]): Provider[] {
  const from = (provide: unknown, pick: (r: BallastResources) => unknown): Provider => ({
    provide: provide as string,
    useFactory: pick,
    inject: [BallastResources],
  });
  return [
    from(getRedisToken(), (r) => r.redis),
    ...connectionNames.map((n) => from(getRedisToken(n), (r) => r.connections.get(n))),
    from(BreakerRegistry, (r) => r.breakers),
    from(LockManager, (r) => r.lock),
    from(EventBus, (r) => r.bus),
    from(SagaOrchestrator, (r) => r.saga),
    from(Discovery, (r) => r.discovery),
    from(Config, (r) => r.config),
  ];
}

function queueProviders(queues: readonly QueueRegistration[]): Provider[] {
  return queues.map((q) => ({
    provide: getQueueToken(q.name),
    useFactory: (r: BallastResources) => r.registerQueue(q),
    inject: [BallastResources],
  }));
}

function rootModule(
  isGlobal: boolean | undefined,
  optionsProvider: Provider,
  // biome-ignore lint/suspicious/noExplicitAny: Nest's own type for imports
  imports: any[],
  connectionNames: readonly string[],
  queues: readonly QueueRegistration[],
): DynamicModule {
  const providers: Provider[] = [
    optionsProvider,
    {
      provide: BallastResources,
      useFactory: (o: BallastModuleOptions) => BallastResources.create(o),
      inject: [BALLAST_OPTIONS],
    },
    ...pieceProviders(connectionNames),
    ...queueProviders(queues),
    BallastExplorer,
    BallastLifecycle,
    BallastHealthIndicator,
  ];
  return {
    module: BallastModule,
    global: isGlobal ?? true,
    imports: [DiscoveryModule, ...imports],
    providers,
    exports: [
      BALLAST_OPTIONS,
      BallastResources,
      BallastLifecycle,
      BallastHealthIndicator,
      getRedisToken(),
      ...connectionNames.map((n) => getRedisToken(n)),
      ...PIECE_TOKENS,
      ...queues.map((q) => getQueueToken(q.name)),
    ],
  };
}

const PIECE_TOKENS = [BreakerRegistry, LockManager, EventBus, SagaOrchestrator, Discovery, Config];

/**
 * Ballast in a Nest application, as `@nestjs/bullmq`'s `BullModule` is: `forRoot` / `forRootAsync` once
 * (global by default), `forFeature({ queues })` where queues are used. Providers: `BallastResources`, the
 * Redis client(s) (`getRedisToken`), `BreakerRegistry`, `LockManager`, `EventBus`, `SagaOrchestrator`,
 * `Discovery`, `Config`, each queue (`getQueueToken`) and `BallastHealthIndicator`. `@OnEvent`, `@Task`,
 * `@Saga` and `@WithLock` are wired by the module; nothing is registered by hand.
 */
@Module({})
// biome-ignore lint/complexity/noStaticOnlyClass: Nest's dynamic-module convention
export class BallastModule {
  static forRoot(options: BallastModuleOptions): DynamicModule {
    checkModuleOptions(options, 'BallastModule.forRoot');
    return rootModule(
      options.isGlobal,
      { provide: BALLAST_OPTIONS, useValue: options },
      [],
      Object.keys(options.connections ?? {}),
      options.queues ?? [],
    );
  }

  /**
   * Options from a factory, e.g. `@nestjs/config`'s `ConfigService`:
   * `forRootAsync({ imports: [ConfigModule], inject: [ConfigService], useFactory: (c) => ({ redis: c.get('REDIS_URL') }) })`.
   * Named connections are injectable only when listed in `connections` of the factory's result *and* named
   * here (`connectionNames`), since tokens exist before the factory runs.
   */
  static forRootAsync(options: BallastModuleAsyncOptions & { connectionNames?: readonly string[] }): DynamicModule {
    return rootModule(
      options.isGlobal,
      {
        provide: BALLAST_OPTIONS,
        useFactory: async (...args: unknown[]) => {
          const o = await options.useFactory(...args);
          checkModuleOptions(o, 'BallastModule.forRootAsync');
          return { ...o, queues: [...(options.queues ?? []), ...(o.queues ?? [])] };
        },
        inject: options.inject ?? [],
      },
      options.imports ?? [],
      options.connectionNames ?? [],
      options.queues ?? [],
    );
  }

  /**
   * Registers queues where they are used (`@InjectQueue(name)`, `@Task({ queue: ballastQueue(name) })`); the
   * root module must be global (the default) or imported beside it. Workers start for queues with `@Task`s.
   */
  static forFeature(options: { queues: readonly QueueRegistration[] }): DynamicModule {
    const providers = queueProviders(options.queues);
    return { module: BallastModule, providers, exports: providers.map((p) => (p as { provide: string }).provide) };
  }

  /** Alias of `forFeature({ queues })`, as `BullModule.registerQueue`. */
  static registerQueue(...queues: QueueRegistration[]): DynamicModule {
    return BallastModule.forFeature({ queues });
  }
}
