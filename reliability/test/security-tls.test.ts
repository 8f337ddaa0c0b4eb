/**
 * TLS: certificates made by openssl in this test (a throwaway CA signing a server certificate for
 * 127.0.0.1), a Redis started with only a TLS port, and every Redis-backed contract suite runs through
 * `rediss://` unchanged (registered by redis-suites.ts, as for the ACL test): lock, event bus, queue, saga
 * (store and orchestrator), config-center and discovery; and circuit-breaker's Redis users, its rate limiter
 * and its fleet-shared breaker state, as in its own tests. The connections a package opens by itself (the
 * queue workers' blocking connections, the config and discovery subscribers, the bus's blocking readers, the
 * breaker fleet's subscriber) are `duplicate()`s of the one given, so they carry its TLS options; with no
 * plain port, a connection that lost them could not reach Redis at all, and an idle worker's blocking
 * connection, which the queue suite could miss, is checked on its own. A client that does not trust the CA
 * is refused, and the plain protocol gets nowhere: the traffic is really TLS.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedis, type Redis } from '@ballast/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The queue's own source, as redis-suites.ts imports it: `Queue` has private fields, so the dist's type would not fit.
import { createQueue, createWorker } from '../../packages/queue/src/index';
import { freePort, type RedisServer, startRedisServer } from '../src/redis-server';
import { registerRedisSuites } from './redis-suites';

let dir: string;
let server: RedisServer;
let port: number;
let ca: Buffer;
let redis: Redis;
const clients: Redis[] = [];

/** Another `rediss://` connection trusting the test CA (for the two-instance circuit-breaker tests). */
const connect = () => {
  const c = createRedis({ url: `rediss://127.0.0.1:${port}`, redisOptions: { tls: { ca } } }) as Redis;
  clients.push(c);
  return c;
};

function makeCertificates(where: string): void {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: where, stdio: 'pipe' });
  ssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=ballast-test-ca',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
  );
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'server.key', '-out', 'server.csr');
  writeFileSync(join(where, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    'san.ext',
    '-out',
    'server.crt',
  );
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ballast-tls-'));
  makeCertificates(dir);
  ca = readFileSync(join(dir, 'ca.crt'));
  port = await freePort();
  server = await startRedisServer({
    dir,
    port: 0,
    args: [
      '--tls-port',
      String(port),
      '--tls-cert-file',
      join(dir, 'server.crt'),
      '--tls-key-file',
      join(dir, 'server.key'),
      '--tls-ca-cert-file',
      join(dir, 'ca.crt'),
      '--tls-auth-clients',
      'no',
    ],
  });
  redis = createRedis({ url: `rediss://127.0.0.1:${port}`, redisOptions: { tls: { ca } } }) as Redis;
  await redis.ping();
}, 60_000);

afterAll(async () => {
  redis?.disconnect();
  for (const c of clients) c.disconnect();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the TLS Redis is really TLS', () => {
  it('serves rediss:// with the test CA; refuses a client that does not trust it', async () => {
    expect(await redis.set('tls:probe', 'ok')).toBe('OK');
    expect(await redis.get('tls:probe')).toBe('ok');
    await redis.del('tls:probe');
    const untrusting = createRedis({
      url: `rediss://127.0.0.1:${port}`,
      redisOptions: { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null },
    }) as Redis;
    const errors: Error[] = [];
    untrusting.on('error', (e: Error) => errors.push(e));
    await expect(untrusting.connect()).rejects.toThrow();
    expect(errors.map((e) => e.message).join('\n')).toMatch(/self[- ]signed|unable to verify|certificate/i);
    untrusting.disconnect();
  });

  it('the plain protocol on the TLS port gets no Redis reply', async () => {
    const plain = createRedis({
      url: `redis://127.0.0.1:${port}`,
      redisOptions: {
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
        connectTimeout: 2_000,
        commandTimeout: 2_000,
      },
    }) as Redis;
    plain.on('error', () => {});
    await expect(plain.connect().then(() => plain.ping())).rejects.toThrow();
    plain.disconnect();
  });
});

// Every Redis-backed suite (redis-suites.ts) over `rediss://`, the key prefix `tls`.
const suites = registerRedisSuites({
  via: 'over TLS',
  connection: 'TLS',
  prefix: 'tls',
  tag: 'tls',
  redis: () => redis,
  connect,
});

describe('connections a package opens itself are TLS too', () => {
  // The one the contract could miss: a worker's waiter turns any BLPOP error into "wake up and fetch", so a
  // blocking connection that could not reach the TLS-only server would leave a polling worker, not a failure.
  it("an idle worker's own blocking connection is up on the TLS-only server, and an add wakes it", async () => {
    const q = createQueue(suites.unique('q'), { backend: 'redis', redis, prefix: 'tls' });
    suites.closeAfterTest(q);
    const done = new Promise<unknown>((resolve) => {
      createWorker(q, (job) => resolve(job.data), { blockMs: 60_000 });
    });
    await expect
      .poll(async () => String(await redis.client('LIST')).includes('cmd=blpop'), { timeout: 5_000 })
      .toBe(true);
    await q.add('t', 7);
    expect(await done).toBe(7);
  });
});
