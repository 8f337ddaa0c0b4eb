import 'reflect-metadata';
import { BreakerRegistry } from '@ballast/circuit-breaker';
import type { Queue } from '@ballast/queue';
import { Module } from '@nestjs/common';
import { HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { describe, expect, it } from 'vitest';
import { BallastHealthIndicator, BallastModule, getQueueToken, isBallastHealthCheckError } from '../../src/index';
import { freePort, nestHarness } from './harness';

/** The terminus indicators on NestJS 11 and 10 (and terminus 11 and 10). */
export function describeHealth(expectedMajor: number): void {
  describe(`BallastHealthIndicator on NestJS ${expectedMajor}`, () => {
    const h = nestHarness(`nestjs-health-v${expectedMajor}`);
    const start = (m: unknown) => h.start(m);
    const base = () => h.base();

    it('Redis, RabbitMQ, discovery and queue backlog: up on live backends, down (typed) on dead ones', async () => {
      const dead = await freePort();
      const rq = `${h.fx.prefix.replace(/[^a-zA-Z0-9]/g, '-')}-rq`;
      @Module({
        imports: [
          BallastModule.forRoot({
            ...base(),
            connections: {
              dead: {
                url: `redis://127.0.0.1:${dead}`,
                redisOptions: { enableOfflineQueue: false, retryStrategy: () => null },
              },
            },
            discovery: { register: { name: 'health-svc', address: '127.0.0.1', port: 3998, check: false } },
            queues: [
              { name: 'backlog' },
              { name: rq, options: { backend: 'rabbitmq', url: 'amqp://guest:guest@127.0.0.1:5672' } },
              { name: `${rq}-dead`, options: { backend: 'rabbitmq', url: `amqp://guest:guest@127.0.0.1:${dead}` } },
            ],
          }),
        ],
      })
      class App {}
      const app = await start(App);
      const ballast = app.get(BallastHealthIndicator);
      expect(await ballast.redis()).toMatchObject({ redis: { status: 'up' } });
      await expect(ballast.redis('cache', { connection: 'dead' })).rejects.toMatchObject({
        code: 'HEALTH_CHECK_DOWN',
        causes: { cache: { status: 'down' } },
      });
      expect(await ballast.discovery()).toMatchObject({ discovery: { status: 'up', service: 'health-svc' } });
      const t0 = performance.now();
      await expect(ballast.rabbitmq('amqp', { timeoutMs: 300 })).rejects.toMatchObject({
        causes: { amqp: { status: 'down', down: [`${rq}-dead`] } },
      });
      expect(performance.now() - t0).toBeLessThan(1_500);
      const queue = app.get<Queue>(getQueueToken('backlog'));
      await queue.add('a', {});
      await queue.add('b', {});
      expect(await ballast.queue('backlog', { maxBacklog: 2 })).toMatchObject({ 'queue:backlog': { backlog: 2 } });
      await expect(ballast.queue('backlog', { maxBacklog: 1 })).rejects.toSatisfy(isBallastHealthCheckError);
      const rabbitQueue = app.get<Queue>(getQueueToken(rq));
      await (rabbitQueue.backend as unknown as { whenConnected(): Promise<void> }).whenConnected();
      await (rabbitQueue.backend as unknown as { deleteQueues(): Promise<void> }).deleteQueues();
    });

    it('report up, and down through terminus (503 body) when a breaker is open or the DLQ is not empty', async () => {
      @Module({
        imports: [TerminusModule, BallastModule.forRoot({ ...base(), breakers: {}, queues: [{ name: 'hq' }] })],
      })
      class App {}
      const app = await start(App);
      const ballast = app.get(BallastHealthIndicator);
      const health = app.get(HealthCheckService);
      const checks = () => [() => ballast.redis(), () => ballast.breakers(), () => ballast.queue('hq', { maxDead: 0 })];
      const up = await health.check(checks());
      expect(up.status).toBe('ok');
      expect(Object.keys(up.details)).toEqual(['redis', 'breakers', 'queue:hq']);

      app.get(BreakerRegistry).get('payments').forceOpen();
      const down = await health.check(checks()).then(
        () => undefined,
        (e: { getStatus(): number; getResponse(): { status: string; error: Record<string, { open?: string[] }> } }) =>
          e,
      );
      expect(down?.getStatus()).toBe(503);
      expect(down?.getResponse().status).toBe('error');
      expect(down?.getResponse().error.breakers?.open).toEqual(['payments']);
      await expect(ballast.breakers()).rejects.toSatisfy(isBallastHealthCheckError);
      await expect(ballast.breakers('breakers', { maxOpen: 1 })).resolves.toBeTruthy();
      await expect(ballast.discovery()).rejects.toSatisfy(isBallastHealthCheckError);
      await expect(ballast.rabbitmq()).rejects.toSatisfy(isBallastHealthCheckError);
    });
  });
}
