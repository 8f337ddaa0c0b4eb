import 'reflect-metadata';
import { BreakerRegistry, getBreakerRegistry } from '@ballast/circuit-breaker';
import { type Config, defaults } from '@ballast/config-center';
import { createLogger, type InvalidOptionsError, isInvalidOptionsError, type Redis } from '@ballast/core';
import { Discovery } from '@ballast/discovery';
import { EventBus, type EventEnvelope, OnEvent } from '@ballast/event-bus';
import {
  createLockManager,
  getLockManager,
  LockManager,
  LockManagerNotConfiguredError,
  lockKeys,
  setLockManager,
  WithLock,
} from '@ballast/lock';
import { type Queue, Task } from '@ballast/queue';
import { MemorySagaStore, Saga, SagaOrchestrator, Step } from '@ballast/saga';
import { defaultRedisUrl, FakeClock, type RedisFixture } from '@ballast/testkit';
import { Inject, Injectable, Module, Scope } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  BallastLifecycle,
  BallastModule,
  ballastQueue,
  InjectBus,
  InjectConfig,
  InjectLockManager,
  InjectQueue,
  InjectRedis,
  isBallastNotConfiguredError,
  isQueueNotRegisteredError,
  SHUTDOWN_STEPS,
} from '../../src/index';
import { deferred, nestHarness } from './harness';
import { nestMajor } from './nest-version';

const settings = z.object({ feature: z.object({ limit: z.number() }) });

const events = { 'user.registered': z.object({ email: z.string() }) };

