import 'reflect-metadata';
import { type AddressInfo, createServer } from 'node:net';
import { createLogger } from '@ballast/core';
import { createRedisFixture, defaultRedisUrl, type RedisFixture } from '@ballast/testkit';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { BallastModuleOptions } from '../../src/index';

/**
 * Per-describe Redis fixture (unique prefix) and Nest application contexts closed after each test. Call it
 * inside a `describe`.
 */
export function nestHarness(name: string) {
  let fx: RedisFixture | undefined;
  const apps: INestApplicationContext[] = [];
  beforeAll(async () => {
    fx = await createRedisFixture({ name });
  });
  afterEach(async () => {
    for (const app of apps.splice(0)) await app.close();
  });
  afterAll(async () => {
    await fx?.close();
  });
  return {
    get fx(): RedisFixture {
      return fx!;
    },
    /** Creates (and initialises) an application context; closed after the test unless `detach`ed. */
    async start(module: unknown): Promise<INestApplicationContext> {
      const app = await NestFactory.createApplicationContext(module as never, { logger: false, abortOnError: false });
      apps.push(app);
      return app;
    },
    /** The test closes this app itself. */
    detach(app: INestApplicationContext): void {
      apps.splice(apps.indexOf(app), 1);
    },
    /** Module options on the test Redis under the fixture's prefix, logging nothing. */
    base(): BallastModuleOptions {
      return { redis: defaultRedisUrl(), prefix: fx!.prefix, logger: createLogger({ level: 'silent' }) };
    },
  };
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

export function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
