import 'reflect-metadata';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createLogger } from '@ballast/core';
import { type EventEnvelope, OnEvent } from '@ballast/event-bus';
import { WithLock } from '@ballast/lock';
import { Task } from '@ballast/queue';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BallastModule, ballastQueue } from '../src/index';
import { freePort } from './suites/harness';

// A Redis of our own on a spare port, stopped while the app runs: shutdown must stay within its bound.
describe('shutdown while Redis is down', () => {
  let server: ChildProcess | undefined;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    server = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no'], { stdio: 'pipe' });
    let out = '';
    server.stdout!.on('data', (d) => {
      out += String(d);
    });
    while (!out.includes('Ready to accept connections')) await once(server.stdout!, 'data');
  });
  afterAll(() => {
    server?.kill('SIGKILL');
  });

  it('ends within shutdownTimeoutMs, calling every step in order', async () => {
    const events = { ping: z.object({ n: z.number() }) };
    @Injectable()
    class Busy {
      @OnEvent('ping')
      async on(_e: EventEnvelope<{ n: number }>) {}

      @Task({ queue: ballastQueue('outage') })
      @WithLock('outage:{0}')
      async work(_n: number): Promise<unknown> {
        return undefined;
      }
    }
    const reports: { ok: boolean; durationMs: number; steps: { name: string; status: string }[] }[] = [];
    @Module({
      imports: [
        BallastModule.forRoot({
          redis: `redis://127.0.0.1:${port}`,
          prefix: 'outage',
          logger: createLogger({ level: 'silent' }),
          lock: true,
          eventBus: { source: 'outage', events },
          queues: [{ name: 'outage' }],
          shutdownTimeoutMs: 1_500,
          onShutdown: (r) => reports.push(r),
        }),
      ],
      providers: [Busy],
    })
    class App {}
    const app = await NestFactory.createApplicationContext(App, { logger: false });
    await app.get(Busy).work(1);
    server!.kill('SIGKILL');
    await once(server!, 'exit');
    const t0 = performance.now();
    await app.close();
    const took = performance.now() - t0;
    expect(took).toBeLessThan(1_500 + 1_000);
    expect(reports).toHaveLength(1);
    expect(reports[0]!.steps.map((s) => s.name)).toEqual([
      'stop-intake',
      'drain',
      'release-locks',
      'deregister',
      'close-connections',
    ]);
  });
});
