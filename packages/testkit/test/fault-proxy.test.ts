// The TCP fault proxy against the real Redis: forwards, freezes (sockets open, nothing flows), resumes, cuts.
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { FaultProxy } from '../src/fault-proxy';
import { defaultRedisUrl } from '../src/redis-fixture';
import { track } from '../src/track';

const open: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});

async function setup() {
  const proxy = await FaultProxy.start({ target: defaultRedisUrl() });
  const client = new Redis(proxy.url(), { maxRetriesPerRequest: 1, lazyConnect: true });
  client.on('error', () => {});
  await client.connect();
  open.push(proxy, { close: () => client.disconnect() });
  return { proxy, client };
}

describe('FaultProxy', () => {
  it('forwards to the target on a spare loopback port', async () => {
    const { proxy, client } = await setup();
    expect(proxy.port).toBeGreaterThan(0);
    expect(proxy.url()).toBe(`redis://127.0.0.1:${proxy.port}`);
    expect(await client.ping()).toBe('PONG');
    expect(proxy.connections).toBe(1);
  });

  it('freeze holds both directions with the socket open; resume delivers what was held', async () => {
    const { proxy, client } = await setup();
    let closed = false;
    client.on('close', () => {
      closed = true;
    });
    proxy.freeze();
    const pending = client.echo('held');
    const reply = track(pending);
    // A second command round trip through a direct client proves time passed for the frozen one.
    const direct = new Redis(defaultRedisUrl());
    open.push({ close: () => direct.disconnect() });
    for (let i = 0; i < 5; i++) await direct.ping();
    expect(reply.done).toBe(false);
    expect(closed).toBe(false);
    expect(proxy.connections).toBe(1);
    proxy.resume();
    expect(await pending).toBe('held');
  });

  it('cut destroys the live connections; the client reconnects through the proxy', async () => {
    const { proxy, client } = await setup();
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    proxy.cut();
    await closed;
    expect(await client.ping()).toBe('PONG'); // ioredis reconnected: new connections are accepted
  });

  it('accepts a "host:port" target and closes idempotently', async () => {
    const url = new URL(defaultRedisUrl());
    const proxy = await FaultProxy.start({ target: `${url.hostname}:${url.port}` });
    await proxy.close();
    await proxy.close();
  });

  it('down refuses new connections (and drops live ones) until up', async () => {
    const { proxy, client } = await setup();
    proxy.down();
    await expect.poll(() => client.status).not.toBe('ready');
    const probe = new Redis(proxy.url(), { maxRetriesPerRequest: 0, lazyConnect: true, retryStrategy: () => null });
    probe.on('error', () => {});
    await expect(probe.connect().then(() => probe.ping())).rejects.toThrow();
    probe.disconnect();
    expect(proxy.connections).toBe(0);
    proxy.up();
    expect(await client.ping()).toBe('PONG'); // ioredis reconnected through the proxy
  });

  it('delay adds latency both ways and keeps the order; delay(0) ends it', async () => {
    const { proxy, client } = await setup();
    expect(() => proxy.delay(-1)).toThrow(RangeError);
    proxy.delay(150);
    expect(proxy.delayMs).toBe(150);
    const t0 = performance.now();
    // Pipelined: every reply in order, none earlier than request + reply latency (a lower bound: load only adds).
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => client.echo(`m${i}`)));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
    expect(replies).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
    proxy.delay(0);
    expect(await client.ping()).toBe('PONG');
  });
});
