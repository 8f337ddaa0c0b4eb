// The test body shared by tests/nest-v10 and tests/nest-v11: a real NestJS HTTP app (express adapter) on a
// random port, driven by HTTP requests. Each Ballast method decorator sits above, between and below Nest's
// route, role, guard, pipe and interceptor decorators; every route must exist, every guard must deny.
import type { AddressInfo } from 'node:net';
import { Bulkhead, CircuitBreaker, Fallback, Retry, Timeout } from '@ballast/circuit-breaker/decorators';
import { OnEvent } from '@ballast/event-bus';
import { createLockManager, setLockManager, WithLock } from '@ballast/lock';
import { createQueue, Task, type TaskData } from '@ballast/queue';
import { Saga, Step } from '@ballast/saga';
import type { INestApplication } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BallastDecorator, type Echo, makeController, type NestModules, ROUTES } from './app';

interface Case {
  name: string;
  decorator: BallastDecorator;
  /** The arguments the handler got, from a route's (un-intercepted) response body. */
  argsOf?(body: unknown): Promise<unknown[]>;
}

const pathOf = (c: Case) => c.name.toLowerCase().replaceAll('+', '-');

/** Runs the suite against the Nest modules a test package resolved; `major` is the version they must be. */
export function nestDecoratorSuite(nest: NestModules, major: number, nestVersion: string): void {
  const queue = createQueue<TaskData>(`nest-v${major}-routes`); // in-process: @Task routes enqueue here
  // The explicit in-process choice @WithLock requires when no manager is passed.
  setLockManager(createLockManager());

  const cases: Case[] = [
    { name: 'CircuitBreaker', decorator: () => CircuitBreaker() },
    { name: 'Retry', decorator: () => Retry({ maxRetries: 1 }) },
    { name: 'Timeout', decorator: () => Timeout(5_000) },
    { name: 'Fallback', decorator: () => Fallback('fallback') },
    { name: 'Bulkhead', decorator: () => Bulkhead(10) },
    { name: 'WithLock', decorator: () => WithLock('nest-route') },
    {
      name: 'Task',
      decorator: () => Task({ queue }),
      // A @Task route enqueues: the handler's arguments are the job's.
      argsOf: async (body) => (await queue.getJob((body as { id: string }).id))?.data.args ?? ['<no job>'],
    },
    { name: 'OnEvent', decorator: () => OnEvent('nest.route') },
    { name: 'Step', decorator: () => Step() },
    {
      name: 'Timeout+Retry+CircuitBreaker',
      // Three of ours stacked, as one decorator in each position.
      decorator: () => (target, key, descriptor) =>
        CircuitBreaker()(target, key, Retry({ maxRetries: 1 })(target, key, Timeout(5_000)(target, key, descriptor))),
    },
  ];

  const { Controller, Get, Module } = nest.common;

  // @Saga is a class decorator: a controller marked as a saga, above and below @Controller.
  @Saga('nest-saga-outer')
  @Controller('saga-outer')
  class SagaOuter {
    @Get()
    get(): Echo {
      return { args: [] };
    }
  }
  @Controller('saga-inner')
  @Saga('nest-saga-inner')
  class SagaInner {
    @Get()
    get(): Echo {
      return { args: [] };
    }
  }

  const controllers = [...cases.map((c) => makeController(nest, pathOf(c), c.decorator)), SagaOuter, SagaInner];
  class AppModule {}
  Module({ controllers })(AppModule);

  it(`runs on NestJS ${major} with legacy decorators and their emitted metadata`, () => {
    expect(nestVersion.split('.')[0]).toBe(String(major));
    // The route handlers' parameter types were emitted (vitest compiled this suite as a Nest app is compiled).
    const Ctl = controllers[0]!;
    expect(Reflect.getMetadata('design:paramtypes', Ctl.prototype, 'pipeOuter')).toEqual([String]);
  });

  const adapters = [
    { adapter: 'express', create: () => new nest.express.ExpressAdapter() },
    { adapter: 'fastify', create: () => new nest.fastify.FastifyAdapter() },
  ];

  describe.each(adapters)('$adapter adapter', ({ create }) => {
    let app: INestApplication;
    let base: string;

    beforeAll(async () => {
      app = await nest.core.NestFactory.create(AppModule, create(), { logger: false });
      await app.listen(0, '127.0.0.1');
      base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      await app?.close();
    });

    const request = async (path: string, init: RequestInit = {}): Promise<{ status: number; body: unknown }> => {
      const res = await fetch(`${base}/${path}`, init);
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    };

    it('a class marked @Saga above or below @Controller keeps its routes', async () => {
      expect((await request('saga-outer')).status).toBe(200);
      expect((await request('saga-inner')).status).toBe(200);
    });

    routeTests(cases, request);
  });

  afterAll(async () => {
    await queue.close();
  });
}

type Request = (path: string, init?: RequestInit) => Promise<{ status: number; body: unknown }>;

function routeTests(cases: Case[], request: Request): void {
  describe.each(cases)('@$name', (c) => {
    const prefix = pathOf(c);
    const argsOf = async (body: unknown) => (c.argsOf ? c.argsOf(body) : (body as Echo).args);

    it.each(ROUTES.plain)('GET %s: the route exists whatever the order', async (route) => {
      const res = await request(`${prefix}/${route}`);
      expect(res.status).toBe(200);
      expect(await argsOf(res.body)).toEqual([]);
    });

    it.each(ROUTES.post)('POST %s: the route exists and the body arrives', async (route) => {
      const res = await request(`${prefix}/${route}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ n: 1 }),
      });
      expect(res.status).toBe(201);
      expect(await argsOf(res.body)).toEqual([{ n: 1 }]);
    });

    it.each(ROUTES.roles)('%s: the role guard denies without the role, admits with it', async (route) => {
      expect((await request(`${prefix}/${route}`)).status).toBe(403);
      expect((await request(`${prefix}/${route}`, { headers: { 'x-role': 'user' } })).status).toBe(403);
      expect((await request(`${prefix}/${route}`, { headers: { 'x-role': 'admin' } })).status).toBe(200);
    });

    it.each(ROUTES.guard)('%s: the method guard denies, then admits', async (route) => {
      expect((await request(`${prefix}/${route}`)).status).toBe(403);
      expect((await request(`${prefix}/${route}`, { headers: { 'x-allow': 'yes' } })).status).toBe(200);
    });

    it.each(ROUTES.pipe)('%s: the pipe transforms the parameter', async (route) => {
      const res = await request(`${prefix}/${route}/abc`);
      expect(res.status).toBe(200);
      expect(await argsOf(res.body)).toEqual(['ABC']);
    });

    it.each(ROUTES.intercept)('%s: the interceptor wraps the response', async (route) => {
      const res = await request(`${prefix}/${route}`);
      expect(res.status).toBe(200);
      const { intercepted } = res.body as { intercepted?: unknown };
      expect(intercepted).toBeDefined();
      expect(await argsOf(intercepted)).toEqual([]);
    });
  });
}