/** The same test bodies run on NestJS 11 (packages/nestjs) and NestJS 10 (tests/nestjs-module-v10). */
export function describeBallastModule(expectedMajor: number): void {
  describe(`BallastModule on NestJS ${expectedMajor}`, () => {
    const h = nestHarness(`nestjs-module-v${expectedMajor}`);
    const start = (m: unknown) => h.start(m);
    const base = () => h.base();
    let fx: RedisFixture;
    beforeAll(() => {
      fx = h.fx;
    });

    it('runs on the expected NestJS major', () => {
      expect(nestMajor).toBe(expectedMajor);
    });

    it('provides every configured piece under its token, and only those', async () => {
      @Injectable()
      class Uses {
        constructor(
          @InjectBus() readonly bus: EventBus<typeof events>,
          @InjectLockManager() readonly lock: LockManager,
          @InjectQueue('emails') readonly emails: Queue,
          @InjectRedis() readonly redis: Redis,
          @Inject(BreakerRegistry) readonly breakers: BreakerRegistry,
          @Inject(SagaOrchestrator) readonly saga: SagaOrchestrator | undefined,
          @Inject(Discovery) readonly discovery: Discovery | undefined,
          @InjectRedis('cache') readonly cache: Redis,
          @InjectConfig() readonly config: Config<typeof settings>,
        ) {}
      }
      @Module({
        imports: [
          BallastModule.forRoot({
            ...base(),
            lock: true,
            eventBus: { source: 'svc', events },
            queues: [{ name: 'emails' }],
            connections: { cache: defaultRedisUrl() },
            config: { schema: settings, sources: [defaults({ feature: { limit: 7 } })] },
          }),
        ],
        providers: [Uses],
      })
      class App {}
      const app = await start(App);
      const u = app.get(Uses);
      expect(u.bus).toBeInstanceOf(EventBus);
      expect(u.lock).toBeInstanceOf(LockManager);
      expect(u.emails.name).toBe('emails');
      expect(u.emails.backend.kind).toBe('redis');
      expect(await u.redis.ping()).toBe('PONG');
      expect(u.breakers).toBeInstanceOf(BreakerRegistry);
      expect(u.saga).toBeUndefined();
      expect(u.discovery).toBeUndefined();
      expect(await u.cache.ping()).toBe('PONG');
      expect(u.cache).not.toBe(u.redis);
      expect(u.config.get('feature.limit')).toBe(7);
    });

    it('forRootAsync takes its options from @nestjs/config', async () => {
      const url = base().redis as string;
      @Injectable()
      class Uses {
        constructor(@InjectQueue('jobs') readonly jobs: Queue) {}
      }
      @Module({
        imports: [
          BallastModule.forRootAsync({
            imports: [
              ConfigModule.forRoot({
                ignoreEnvFile: true,
                load: [() => ({ REDIS_URL: url, PREFIX: `${fx.prefix}:async` })],
              }),
            ],
            inject: [ConfigService],
            useFactory: (config: ConfigService) => ({
              redis: config.getOrThrow<string>('REDIS_URL'),
              prefix: config.getOrThrow<string>('PREFIX'),
              lock: true,
            }),
            queues: [{ name: 'jobs' }],
          }),
        ],
        providers: [Uses],
      })
      class App {}
      const app = await start(App);
      const added = await app.get(Uses).jobs.add('x', { n: 1 });
      const keys = await fx.redis.keys(`${fx.prefix}:async*`);
      expect(keys.length).toBeGreaterThan(0);
      expect(added.id).toBeTruthy();
      expect(app.get(LockManager)).toBeInstanceOf(LockManager);
    });

    it('subscribes @OnEvent handlers, runs @Task methods on a started worker, and locks @WithLock on the module manager', async () => {
      const got = deferred<EventEnvelope<{ email: string }>>();
      const ran = deferred<{ to: string; lockHeld: number }>();
      @Injectable()
      class Mailer {
        @OnEvent('user.registered', { group: 'mailer' })
        async welcome(event: EventEnvelope<{ email: string }>) {
          got.resolve(event);
        }

        // Stacked as the README shows: @Task top-most, @WithLock below it runs with the work on the worker.
        @Task({ queue: ballastQueue('emails') })
        @WithLock('mail:{0}', { ttlMs: 5_000 })
        async send(to: string): Promise<unknown> {
          // The lock is held in Redis under the module's prefix: the module's (Redis) manager was used.
          const lockHeld = await fx.redis.exists(lockKeys(fx.prefix, `mail:${to}`).owners);
          ran.resolve({ to, lockHeld });
          return 'sent';
        }
      }
      @Module({
        imports: [
          BallastModule.forRoot({
            ...base(),
            lock: true,
            eventBus: { source: 'svc', events },
            queues: [{ name: 'emails', worker: { concurrency: 2 } }],
          }),
        ],
        providers: [Mailer],
      })
      class App {}
      const app = await start(App);
      const bus = app.get(EventBus) as EventBus<typeof events>;
      await bus.publish('user.registered', { email: 'a@b.c' });
      expect((await got.promise).data).toEqual({ email: 'a@b.c' });

      const added = (await app.get(Mailer).send('ann')) as unknown as { id: string };
      expect(added.id).toBeTruthy();
      expect(await ran.promise).toEqual({ to: 'ann', lockHeld: 1 });
      expect(app.get(BallastLifecycle).workers.map((w) => w.id.split(':')[0])).toEqual(['emails']);
    });

    it('registers @Saga classes, so the recovery sweeper resumes their abandoned runs', async () => {
      const clock = new FakeClock();
      const store = new MemorySagaStore({ clock });
      const steps: string[] = [];
      @Saga('order')
      @Injectable()
      class OrderSaga {
        @Step()
        async reserve() {
          steps.push('reserve');
          return { reserved: true };
        }
      }
      @Module({
        imports: [BallastModule.forRoot({ saga: { store, clock, sweepIntervalMs: 0, leaseMs: 1_000 } })],
        providers: [OrderSaga],
      })
      class App {}
      const app = await start(App);
      await store.create({ id: 'o-1', saga: 'order', owner: 'crashed', context: '{}' }, 1_000);
      await clock.advance(2_000);
      const orchestrator = app.get(SagaOrchestrator);
      expect(await orchestrator.sweep()).toEqual(['o-1']);
      expect((await orchestrator.settled('o-1'))?.status).toBe('completed');
      expect(steps).toEqual(['reserve']);
    });

    it('a decorator whose piece is not configured fails the bootstrap with a typed error naming the option', async () => {
      @Injectable()
      class Handler {
        @OnEvent('user.registered')
        async on() {}
      }
      @Module({ imports: [BallastModule.forRoot({})], providers: [Handler] })
      class App {}
      const error = await start(App).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isBallastNotConfiguredError(error)).toBe(true);
      expect(String((error as Error).message)).toMatch(/eventBus.*|.*eventBus/);
      expect(String((error as Error).message)).toContain('Handler.on');
    });

    it('a failed bootstrap closes the connections the module made (nothing leaks)', async () => {
      const connectionName = `ballast-nest-leak-${process.pid}-${Date.now()}`;
      @Injectable()
      class Handler {
        constructor(@InjectRedis() private readonly redis: Redis) {}
        // The connection is up before bootstrap fails, so a leak would show in CLIENT LIST.
        async onModuleInit() {
          await this.redis.ping();
        }
        @OnEvent('user.registered')
        async on() {}
      }
      @Module({
        imports: [BallastModule.forRoot({ ...base(), redis: { url: defaultRedisUrl(), connectionName } })],
        providers: [Handler],
      })
      class App {}
      const error = await start(App).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isBallastNotConfiguredError(error)).toBe(true);
      expect(String(await fx.redis.client('LIST'))).not.toContain(connectionName);
    });

    it('bad module options are one typed error naming every bad field', () => {
      const error = (() => {
        try {
          BallastModule.forRoot({ shutdownTimeoutMs: -1, queues: [{ name: 'a' }, { name: 'a' }] });
        } catch (e) {
          return e;
        }
      })();
      expect(isInvalidOptionsError(error)).toBe(true);
      expect((error as InvalidOptionsError).issues.map((i) => i.path)).toEqual(['shutdownTimeoutMs', 'queues[1].name']);
    });

    it('@OnEvent on a request-scoped provider is not wired, and a warning says so', async () => {
      const lines: { msg?: string; class?: string; methods?: string[] }[] = [];
      const logger = createLogger({ destination: { write: (l: string) => void lines.push(JSON.parse(l)) } });
      @Injectable({ scope: Scope.REQUEST })
      class PerRequest {
        @OnEvent('user.registered')
        async on() {}
      }
      @Module({
        imports: [BallastModule.forRoot({ ...base(), logger, eventBus: { source: 'svc', events } })],
        providers: [PerRequest],
      })
      class App {}
      const app = await start(App);
      expect(app.get(BallastLifecycle).subscriptions).toHaveLength(0);
      expect(lines.find((l) => l.class === 'PerRequest')?.methods).toEqual(['on']);
    });

    it('a @Task on a queue nobody registered is a typed error naming the registration to add', async () => {
      @Injectable()
      class T {
        @Task({ queue: ballastQueue('nowhere') })
        async job(): Promise<unknown> {
          return undefined;
        }
      }
      @Module({ imports: [BallastModule.forRoot({})], providers: [T] })
      class App {}
      const error = await start(App).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isQueueNotRegisteredError(error)).toBe(true);
      expect((error as Error).message).toContain('forFeature({ queues })');
    });

    it('forFeature registers queues where they are used; @InjectQueue finds them', async () => {
      @Injectable()
      class Reports {
        constructor(@InjectQueue('reports') readonly queue: Queue) {}
      }
      @Module({ imports: [BallastModule.forFeature({ queues: [{ name: 'reports' }] })], providers: [Reports] })
      class Feature {}
      @Module({ imports: [BallastModule.forRoot({ ...base() }), Feature] })
      class App {}
      const app = await start(App);
      const q = app.get(Reports).queue;
      expect(q.name).toBe('reports');
      await q.add('r', { n: 1 });
      expect((await q.counts()).waiting).toBe(1);
    });

    it('shuts down in order: stop intake, drain, release locks, deregister, close connections', async () => {
      const reports: unknown[] = [];
      const discovery = { register: { name: 'svc', address: '127.0.0.1', port: 3999, check: false as const } };
      @Module({
        imports: [BallastModule.forRoot({ ...base(), lock: true, discovery, onShutdown: (r) => reports.push(r) })],
      })
      class App {}
      const app = await start(App);
      const d = app.get(Discovery);
      await app.get(LockManager).acquire('held-at-shutdown', { ttlMs: 60_000 });
      expect(await fx.redis.exists(lockKeys(fx.prefix, 'held-at-shutdown').owners)).toBe(1);
      const id = app.get(BallastLifecycle).registration!.id;
      expect(await d.backend.isRegistered(id)).toBe(true);
      h.detach(app);
      await app.close();
      const report = reports[0] as { ok: boolean; steps: { name: string; status: string }[] };
      expect(report.ok).toBe(true);
      expect(report.steps.map((s) => s.name)).toEqual([...SHUTDOWN_STEPS]);
      // The lease was released (not left to expire): no holder is left in Redis.
      expect(await fx.redis.exists(lockKeys(fx.prefix, 'held-at-shutdown').owners)).toBe(0);
      expect(await fx.redis.keys(`${fx.prefix}*${id}*`)).toEqual([]);
    });

    it('a drain that overruns shutdownTimeoutMs is reported as a timeout and the close still ends in bound', async () => {
      const started = deferred<void>();
      const reports: { ok: boolean; steps: { name: string; status: string; error?: unknown }[] }[] = [];
      const lines: { msg?: string; step?: string; err?: { code?: string } }[] = [];
      const logger = createLogger({ destination: { write: (l: string) => void lines.push(JSON.parse(l)) } });
      @Injectable()
      class Stuck {
        @Task({ queue: ballastQueue('stuck') })
        async forever(): Promise<unknown> {
          started.resolve();
          return new Promise(() => {});
        }
      }
      @Module({
        imports: [
          BallastModule.forRoot({
            ...base(),
            queues: [{ name: 'stuck', worker: { drainTimeoutMs: 60_000 } }],
            shutdownTimeoutMs: 300,
            onShutdown: (r) => reports.push(r),
            logger,
          }),
        ],
        providers: [Stuck],
      })
      class App {}
      const app = await start(App);
      await app.get(Stuck).forever();
      await started.promise;
      h.detach(app);
      const t0 = performance.now();
      await app.close();
      expect(performance.now() - t0).toBeLessThan(2_000);
      const drain = reports[0]!.steps.find((s) => s.name === 'drain')!;
      expect(drain.status).toBe('timeout');
      expect((drain.error as { code?: string }).code).toBe('SHUTDOWN_TIMEOUT');
      expect(reports[0]!.ok).toBe(false);
      const logged = lines.find((l) => l.step === 'drain' && l.msg === 'ballast shutdown step timeout');
      expect(logged?.err?.code).toBe('SHUTDOWN_TIMEOUT');
    });

    it('puts the process-wide lock manager and breaker registry back at shutdown (a next app does not inherit closed ones)', async () => {
      const lockBefore = createLockManager();
      setLockManager(lockBefore);
      const breakersBefore = getBreakerRegistry();
      @Module({ imports: [BallastModule.forRoot({ ...base(), lock: true, breakers: { timeoutMs: 1_000 } })] })
      class App {}
      const app = await start(App);
      expect(getLockManager()).toBe(app.get(LockManager));
      expect(getBreakerRegistry()).toBe(app.get(BreakerRegistry));
      h.detach(app);
      await app.close();
      expect(getLockManager()).toBe(lockBefore);
      expect(getBreakerRegistry()).toBe(breakersBefore);
      expect(getBreakerRegistry().get('after-close').state).toBe('closed');
      setLockManager(undefined);
    });

    it('with no lock manager before the app, none after it: its closed manager does not stay the default', async () => {
      setLockManager(undefined);
      @Module({ imports: [BallastModule.forRoot({ ...base(), lock: true })] })
      class App {}
      const app = await start(App);
      expect(getLockManager()).toBe(app.get(LockManager));
      h.detach(app);
      await app.close();
      expect(() => getLockManager()).toThrow(LockManagerNotConfiguredError);
    });
  });
}
