/**
 * TLS: certificates made by openssl in this test (a throwaway CA signing a server certificate for
 * 127.0.0.1), a Redis started with only a TLS port, and the lock and event-bus Redis contract suites run
 * through `rediss://` unchanged. A client that does not trust the CA is refused, and the plain protocol gets
 * nowhere: the traffic is really TLS.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedis, type Redis } from '@ballast/core';
import { RedisTransport } from '@ballast/event-bus';
import { RedisLockBackend } from '@ballast/lock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transportContract } from '../../packages/event-bus/test/transport.contract';
import { lockBackendContract } from '../../packages/lock/test/backend.contract';
import { freePort, type RedisServer, startRedisServer } from '../src/redis-server';

let dir: string;
let server: RedisServer;
let port: number;
let ca: Buffer;
let redis: Redis;
let n = 0;

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

lockBackendContract('redis over TLS', {
  create: () => ({
    backend: new RedisLockBackend({ redis, prefix: 'tls', lingerMs: 50 }),
    resource: () => `tls-r${n++}`,
  }),
  destroy: ({ backend }) => backend.close(),
});

transportContract('redis over TLS', {
  create: () => ({ transport: new RedisTransport({ redis, prefix: 'tls:' }), type: `tls-t${n++}` }),
  destroy: ({ transport }) => transport.close(),
});
