/**
 * The dashboard mounted in express, fastify and NestJS (through `DashboardModule` and `@ballast/nestjs`'s
 * resources): it answers under its base path, leaves the host's own routes alone, and takes an action whose
 * body the host framework already parsed (express.json(), fastify's JSON parser).
 */
import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { BreakerRegistry } from '@ballast/circuit-breaker';
import { BallastModule } from '@ballast/nestjs';
import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import express from 'express';
import Fastify from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  CSRF_HEADER,
  createDashboard,
  type Dashboard,
  type DashboardOptions,
  type DashboardQueue,
  expressDashboard,
  fastifyDashboard,
} from '../src/index';
import { DashboardModule } from '../src/nestjs';

vi.setConfig({ testTimeout: 30_000 });

const closers: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

/** A queue double that records the ids it was asked to replay. */
function fakeQueue(replayed: string[][]): DashboardQueue {
  return {
    name: 'mail',
    counts: async () => ({ waiting: 0, delayed: 0, active: 0, completed: 0, failed: 0, dead: 2, byPriority: {} }),
    list: async () => [],
    getJob: async () => undefined,
    listDead: (async () => ({ jobs: [], cursor: null })) as unknown as DashboardQueue['listDead'],
    replayDead: async (ids) => {
      replayed.push([...(ids ?? [])]);
      return ids?.length ?? 0;
    },
    pause: async () => {},
    resume: async () => {},
    isPaused: async () => false,
  };
}

function options(replayed: string[][]): DashboardOptions {
  const breakers = new BreakerRegistry();
  breakers.get('mailer');
  closers.push(() => breakers.close());
  return { basePath: '/admin/ballast', queues: [fakeQueue(replayed)], breakers, authorize: () => true };
}

/** GETs the page (session + token), then replays two dead jobs through the API. */
async function exercise(origin: string) {
  const page = await fetch(`${origin}/admin/ballast/`);
  expect(page.status).toBe(200);
  const cookie = page.headers.get('set-cookie')!.split(';')[0]!;
  const token = /name="ballast-csrf" content="([^"]+)"/.exec(await page.text())![1]!;
  const breakers = await (await fetch(`${origin}/admin/ballast/api/breakers`)).json();
  const replay = await fetch(`${origin}/admin/ballast/api/queues/mail/dead/replay`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie, [CSRF_HEADER]: token, origin },
    body: JSON.stringify({ ids: ['7', '8'] }),
  });
  const own = await fetch(`${origin}/hello`);
  return {
    breakers: breakers.breakers.map((b: { name: string }) => b.name),
    replay: await replay.json(),
    own: await own.text(),
  };
}

describe('adapters', () => {
  it('express: app.use(expressDashboard(d)) behind express.json()', async () => {
    const replayed: string[][] = [];
    const d = createDashboard(options(replayed));
    const app = express();
    app.use(express.json());
    app.use(expressDashboard(d));
    app.get('/hello', (_req, res) => void res.send('express route'));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    closers.push(() => new Promise((resolve) => server.close(resolve)));
    closers.push(() => d.close());
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    expect(await exercise(origin)).toEqual({ breakers: ['mailer'], replay: { replayed: 2 }, own: 'express route' });
    expect(replayed).toEqual([['7', '8']]);
  });

  it('fastify: app.register(fastifyDashboard(d)), the body parsed by fastify', async () => {
    const replayed: string[][] = [];
    const d = createDashboard(options(replayed));
    const app = Fastify();
    await app.register(fastifyDashboard(d));
    app.get('/hello', async () => 'fastify route');
    await app.listen({ port: 0, host: '127.0.0.1' });
    closers.push(() => app.close());
    closers.push(() => d.close());
    const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    expect(await exercise(origin)).toEqual({ breakers: ['mailer'], replay: { replayed: 2 }, own: 'fastify route' });
    expect(replayed).toEqual([['7', '8']]);
  });

  it('NestJS: DashboardModule.forRoot(resources => options) shows BallastModule’s breakers', async () => {
    const replayed: string[][] = [];
    const registry = new BreakerRegistry();
    registry.get('nest-payments');
    closers.push(() => registry.close());
    class HelloController {
      hello() {
        return 'nest route';
      }
    }
    Get('hello')(
      HelloController.prototype,
      'hello',
      Object.getOwnPropertyDescriptor(HelloController.prototype, 'hello')!,
    );
    Controller()(HelloController);
    class AppModule {}
    Module({
      imports: [
        BallastModule.forRoot({ breakers: registry }),
        DashboardModule.forRoot((r) => ({
          basePath: '/admin/ballast',
          breakers: r.breakers,
          queues: [fakeQueue(replayed)],
          authorize: () => true,
        })),
      ],
      controllers: [HelloController],
    })(AppModule);
    const app = await NestFactory.create(AppModule, { logger: false });
    await app.listen(0, '127.0.0.1');
    closers.push(() => app.close());
    const origin = await app.getUrl();
    expect(await exercise(origin.replace('[::1]', '127.0.0.1'))).toEqual({
      breakers: ['nest-payments'],
      replay: { replayed: 2 },
      own: 'nest route',
    });
    expect(replayed).toEqual([['7', '8']]);
  });

  it('refuses a base path that is not one: root, relative, or with dots', () => {
    for (const basePath of ['/', 'ballast', '/a/../b', '/a b']) {
      expect(() => createDashboard({ basePath }), basePath).toThrow(/basePath/);
    }
    const d: Dashboard = createDashboard({ basePath: '/ops/' });
    expect(d.basePath).toBe('/ops');
  });
});
