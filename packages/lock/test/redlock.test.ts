import { randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { createLogger, createRedis, isInvalidOptionsError, type Redis } from '@ballast/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LockBackend } from '../src/backend';
import { RedisLockBackend } from '../src/backends/redis';
import { RedlockBackend, type RedlockBackendOptions } from '../src/backends/redlock';
import { isRedlockQuorumError } from '../src/errors';
import { lockKeys } from '../src/keys';
import { LockManager } from '../src/manager';

// Three independent Redis masters (scripts/ensure-services.mjs redis-redlock) and ports where nothing listens.
const PORTS = [7201, 7202, 7203];
const prefix = `test:redlock:${randomUUID().slice(0, 8)}`;
const quiet = createLogger({ level: 'silent' });
let nodes: Redis[] = [];
const dead: Redis[] = [];
const backends: LockBackend[] = [];
const managers: LockManager[] = [];

/** A client for a port where nothing listens: every command fails at once, nothing retries or queues. */
function unreachable(port: number): Redis {
  const r = createRedis({
    url: `redis://127.0.0.1:${port}`,
    redisOptions: { maxRetriesPerRequest: 0, enableOfflineQueue: false, lazyConnect: true, retryStrategy: () => null },
  }) as Redis;
  r.on('error', () => {});
  // Its subscriber connection (made by the backend for release wake-ups) fails the same way, quietly.
  const duplicate = r.duplicate.bind(r);
  r.duplicate = (...args: Parameters<Redis['duplicate']>) => {
    const d = duplicate(...args);
    d.on('error', () => {});
    dead.push(d);
    return d;
  };
  dead.push(r);
  return r;
}

function redlock(clients: (Redis | RedisLockBackend)[] = nodes, options: Partial<RedlockBackendOptions> = {}) {
  const b = new RedlockBackend({ nodes: clients, prefix, logger: quiet, nodeTimeoutMs: 500, ...options });
  backends.push(b);
  return b;
}

/** A plain backend on one node (to look at, or to hold a lock on that node only). */
function single(client: Redis) {
  const b = new RedisLockBackend({ redis: client, prefix, logger: quiet });
  backends.push(b);
  return b;
}

/** The live holders of `resource` on each node, in node order. */
const perNode = (resource: string) =>
  Promise.all(
    nodes.map((c) =>
      single(c)
        .holders(resource)
        .then((h) => h.holders),
    ),
  );

/** A client of a server that accepts connections and never answers (a hung node, a black-holed link). */
const silent: { server?: Server; sockets: Socket[] } = { sockets: [] };
async function hung(): Promise<Redis> {
  if (!silent.server) {
    const server = createServer((socket) => silent.sockets.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    silent.server = server;
  }
  const { port } = silent.server.address() as { port: number };
  const r = createRedis(`redis://127.0.0.1:${port}`) as Redis;
  r.on('error', () => {});
  dead.push(r);
  return r;
}

let seq = 0;
const fresh = (name: string) => `${name}-${++seq}`;

beforeAll(async () => {
  nodes = PORTS.map((p) => createRedis(`redis://127.0.0.1:${p}`) as Redis);
  await Promise.all(nodes.map((c) => c.ping()));
});

afterEach(async () => {
  for (const m of managers.splice(0)) await m.close();
  for (const b of backends.splice(0)) await b.close();
});

afterAll(async () => {
  for (const c of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await c.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await c.unlink(...keys);
    } while (cursor !== '0');
    c.disconnect();
  }
  for (const d of dead) d.disconnect();
  for (const socket of silent.sockets) socket.destroy();
  silent.server?.close();
});

describe('RedlockBackend on three Redis masters', () => {
  it('holds the lock on every node, refuses a second client, and release frees it everywhere', async () => {
    const r = fresh('basic');
    const a = redlock();
    const b = redlock();
    const got = await a.tryAcquire(r, 'A', 'exclusive', 5_000);
    expect(got).toMatchObject({ acquired: true, count: 1 });
    expect(await perNode(r)).toEqual([{ A: 1 }, { A: 1 }, { A: 1 }]);
    expect(await b.holders(r)).toEqual({ mode: 'exclusive', holders: { A: 1 } });

    const refused = await b.tryAcquire(r, 'B', 'exclusive', 5_000);
    expect(refused.acquired).toBe(false);
    if (!refused.acquired) expect(refused.retryAfterMs).toBeGreaterThan(4_000);
    expect(await perNode(r)).toEqual([{ A: 1 }, { A: 1 }, { A: 1 }]); // B left nothing behind

    expect(await a.release(r, 'A', 'exclusive')).toBe(0);
    expect(await perNode(r)).toEqual([{}, {}, {}]);
    expect(await a.release(r, 'A', 'exclusive')).toBe(-1);
    expect((await b.tryAcquire(r, 'B', 'exclusive', 5_000)).acquired).toBe(true);
    await b.release(r, 'B', 'exclusive');
  });

  it('mutual exclusion: of many concurrent contenders at most one wins, and the losers leave nothing', async () => {
    const r = fresh('race');
    const contenders = Array.from({ length: 8 }, () => redlock());
    const results = await Promise.all(contenders.map((c, i) => c.tryAcquire(r, `T${i}`, 'exclusive', 5_000)));
    const winners = results.flatMap((x, i) => (x.acquired ? [`T${i}`] : []));
    expect(winners.length).toBeLessThanOrEqual(1);
    const held = await perNode(r);
    for (const h of held) for (const token of Object.keys(h)) expect(winners).toContain(token);
    if (winners[0]) expect(await contenders[0]!.release(r, winners[0], 'exclusive')).toBe(0);
  });

  it('reentrant and shared holds keep their counts across the nodes', async () => {
    const r = fresh('reentrant');
    const a = redlock();
    expect(await a.tryAcquire(r, 'A', 'shared', 5_000)).toMatchObject({ acquired: true, count: 1 });
    expect(await a.tryAcquire(r, 'A', 'shared', 5_000)).toMatchObject({ acquired: true, count: 2 });
    expect(await a.tryAcquire(r, 'B', 'shared', 5_000)).toMatchObject({ acquired: true, count: 1 });
    expect((await a.tryAcquire(r, 'W', 'exclusive', 5_000)).acquired).toBe(false);
    expect(await a.holders(r)).toEqual({ mode: 'shared', holders: { A: 2, B: 1 } });
    expect(await a.release(r, 'A', 'shared')).toBe(1);
    expect(await a.release(r, 'A', 'shared')).toBe(0);
    expect(await a.release(r, 'B', 'shared')).toBe(0);
    expect(await perNode(r)).toEqual([{}, {}, {}]);
  });

  it('acquires with one node unreachable (2 of 3), quickly', async () => {
    const r = fresh('one-down');
    const a = redlock([nodes[0]!, nodes[1]!, unreachable(7299)]);
    const t0 = performance.now();
    expect(await a.tryAcquire(r, 'A', 'exclusive', 5_000)).toMatchObject({ acquired: true });
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(await a.holders(r)).toEqual({ mode: 'exclusive', holders: { A: 1 } });
    // A client that sees all three nodes is refused: two of them are held.
    expect((await redlock().tryAcquire(r, 'B', 'exclusive', 5_000)).acquired).toBe(false);
    expect(await a.release(r, 'A', 'exclusive')).toBe(0);
    expect(await perNode(r)).toEqual([{}, {}, {}]);
  });

  it('is refused, without throwing or hanging, when two of three nodes are unreachable, and leaves nothing', async () => {
    const r = fresh('two-down');
    const a = redlock([nodes[0]!, unreachable(7298), unreachable(7299)]);
    const t0 = performance.now();
    const got = await a.tryAcquire(r, 'A', 'exclusive', 5_000);
    expect(got.acquired).toBe(false);
    if (!got.acquired) expect(got.retryAfterMs).toBeGreaterThan(0);
    expect(performance.now() - t0).toBeLessThan(2_000);
    expect(await perNode(r)).toEqual([{}, {}, {}]); // the grant on the live node was rolled back
    expect(await a.holders(r)).toEqual({ mode: undefined, holders: {} });
    expect(await a.release(r, 'A', 'exclusive')).toBe(-1);
  });

  it('a node that never answers costs nothing once a quorum is in, and at most nodeTimeoutMs otherwise', async () => {
    const r = fresh('hung');
    const a = redlock([nodes[0]!, nodes[1]!, await hung()], { nodeTimeoutMs: 1_000 });
    let t0 = performance.now();
    expect((await a.tryAcquire(r, 'A', 'exclusive', 5_000)).acquired).toBe(true);
    expect(performance.now() - t0).toBeLessThan(500); // decided by the two that answered
    t0 = performance.now();
    expect(await a.release(r, 'A', 'exclusive')).toBe(0); // waits for the hung node, up to its timeout
    expect(performance.now() - t0).toBeLessThan(2_500);

    const b = redlock([nodes[0]!, await hung(), await hung()], { nodeTimeoutMs: 300 });
    t0 = performance.now();
    expect((await b.tryAcquire(r, 'B', 'exclusive', 5_000)).acquired).toBe(false);
    expect(performance.now() - t0).toBeLessThan(2_000); // ~2 × 300 ms: the attempt, then its undo
    expect(await perNode(r)).toEqual([{}, {}, {}]);
  });

  it('another token held on one node only (a minority) does not stop a quorum of the other two', async () => {
    const r = fresh('minority-other');
    expect((await single(nodes[1]!).tryAcquire(r, 'X', 'exclusive', 5_000)).acquired).toBe(true);
    const a = redlock();
    expect((await a.tryAcquire(r, 'A', 'exclusive', 5_000)).acquired).toBe(true);
    expect(await perNode(r)).toEqual([{ A: 1 }, { X: 1 }, { A: 1 }]);
    expect(await a.holders(r)).toEqual({ mode: 'exclusive', holders: { A: 1 } }); // X: minority, not a holder
    expect(await a.release(r, 'A', 'exclusive')).toBe(0);
    expect(await single(nodes[1]!).release(r, 'X', 'exclusive')).toBe(0);
  });

  it('gaining only a minority is a refusal, and the partial grant is released on the other nodes', async () => {
    const r = fresh('minority-mine');
    // X holds nodes 0 and 1 directly: the Redlock client can only win node 2.
    expect((await single(nodes[0]!).tryAcquire(r, 'X', 'exclusive', 5_000)).acquired).toBe(true);
    expect((await single(nodes[1]!).tryAcquire(r, 'X', 'exclusive', 5_000)).acquired).toBe(true);
    const got = await redlock().tryAcquire(r, 'A', 'exclusive', 5_000);
    expect(got.acquired).toBe(false);
    if (!got.acquired) expect(got.retryAfterMs).toBeGreaterThan(4_000); // the refusals' hint
    expect(await perNode(r)).toEqual([{ X: 1 }, { X: 1 }, {}]);

    // X on one node plus one node down: A wins one of three, refused, nothing left.
    await single(nodes[0]!).release(r, 'X', 'exclusive');
    const b = redlock([nodes[0]!, nodes[1]!, unreachable(7299)]);
    expect((await b.tryAcquire(r, 'A', 'exclusive', 5_000)).acquired).toBe(false);
    expect(await perNode(r)).toEqual([{}, { X: 1 }, {}]);
    await single(nodes[1]!).release(r, 'X', 'exclusive');
  });

  it('extend keeps the quorum alive past the ttl and pushes every expiry', async () => {
    const r = fresh('extend');
    const a = redlock([nodes[0]!, nodes[1]!, unreachable(7299)]);
    expect((await a.tryAcquire(r, 'A', 'exclusive', 300)).acquired).toBe(true);
    expect(await a.extend(r, 'A', 'exclusive', 5_000)).toBe(true);
    const k = lockKeys(prefix, r);
    for (const c of nodes.slice(0, 2)) expect(await c.pttl(k.owners)).toBeGreaterThan(3_000);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect((await redlock().tryAcquire(r, 'B', 'exclusive', 5_000)).acquired).toBe(false);
    expect(await a.release(r, 'A', 'exclusive')).toBe(0);
  });

  it('extend says false when a majority lost the lock, and throws when a majority cannot answer', async () => {
    const r = fresh('extend-lost');
    const a = redlock();
    expect((await a.tryAcquire(r, 'A', 'exclusive', 5_000)).acquired).toBe(true);
    // Lost on two nodes (deleted from outside): no quorum can confirm it.
    const k = lockKeys(prefix, r);
    await Promise.all(nodes.slice(0, 2).map((c) => c.del(k.owners, k.expiry)));
    expect(await a.extend(r, 'A', 'exclusive', 5_000)).toBe(false);
    expect(await a.release(r, 'A', 'exclusive')).toBe(-1); // held on one node only: the lease was lost
    expect(await perNode(r)).toEqual([{}, {}, {}]);

    const s = fresh('extend-unknown');
    expect((await a.tryAcquire(s, 'A', 'exclusive', 5_000)).acquired).toBe(true);
    const cut = redlock([nodes[0]!, unreachable(7298), unreachable(7299)]);
    const error = await cut.extend(s, 'A', 'exclusive', 5_000).catch((e: unknown) => e);
    expect(isRedlockQuorumError(error)).toBe(true);
    expect(await a.release(s, 'A', 'exclusive')).toBe(0);
  });

  it('fencing tokens increase across acquisitions', async () => {
    const r = fresh('fence');
    const a = redlock();
    const tokens: number[] = [];
    for (let i = 0; i < 5; i++) {
      const got = await a.tryAcquire(r, `T${i}`, 'exclusive', 5_000);
      if (!got.acquired) throw new Error('expected the lock');
      tokens.push(got.fencingToken);
      await a.release(r, `T${i}`, 'exclusive');
    }
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBeGreaterThan(tokens[i - 1]!);
  });

  it('fencing tokens stay monotonic after the counters diverged, even when the next quorum is other nodes', async () => {
    const r = fresh('fence-diverged');
    // Node 0 ran ahead (minority grants of lost races; here its v1 per-lock counter, folded in on the next grant).
    const { fence, counter } = lockKeys(prefix, r);
    await nodes[0]!.set(fence, '100000');
    // X holds node 2, so the quorum is nodes 0 and 1: the token is node 0's, and node 1 lagged behind it.
    expect((await single(nodes[2]!).tryAcquire(r, 'X', 'exclusive', 5_000)).acquired).toBe(true);
    const first = await redlock().tryAcquire(r, 'A', 'exclusive', 5_000);
    expect(first).toMatchObject({ acquired: true, fencingToken: 100001 });
    expect(await nodes[0]!.exists(fence)).toBe(0); // the per-lock key is gone
    expect(await nodes[1]!.get(counter)).toBe('100001'); // raised to the token handed out
    await single(nodes[2]!).release(r, 'X', 'exclusive');
    await redlock().release(r, 'A', 'exclusive');
    // Node 0 gone: the quorum is nodes 1 and 2, which alone would have said 2.
    const second = await redlock([unreachable(7299), nodes[1]!, nodes[2]!]).tryAcquire(r, 'B', 'exclusive', 5_000);
    expect(second.acquired && second.fencingToken).toBeGreaterThan(100001);
    await redlock().release(r, 'B', 'exclusive');
  });

  it('works over RedisLockBackend instances too', async () => {
    const r = fresh('backends');
    const a = redlock(nodes.map((c) => new RedisLockBackend({ redis: c, prefix, logger: quiet })));
    expect((await a.tryAcquire(r, 'A', 'exclusive', 5_000)).acquired).toBe(true);
    expect(await perNode(r)).toEqual([{ A: 1 }, { A: 1 }, { A: 1 }]);
    expect(await a.release(r, 'A', 'exclusive')).toBe(0);
  });

  it('validates its options and warns about an even or small number of nodes', async () => {
    expect(() => new RedlockBackend({ nodes: [] })).toThrow();
    try {
      new RedlockBackend({ nodes: [nodes[0]!, nodes[0]!, nodes[1]!] });
      expect.unreachable();
    } catch (error) {
      expect(isInvalidOptionsError(error)).toBe(true);
    }
    expect(() => new RedlockBackend({ nodes: [{} as Redis] })).toThrow(/Redis client or a RedisLockBackend/);
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = createLogger({ level: 'warn', destination });
    redlock(nodes.slice(0, 2), { logger });
    redlock(nodes, { logger });
    expect(lines.join('')).toMatch(/tolerates no node failure/);
    expect(lines.join('')).toMatch(/even number of nodes/);
    expect(lines).toHaveLength(2); // nothing for three nodes
  });
});

describe('LockManager over RedlockBackend', () => {
  function manager(backend: RedlockBackend, options: { maxRetryDelayMs?: number } = {}) {
    const m = new LockManager({ backend, logger: quiet, ...options });
    managers.push(m);
    return m;
  }

  it('using() serialises concurrent read-modify-write on a shared counter', async () => {
    const r = fresh('using');
    const m = manager(redlock());
    const counter = `${prefix}:counter:${r}`;
    await Promise.all(
      Array.from({ length: 10 }, () =>
        m.using(r, async (_signal, lease) => {
          expect(lease.fencingToken).toBeGreaterThan(0);
          const v = Number((await nodes[0]!.get(counter)) ?? 0);
          await new Promise((resolve) => setTimeout(resolve, 2));
          await nodes[0]!.set(counter, String(v + 1));
        }),
      ),
    );
    expect(await nodes[0]!.get(counter)).toBe('10');
    expect(await perNode(r)).toEqual([{}, {}, {}]);
  });

  it('a waiter is woken by the release (pub/sub), not by its retry timer, also with one node down', async () => {
    for (const clients of [nodes, [nodes[0]!, nodes[1]!, unreachable(7299)]]) {
      const r = fresh('wake');
      const holder = manager(redlock(clients));
      const waiter = manager(redlock(clients), { maxRetryDelayMs: 30_000 });
      const lease = await holder.acquire(r, { ttlMs: 10_000, autoExtend: false });
      const waiting = waiter.acquire(r, { waitMs: 8_000 });
      await new Promise((resolve) => setTimeout(resolve, 200));
      const released = performance.now();
      await lease.release();
      const next = await waiting;
      // The retry timer would not fire before ~2.5 s (half of its capped delay).
      expect(performance.now() - released).toBeLessThan(1_500);
      expect(next.fencingToken).toBeGreaterThan(lease.fencingToken);
      await next.release();
    }
  });
});
