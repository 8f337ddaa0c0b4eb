import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type ConsulEmulator, type ConsulEmulatorOptions, startConsulEmulator } from '../../src/consul';
import { FakeClock } from '../../src/fake-clock';

const open: ConsulEmulator[] = [];
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((e) => e.close()));
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function emulator(options: ConsulEmulatorOptions = {}) {
  const e = await startConsulEmulator(options);
  open.push(e);
  return e;
}

interface Res {
  status: number;
  index: number;
  text: string;
  json: () => unknown;
  headers: Headers;
}
async function call(e: ConsulEmulator, path: string, init: RequestInit = {}): Promise<Res> {
  const res = await fetch(`${e.url}${path}`, init);
  const text = await res.text();
  return {
    status: res.status,
    index: Number(res.headers.get('x-consul-index')),
    text,
    json: () => JSON.parse(text),
    headers: res.headers,
  };
}
const put = (e: ConsulEmulator, path: string, body?: unknown) =>
  call(e, path, {
    method: 'PUT',
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });

/** Lets the fake clock's timers and the emulator's I/O progress until `cond` holds. */
async function until(cond: () => Promise<boolean>, timeoutMs = 5_000) {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('Consul emulator: agent + health', () => {
  it('labels itself, answers status/leader and sends X-Consul-Index >= 1 on reads', async () => {
    const e = await emulator();
    const leader = await call(e, '/v1/status/leader');
    expect(leader.json()).toBe('127.0.0.1:8300');
    expect(leader.headers.get('x-consul-emulator')).toMatch(/emulator/);
    const missing = await call(e, '/v1/kv/nope');
    expect(missing.status).toBe(404);
    expect(missing.index).toBeGreaterThanOrEqual(1);
    expect(missing.headers.get('x-consul-knownleader')).toBe('true');
    expect(missing.headers.get('x-consul-lastcontact')).toBe('0');
    expect((await call(e, '/v1/health/service/ghost')).json()).toEqual([]);
  });

  it('checks start critical unless a status is given; passing filters; tags filter', async () => {
    const e = await emulator();
    await put(e, '/v1/agent/service/register', {
      Name: 'api',
      ID: 'api-1',
      Port: 80,
      Address: '10.0.0.1',
      Tags: ['v1'],
      Check: { TTL: '30s' },
    });
    await put(e, '/v1/agent/service/register', {
      Name: 'api',
      ID: 'api-2',
      Port: 81,
      Tags: ['v2'],
      Check: { TTL: '30s', Status: 'passing' },
    });
    const all = (await call(e, '/v1/health/service/api')).json() as {
      Service: { ID: string };
      Checks: { Status: string; CheckID: string }[];
    }[];
    expect(all.map((x) => x.Service.ID).sort()).toEqual(['api-1', 'api-2']);
    const checks = all.find((x) => x.Service.ID === 'api-1')?.Checks;
    expect(checks?.map((c) => [c.CheckID, c.Status])).toEqual([
      ['serfHealth', 'passing'],
      ['service:api-1', 'critical'],
    ]);
    const passing = (await call(e, '/v1/health/service/api?passing')).json() as { Service: { ID: string } }[];
    expect(passing.map((x) => x.Service.ID)).toEqual(['api-2']);
    await put(e, '/v1/agent/check/pass/service:api-1?note=ok');
    const v1 = (await call(e, '/v1/health/service/api?passing&tag=v1')).json() as { Service: { ID: string } }[];
    expect(v1.map((x) => x.Service.ID)).toEqual(['api-1']);
    expect((await call(e, '/v1/catalog/services')).json()).toEqual({ consul: [], api: ['v1', 'v2'] });
    const agentChecks = (await call(e, '/v1/agent/checks')).json() as Record<
      string,
      { Output: string; Status: string }
    >;
    expect(agentChecks['service:api-1']).toMatchObject({ Status: 'passing', Output: 'ok' });
    expect(Object.keys((await call(e, '/v1/agent/services')).json() as object).sort()).toEqual(['api-1', 'api-2']);
  });

  it("answers errors with Consul's status codes and plain-text bodies", async () => {
    const e = await emulator();
    const unknown = await put(e, '/v1/agent/service/deregister/nope');
    expect(unknown.status).toBe(404);
    expect(unknown.text).toBe('Unknown service ID "nope". Ensure that the service ID is passed, not the service name.');
    expect(unknown.headers.get('content-type')).toMatch(/text\/plain/);
    expect((await put(e, '/v1/agent/service/register', { Port: 1 })).text).toBe('Missing service name');
    expect((await put(e, '/v1/agent/service/register', '{nope')).status).toBe(400);
    expect((await call(e, '/v1/agent/service/register')).status).toBe(405);
    expect((await put(e, '/v1/agent/check/pass/nope')).status).toBe(404);
    await put(e, '/v1/agent/service/register', { Name: 'h', Check: { HTTP: 'http://127.0.0.1:1/', Interval: '10s' } });
    const notTtl = await put(e, '/v1/agent/check/pass/service:h');
    expect([notTtl.status, notTtl.text]).toEqual([500, 'CheckID "service:h" does not have associated TTL']);
    expect((await call(e, '/v1/nowhere')).status).toBe(404);
  });

  it('answers a path with a broken %-escape with 400 and keeps serving (it used to throw out of the server)', async () => {
    const e = await emulator();
    const bad = await call(e, '/v1/kv/%E0%A4%A');
    expect([bad.status, bad.text]).toEqual([400, 'invalid URL escape "%A"']);
    expect((await call(e, '/v1/status/leader')).status).toBe(200);
  });

  it('enforces the ACL token (header or ?token=) except on status endpoints', async () => {
    const e = await emulator({ aclToken: 'secret' });
    const denied = await call(e, '/v1/agent/self');
    expect([denied.status, denied.text]).toEqual([403, 'Permission denied']);
    expect((await call(e, '/v1/agent/self', { headers: { 'X-Consul-Token': 'wrong' } })).status).toBe(403);
    expect((await call(e, '/v1/agent/self', { headers: { 'X-Consul-Token': 'secret' } })).status).toBe(200);
    expect((await call(e, '/v1/agent/self?token=secret')).status).toBe(200);
    expect((await call(e, '/v1/status/leader')).status).toBe(200);
  });

  it('really polls HTTP checks at their interval: 2xx passing, 429 warning, else critical', async () => {
    let status = 200;
    const target = createServer((_req, res) => {
      res.statusCode = status;
      res.end('body');
    });
    servers.push(target);
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(target.address() as AddressInfo).port}/health`;
    const e = await emulator();
    await put(e, '/v1/agent/service/register', { Name: 'web', Check: { HTTP: url, Interval: '1s' } });
    const statusOf = async () =>
      ((await call(e, '/v1/agent/checks')).json() as Record<string, { Status: string; Output: string }>)['service:web'];
    await until(async () => (await statusOf())?.Status === 'passing');
    expect((await statusOf())?.Output).toContain('200 OK Output: body');
    status = 429;
    await until(async () => (await statusOf())?.Status === 'warning');
    status = 503;
    await until(async () => (await statusOf())?.Status === 'critical');
  });

  it("an HTTP check's Timeout runs on the emulator's clock: a hung target goes critical when it is advanced", async () => {
    const target = createServer(() => {}); // accepts, never answers
    servers.push(target);
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(target.address() as AddressInfo).port}/health`;
    const clock = new FakeClock();
    const e = await emulator({ clock, random: () => 0 });
    const check = { HTTP: url, Interval: '60s', Timeout: '30s' };
    await put(e, '/v1/agent/service/register', { Name: 'hung', Check: check });
    const statusOf = async () =>
      ((await call(e, '/v1/agent/checks')).json() as Record<string, { Status: string; Output: string }>)[
        'service:hung'
      ];
    await clock.advance(0); // the first run starts at once
    await until(
      async () => target.listening && (await new Promise<number>((r) => target.getConnections((_, n) => r(n)))) > 0,
    );
    expect((await statusOf())?.Status).toBe('critical'); // not yet run: checks start critical
    await clock.advance(30_000);
    await until(async () => (await statusOf())?.Output.includes('context deadline exceeded') ?? false, 2_000);
    target.closeAllConnections();
  });

  it('TTL checks go critical when not refreshed; DeregisterCriticalServiceAfter reaps the service', async () => {
    const clock = new FakeClock();
    const e = await emulator({ clock, random: () => 0 });
    await put(e, '/v1/agent/service/register', {
      Name: 'ttl',
      Check: { TTL: '10s', Status: 'passing', DeregisterCriticalServiceAfter: '1m' },
    });
    const check = async () =>
      ((await call(e, '/v1/agent/checks')).json() as Record<string, { Status: string; Output: string }>)['service:ttl'];
    await clock.advance(9_000);
    await put(e, '/v1/agent/check/pass/service:ttl'); // refresh resets the TTL
    await clock.advance(9_000);
    expect((await check())?.Status).toBe('passing');
    await clock.advance(1_001);
    expect(await check()).toMatchObject({ Status: 'critical', Output: 'TTL expired' });
    expect(Object.keys((await call(e, '/v1/agent/services')).json() as object)).toEqual(['ttl']);
    await clock.advance(90_000); // ≥ 1 min critical + a reaper round (every 30 s)
    expect((await call(e, '/v1/agent/services')).json()).toEqual({});
  });
});

describe('Consul emulator: blocking queries', () => {
  it('holds until the index moves past ?index, then returns the new index', async () => {
    const e = await emulator();
    await put(e, '/v1/agent/service/register', { Name: 'svc', Check: { TTL: '30s' } });
    const first = await call(e, '/v1/health/service/svc?passing');
    expect(first.json()).toEqual([]);
    let settled = false;
    const blocked = call(e, `/v1/health/service/svc?passing&index=${first.index}&wait=30s`).then((r) => {
      settled = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(settled).toBe(false);
    await put(e, '/v1/agent/check/pass/service:svc');
    const next = await blocked;
    expect(next.index).toBeGreaterThan(first.index);
    expect((next.json() as unknown[]).length).toBe(1);
  });

  it('a heartbeat that changes nothing, or only the output, does not bump the index', async () => {
    const e = await emulator();
    await put(e, '/v1/agent/service/register', { Name: 'hb', Check: { TTL: '30s', Status: 'passing' } });
    const a = await call(e, '/v1/health/service/hb');
    await put(e, '/v1/agent/check/pass/service:hb');
    await put(e, '/v1/agent/check/pass/service:hb?note=at%2012:00:01'); // Consul defers output-only syncs
    expect((await call(e, '/v1/health/service/hb')).index).toBe(a.index);
    await put(e, '/v1/agent/check/warn/service:hb');
    expect((await call(e, '/v1/health/service/hb')).index).toBeGreaterThan(a.index);
  });

  it('returns the unchanged index when wait elapses (wait + up to wait/16 jitter)', async () => {
    const clock = new FakeClock();
    const e = await emulator({ clock });
    const first = await call(e, '/v1/catalog/services');
    const blocked = call(e, `/v1/catalog/services?index=${first.index}&wait=16s`);
    await until(async () => clock.pendingTimers().length > 1);
    const timer = clock.pendingTimers().find((t) => t.at - clock.now() >= 16_000);
    expect(timer).toBeDefined();
    expect((timer?.at ?? 0) - clock.now()).toBeLessThanOrEqual(17_000);
    await clock.advance(17_000);
    const res = await blocked;
    expect(res.index).toBe(first.index);
  });

  it('caps wait at 10 minutes and defaults it to 5', async () => {
    const clock = new FakeClock();
    const e = await emulator({ clock });
    const i = (await call(e, '/v1/catalog/services')).index;
    const base = clock.pendingTimers().length;
    void call(e, `/v1/catalog/services?index=${i}&wait=1h`).catch(() => {});
    void call(e, `/v1/catalog/services?index=${i}`).catch(() => {});
    await until(async () => clock.pendingTimers().length >= base + 2);
    const delays = clock
      .pendingTimers()
      .map((t) => t.at - clock.now())
      .filter((d) => d >= 5 * 60_000)
      .sort((a, b) => a - b);
    expect(delays[0]).toBeLessThanOrEqual(5 * 60_000 * (17 / 16));
    expect(delays[1]).toBeGreaterThanOrEqual(10 * 60_000);
    expect(delays[1]).toBeLessThanOrEqual(10 * 60_000 * (17 / 16));
  });

  it('after a restart without data the index goes backwards (clients must reset)', async () => {
    const e = await emulator();
    for (let i = 0; i < 5; i++) await put(e, `/v1/kv/k${i}`, 'v');
    const before = (await call(e, '/v1/kv/?recurse')).index;
    await e.restart();
    const after = await call(e, '/v1/kv/?recurse');
    expect(after.status).toBe(404);
    expect(after.index).toBeLessThan(before);
    expect(after.index).toBeGreaterThanOrEqual(1);
    await put(e, '/v1/kv/kept', 'v');
    await e.restart({ keepData: true });
    expect((await call(e, '/v1/kv/kept?raw')).text).toBe('v');
  });

  it('restart drops in-flight blocking queries and keeps the port', async () => {
    const e = await emulator();
    const port = e.port;
    const i = (await call(e, '/v1/catalog/services')).index;
    const blocked = call(e, `/v1/catalog/services?index=${i}&wait=5m`).then(
      () => 'answered',
      () => 'reset',
    );
    await new Promise((r) => setTimeout(r, 50));
    await e.restart();
    expect(await blocked).toBe('reset');
    expect(e.port).toBe(port);
    expect((await call(e, '/v1/status/leader')).status).toBe(200);
  });

  it('records every request', async () => {
    const e = await emulator();
    await call(e, '/v1/kv/a?recurse&index=3&wait=1ms');
    expect(e.requests()).toEqual([
      { method: 'GET', path: '/v1/kv/a', query: { recurse: '', index: '3', wait: '1ms' } },
    ]);
    e.resetRequests();
    expect(e.requests()).toEqual([]);
  });
});

describe('Consul emulator: KV', () => {
  it('stores base64 values with flags and indexes; raw, recurse, keys + separator', async () => {
    const e = await emulator();
    expect((await put(e, '/v1/kv/app/a?flags=42', 'hello')).json()).toBe(true);
    await put(e, '/v1/kv/app/sub/b', 'x');
    await put(e, '/v1/kv/other', 'y');
    const [a] = (await call(e, '/v1/kv/app/a')).json() as Record<string, unknown>[];
    expect(a).toMatchObject({ Key: 'app/a', Flags: 42, Value: Buffer.from('hello').toString('base64'), LockIndex: 0 });
    expect(a?.CreateIndex).toBe(a?.ModifyIndex);
    expect((await call(e, '/v1/kv/app/a?raw')).text).toBe('hello');
    const rec = (await call(e, '/v1/kv/app/?recurse')).json() as { Key: string }[];
    expect(rec.map((x) => x.Key)).toEqual(['app/a', 'app/sub/b']);
    expect((await call(e, '/v1/kv/app/?keys&separator=/')).json()).toEqual(['app/a', 'app/sub/']);
    expect((await call(e, '/v1/kv/?keys')).json()).toEqual(['app/a', 'app/sub/b', 'other']);
    expect((await call(e, '/v1/kv/nothing/?keys')).status).toBe(404);
    await put(e, '/v1/kv/empty', '');
    expect(((await call(e, '/v1/kv/empty')).json() as { Value: unknown }[])[0]?.Value).toBeNull();
    // As Consul: a PUT without ?flags sets them to 0, it does not keep the old ones.
    await put(e, '/v1/kv/app/a', 'again');
    expect(((await call(e, '/v1/kv/app/a')).json() as { Flags: number }[])[0]?.Flags).toBe(0);
  });

  it('cas: 0 creates only if absent; N updates only at ModifyIndex N; delete cas=0 does nothing', async () => {
    const e = await emulator();
    expect((await put(e, '/v1/kv/c?cas=0', '1')).json()).toBe(true);
    expect((await put(e, '/v1/kv/c?cas=0', '2')).json()).toBe(false);
    const [c] = (await call(e, '/v1/kv/c')).json() as { ModifyIndex: number; CreateIndex: number }[];
    expect((await put(e, `/v1/kv/c?cas=${(c?.ModifyIndex ?? 0) + 7}`, '3')).json()).toBe(false);
    expect((await put(e, `/v1/kv/c?cas=${c?.ModifyIndex}`, '4')).json()).toBe(true);
    expect((await put(e, `/v1/kv/c?cas=${c?.ModifyIndex}`, '5')).json()).toBe(false); // index moved on
    const [c2] = (await call(e, '/v1/kv/c')).json() as { ModifyIndex: number; CreateIndex: number }[];
    expect(c2?.CreateIndex).toBe(c?.CreateIndex);
    expect(c2?.ModifyIndex).toBeGreaterThan(c?.ModifyIndex ?? 0);
    expect((await call(e, '/v1/kv/c?raw')).text).toBe('4');
    expect((await call(e, '/v1/kv/c?cas=0', { method: 'DELETE' })).json()).toBe(false);
    expect((await call(e, `/v1/kv/c?cas=${c?.ModifyIndex}`, { method: 'DELETE' })).json()).toBe(false);
    expect((await call(e, `/v1/kv/c?cas=${c2?.ModifyIndex}`, { method: 'DELETE' })).json()).toBe(true);
    expect((await call(e, '/v1/kv/c')).status).toBe(404);
  });

  it('delete recurse removes a prefix and a blocking list sees the tombstone index', async () => {
    const e = await emulator();
    await put(e, '/v1/kv/p/1', 'a');
    await put(e, '/v1/kv/p/2', 'b');
    await put(e, '/v1/kv/q', 'c');
    const list = await call(e, '/v1/kv/p/?recurse');
    const blocked = call(e, `/v1/kv/p/?recurse&index=${list.index}&wait=30s`);
    await call(e, '/v1/kv/p/?recurse', { method: 'DELETE' });
    const after = await blocked;
    expect(after.status).toBe(404);
    expect(after.index).toBeGreaterThan(list.index);
    expect((await call(e, '/v1/kv/q?raw')).text).toBe('c');
  });

  it('rejects values over 512 KiB with 413', async () => {
    const e = await emulator();
    expect((await put(e, '/v1/kv/big', 'x'.repeat(512 * 1024 + 1))).status).toBe(413);
  });
});

describe('Consul emulator: sessions and locks', () => {
  it('acquire/release: one holder at a time, LockIndex counts acquisitions', async () => {
    const e = await emulator();
    const s1 = ((await put(e, '/v1/session/create', { Name: 'a', LockDelay: '0s' })).json() as { ID: string }).ID;
    const s2 = ((await put(e, '/v1/session/create', { Name: 'b' })).json() as { ID: string }).ID;
    expect((await put(e, `/v1/kv/lock?acquire=${s1}`, 'me')).json()).toBe(true);
    expect((await put(e, `/v1/kv/lock?acquire=${s2}`, 'you')).json()).toBe(false);
    expect((await put(e, `/v1/kv/lock?release=${s2}`)).json()).toBe(false);
    const [held] = (await call(e, '/v1/kv/lock')).json() as { Session: string; LockIndex: number }[];
    expect(held).toMatchObject({ Session: s1, LockIndex: 1 });
    expect((await put(e, `/v1/kv/lock?release=${s1}`)).json()).toBe(true);
    expect((await put(e, `/v1/kv/lock?acquire=${s2}`, 'you')).json()).toBe(true);
    expect(((await call(e, '/v1/kv/lock')).json() as { LockIndex: number }[])[0]?.LockIndex).toBe(2);
    const bad = await put(e, '/v1/kv/lock?acquire=00000000-0000-0000-0000-000000000000');
    expect([bad.status, bad.text]).toEqual([500, 'invalid session "00000000-0000-0000-0000-000000000000"']);
    const info = (await call(e, `/v1/session/info/${s2}`)).json() as { Behavior: string; LockDelay: number }[];
    expect(info[0]).toMatchObject({ Behavior: 'release', LockDelay: 15_000_000_000 });
  });

  it('destroying a session releases its locks and applies the lock-delay', async () => {
    const clock = new FakeClock();
    const e = await emulator({ clock });
    const s1 = ((await put(e, '/v1/session/create', { LockDelay: '15s' })).json() as { ID: string }).ID;
    const s2 = ((await put(e, '/v1/session/create', {})).json() as { ID: string }).ID;
    await put(e, `/v1/kv/l?acquire=${s1}`);
    expect((await put(e, `/v1/session/destroy/${s1}`)).json()).toBe(true);
    const [k] = (await call(e, '/v1/kv/l')).json() as { Session?: string }[];
    expect(k?.Session).toBeUndefined();
    expect((await put(e, `/v1/kv/l?acquire=${s2}`)).json()).toBe(false); // inside lock-delay
    await clock.advance(15_001);
    expect((await put(e, `/v1/kv/l?acquire=${s2}`)).json()).toBe(true);
    expect((await call(e, `/v1/session/info/${s1}`)).json()).toEqual([]);
  });

  it('TTL sessions expire at 2×TTL unless renewed; behavior=delete removes held keys', async () => {
    const clock = new FakeClock();
    const e = await emulator({ clock });
    const bad = await put(e, '/v1/session/create', { TTL: '5s' });
    expect(bad.status).toBe(500);
    const id = ((await put(e, '/v1/session/create', { TTL: '10s', Behavior: 'delete' })).json() as { ID: string }).ID;
    await put(e, `/v1/kv/eph?acquire=${id}`, 'x');
    await clock.advance(19_000);
    const renewed = (await put(e, `/v1/session/renew/${id}`)).json() as { TTL: string }[];
    expect(renewed[0]?.TTL).toBe('10s');
    await clock.advance(19_000);
    expect((await call(e, '/v1/kv/eph')).status).toBe(200);
    await clock.advance(1_001);
    expect((await call(e, '/v1/kv/eph')).status).toBe(404);
    const gone = await put(e, `/v1/session/renew/${id}`);
    expect([gone.status, gone.text]).toEqual([404, `Session id '${id}' not found`]);
  });
});

/** https://developer.hashicorp.com/consul/api-docs/txn ("Create Transaction", "Tables of Operations"). */
describe('Consul emulator: /v1/txn (Transactions HTTP API)', () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const txn = (e: ConsulEmulator, ops: unknown[]) => put(e, '/v1/txn', ops);
  const kvGet = async (e: ConsulEmulator, key: string) => {
    const r = await call(e, `/v1/kv/${key}`);
    return r.status === 404 ? undefined : (r.json() as { Value: string; ModifyIndex: number }[])[0];
  };

  it('applies every KV write at one index; results carry metadata with Value null, none for deletes', async () => {
    const e = await emulator();
    await put(e, '/v1/kv/t/old', 'x');
    const r = await txn(e, [
      { KV: { Verb: 'set', Key: 't/a', Value: b64('1'), Flags: 7 } },
      { KV: { Verb: 'cas', Key: 't/b', Value: b64('2'), Index: 0 } },
      { KV: { Verb: 'delete', Key: 't/old' } },
    ]);
    expect(r.status).toBe(200);
    const body = r.json() as { Results: { KV: Record<string, unknown> }[]; Errors: unknown };
    expect(body.Errors).toBeNull();
    expect(body.Results).toHaveLength(2); // "no result entries will be added for verbs that delete keys"
    expect(body.Results[0]!.KV).toMatchObject({ Key: 't/a', Flags: 7, Value: null });
    expect(body.Results[0]!.KV.ModifyIndex).toBe(body.Results[1]!.KV.ModifyIndex);
    expect(Buffer.from((await kvGet(e, 't/a'))!.Value, 'base64').toString()).toBe('1');
    expect(await kvGet(e, 't/old')).toBeUndefined();
    // A write transaction goes through Raft: no read metadata headers.
    expect(r.headers.get('x-consul-index')).toBeNull();
    expect(r.headers.get('x-consul-knownleader')).toBeNull();
  });

  it('is all-or-nothing: a failed check rolls back with 409, Results null and every error with OpIndex/What', async () => {
    const e = await emulator();
    await put(e, '/v1/kv/t/v', '1');
    const index = (await kvGet(e, 't/v'))!.ModifyIndex;
    const r = await txn(e, [
      { KV: { Verb: 'set', Key: 't/x', Value: b64('new') } },
      { KV: { Verb: 'check-index', Key: 't/v', Index: index + 100 } },
      { KV: { Verb: 'check-not-exists', Key: 't/v' } },
      { KV: { Verb: 'get', Key: 't/missing' } },
    ]);
    expect(r.status).toBe(409);
    expect(r.json()).toEqual({
      Results: null,
      Errors: [
        { OpIndex: 1, What: `failed index check for key "t/v", current modify index ${index} != ${index + 100}` },
        { OpIndex: 2, What: 'key "t/v" exists' },
        { OpIndex: 3, What: `key "t/missing" doesn't exist` },
      ],
    });
    expect(await kvGet(e, 't/x')).toBeUndefined(); // the set before the failed check did not happen
    const ok = await txn(e, [
      { KV: { Verb: 'check-index', Key: 't/v', Index: index } },
      { KV: { Verb: 'set', Key: 't/v', Value: b64('2') } },
    ]);
    expect(ok.status).toBe(200);
    // check-index on a key that does not exist fails (state store kvsCheckIndexTxn).
    const missing = await txn(e, [{ KV: { Verb: 'check-index', Key: 't/none', Index: 1 } }]);
    expect(missing.json()).toMatchObject({
      Errors: [{ OpIndex: 0, What: `failed to check index, key "t/none" doesn't exist` }],
    });
  });

  it('a read-only transaction is fast-pathed: values returned, leader headers, no index', async () => {
    const e = await emulator();
    await put(e, '/v1/kv/r/a', 'A');
    await put(e, '/v1/kv/r/b', 'B');
    const r = await txn(e, [
      { KV: { Verb: 'get', Key: 'r/a' } },
      { KV: { Verb: 'get-tree', Key: 'r/' } },
      { KV: { Verb: 'get-or-empty', Key: 'r/none' } },
    ]);
    expect(r.status).toBe(200);
    const results = (r.json() as { Results: { KV: { Key: string; Value: string | null } }[] }).Results;
    expect(results.map((x) => [x.KV.Key, x.KV.Value && Buffer.from(x.KV.Value, 'base64').toString()])).toEqual([
      ['r/a', 'A'],
      ['r/a', 'A'],
      ['r/b', 'B'],
      ['r/none', null],
    ]);
    expect(r.headers.get('x-consul-lastcontact')).toBe('0');
    expect(r.headers.get('x-consul-knownleader')).toBe('true');
    expect(r.headers.get('x-consul-index')).toBeNull();
  });

  it('delete-tree, delete-cas (a missing key succeeds), and cas with a stale index', async () => {
    const e = await emulator();
    await put(e, '/v1/kv/d/a', '1');
    await put(e, '/v1/kv/d/b', '2');
    const idx = (await kvGet(e, 'd/a'))!.ModifyIndex;
    const stale = await txn(e, [
      { KV: { Verb: 'cas', Key: 'd/a', Value: b64('x'), Index: idx + 1 } },
      { KV: { Verb: 'delete-cas', Key: 'd/b', Index: 1 } },
    ]);
    expect(stale.json()).toMatchObject({
      Errors: [
        { OpIndex: 0, What: 'failed to set key "d/a", index is stale' },
        { OpIndex: 1, What: 'failed to delete key "d/b", index is stale' },
      ],
    });
    const ok = await txn(e, [
      { KV: { Verb: 'delete-cas', Key: 'd/none', Index: 5 } },
      { KV: { Verb: 'delete-tree', Key: 'd/' } },
    ]);
    expect(ok.status).toBe(200);
    expect((await call(e, '/v1/kv/d/?recurse')).status).toBe(404);
  });

  it('lock / unlock / check-session with a session, and an unknown verb is an error of that operation', async () => {
    const e = await emulator();
    const { ID } = (await put(e, '/v1/session/create', { LockDelay: '0s' })).json() as { ID: string };
    const lock = await txn(e, [{ KV: { Verb: 'lock', Key: 'l/k', Value: b64('me'), Session: ID } }]);
    expect(lock.status).toBe(200);
    expect((lock.json() as { Results: { KV: { Session: string; LockIndex: number } }[] }).Results[0]!.KV).toMatchObject(
      {
        Session: ID,
        LockIndex: 1,
      },
    );
    expect((await txn(e, [{ KV: { Verb: 'check-session', Key: 'l/k', Session: ID } }])).status).toBe(200);
    expect((await txn(e, [{ KV: { Verb: 'unlock', Key: 'l/k', Value: b64(''), Session: ID } }])).status).toBe(200);
    const again = await txn(e, [{ KV: { Verb: 'unlock', Key: 'l/k', Value: b64(''), Session: ID } }]);
    expect(again.json()).toMatchObject({
      Errors: [{ OpIndex: 0, What: `failed to unlock key "l/k", lock isn't held, or is held by another session` }],
    });
    const unknown = await txn(e, [{ KV: { Verb: 'frobnicate', Key: 'l/k' } }]);
    expect(unknown.status).toBe(409);
    expect(unknown.json()).toMatchObject({ Errors: [{ OpIndex: 0, What: 'unknown KV verb "frobnicate"' }] });
  });

  it('above the operation cap: 413 "Transaction contains too many operations (n > cap)", nothing applied', async () => {
    const e = await emulator();
    const ops = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ KV: { Verb: 'set', Key: `c/${i}`, Value: b64('v') } }));
    const r = await txn(e, ops(129));
    expect(r.status).toBe(413);
    expect(r.text).toBe('Transaction contains too many operations (129 > 128)');
    expect((await call(e, '/v1/kv/c/?keys')).status).toBe(404);
    expect((await txn(e, ops(128))).status).toBe(200);
    const old = await emulator({ maxTxnOps: 64 });
    expect((await txn(old, ops(65))).text).toBe('Transaction contains too many operations (65 > 64)');
  });

  it('wakes a blocking query on the prefix once, with every key of the transaction visible', async () => {
    const e = await emulator();
    await put(e, '/v1/kv/w/a', '0');
    const first = await call(e, '/v1/kv/w/?recurse');
    const waiting = call(e, `/v1/kv/w/?recurse&index=${first.index}&wait=5s`);
    await txn(e, [
      { KV: { Verb: 'set', Key: 'w/a', Value: b64('1') } },
      { KV: { Verb: 'set', Key: 'w/b', Value: b64('1') } },
    ]);
    const woke = await waiting;
    expect(woke.index).toBeGreaterThan(first.index);
    expect((woke.json() as unknown[]).length).toBe(2);
  });
});

/** Issue 22 §4: where the emulator used to differ from Consul in ways client code could rely on. */
describe('Consul emulator: fidelity (agent/kvs_endpoint.go, agent/session_endpoint.go, agent/http.go)', () => {
  it('writes and agent-local endpoints carry no X-Consul-Index (only state-store reads set query metadata)', async () => {
    const e = await emulator();
    const write = await put(e, '/v1/kv/h/a', 'x');
    expect(write.json()).toBe(true);
    expect(write.headers.get('x-consul-index')).toBeNull();
    const reg = await put(e, '/v1/agent/service/register', { Name: 'web', ID: 'web-1', Port: 80 });
    expect(reg.status).toBe(200);
    expect(reg.headers.get('x-consul-index')).toBeNull();
    const services = await call(e, '/v1/agent/services');
    expect(services.headers.get('x-consul-index')).toBeNull();
    expect((await call(e, '/v1/status/leader')).headers.get('x-consul-index')).toBeNull();
    expect((await call(e, '/v1/kv/h/a')).index).toBeGreaterThanOrEqual(1);
  });

  it('conflicting flags: PUT ?cas&acquire and DELETE ?recurse&cas answer 400 (KV HTTP API)', async () => {
    const e = await emulator();
    const { ID } = (await put(e, '/v1/session/create', {})).json() as { ID: string };
    const both = await put(e, `/v1/kv/f/a?cas=0&acquire=${ID}`, 'x');
    expect(both.status).toBe(400);
    expect(both.text).toBe(`Conflicting flags: acquire=${ID}&cas=0`);
    const del = await call(e, '/v1/kv/f/?recurse&cas=3', { method: 'DELETE' });
    expect(del.status).toBe(400);
    expect(del.text).toMatch(/^Conflicting flags: /);
  });

  it('DELETE ?cas=0 on a missing key is true; on an existing key false (state store kvsDeleteCASTxn)', async () => {
    const e = await emulator();
    expect((await call(e, '/v1/kv/m/none?cas=0', { method: 'DELETE' })).json()).toBe(true);
    await put(e, '/v1/kv/m/a', 'x');
    expect((await call(e, '/v1/kv/m/a?cas=0', { method: 'DELETE' })).json()).toBe(false);
  });

  it('releasing with a dead session answers 200 false, not an error', async () => {
    const e = await emulator();
    const { ID } = (await put(e, '/v1/session/create', { LockDelay: '0s' })).json() as { ID: string };
    expect((await put(e, `/v1/kv/r/k?acquire=${ID}`, 'x')).json()).toBe(true);
    await put(e, `/v1/session/destroy/${ID}`);
    const released = await put(e, `/v1/kv/r/k?release=${ID}`, 'x');
    expect(released.status).toBe(200);
    expect(released.json()).toBe(false);
  });

  it('a numeric LockDelay below 1000 means seconds, at or above it nanoseconds (FixupLockDelay)', async () => {
    const e = await emulator();
    const info = async (body: unknown) => {
      const { ID } = (await put(e, '/v1/session/create', body)).json() as { ID: string };
      return ((await call(e, `/v1/session/info/${ID}`)).json() as { LockDelay: number }[])[0]!.LockDelay;
    };
    expect(await info({ LockDelay: 120 })).toBe(120e9); // 120 s
    expect(await info({ LockDelay: 2_000_000_000 })).toBe(2e9); // 2 s given in ns
  });

  it('?dc naming an unknown datacenter answers 500 "No path to datacenter"', async () => {
    const e = await emulator();
    const r = await call(e, '/v1/health/service/web?dc=dc9');
    expect(r.status).toBe(500);
    expect(r.text).toBe('No path to datacenter');
    expect((await call(e, '/v1/health/service/web?dc=dc1')).status).toBe(200);
  });
});

/** Issue 22 §4, continued: ?filter and TCP/gRPC checks as Consul documents them. */
describe('Consul emulator: ?filter (api-docs/features/filtering) and check kinds (api-docs/agent/check)', () => {
  const q = (expr: string) => `filter=${encodeURIComponent(expr)}`;
  it('?filter on /v1/health/service and /v1/catalog/service: operators, and/or/not, missing selectors, 400 on bad syntax', async () => {
    const e = await emulator();
    await put(e, '/v1/agent/service/register', { Name: 'web', ID: 'w1', Port: 1, Tags: ['a'], Meta: { v: '1' } });
    await put(e, '/v1/agent/service/register', { Name: 'web', ID: 'w2', Port: 2, Tags: ['b'], Meta: { v: '2' } });
    await put(e, '/v1/agent/service/register', { Name: 'web', ID: 'w3', Port: 3, Tags: [] });
    const health = async (expr: string) =>
      ((await call(e, `/v1/health/service/web?${q(expr)}`)).json() as { Service: { ID: string } }[])
        .map((x) => x.Service.ID)
        .sort();
    expect(await health('Service.Meta.v == "2"')).toEqual(['w2']);
    expect(await health('Service.Meta.v != "2"')).toEqual(['w1', 'w3']); // a missing key makes != true
    expect(await health('"a" in Service.Tags or Service.ID == `w3`')).toEqual(['w1', 'w3']);
    expect(await health('Service.Tags is empty')).toEqual(['w3']);
    expect(await health('not (Service.Tags is empty) and Service.ID matches "^w[12]$"')).toEqual(['w1', 'w2']);
    expect(await health('Service.Tags not contains "a" and Service.Meta is not empty')).toEqual(['w2']);
    const catalog = (await call(e, `/v1/catalog/service/web?${q('ServiceMeta.v == "1"')}`)).json() as {
      ServiceID: string;
    }[];
    expect(catalog.map((x) => x.ServiceID)).toEqual(['w1']);
    const bad = await call(e, `/v1/health/service/web?${q('Service.Meta ==')}`);
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/^Failed to create boolean expression evaluator/);
  });

  it('TCP checks connect at their interval (passing / critical); gRPC checks are listed with Type "grpc"', async () => {
    const e = await emulator({ random: () => 0 });
    const server = createServer();
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    await put(e, '/v1/agent/service/register', {
      Name: 'tcp',
      ID: 'tcp-1',
      Checks: [
        { CheckID: 'up', TCP: `127.0.0.1:${port}`, Interval: '10s', Timeout: '1s' },
        { CheckID: 'down', TCP: '127.0.0.1:1', Interval: '10s', Timeout: '1s' },
        { CheckID: 'g', GRPC: `127.0.0.1:${port}`, Interval: '10s' },
      ],
    });
    await until(async () => {
      const checks = (await call(e, '/v1/agent/checks')).json() as Record<string, { Status: string; Output: string }>;
      return checks.up?.Status === 'passing' && checks.down?.Output !== '';
    });
    const checks = (await call(e, '/v1/agent/checks')).json() as Record<string, { Status: string; Type: string }>;
    expect([checks.up?.Type, checks.down?.Type, checks.g?.Type]).toEqual(['tcp', 'tcp', 'grpc']);
    expect(checks.down?.Status).toBe('critical');
    expect((await put(e, '/v1/agent/check/register', { Name: 'x', TCP: '127.0.0.1:1' })).status).toBe(400);
  });
});

/**
 * Issue 22 §4: ACL filtering (api-docs/api-structure "Authentication", docs/security/acl "default policy deny":
 * anonymous list reads are filtered, not refused), the health endpoint's JSON shape (api-docs/health "List Service
 * Instances for Service" sample response), re-registration keeping check state (agent/local state), the first
 * HTTP probe staggered within its interval (agent/checks: lib.RandomStagger), and KV key validation
 * (CVE-2025-11392, hashicorp/consul#22850: path traversal, encoded traversal, leading/trailing spaces).
 */
describe('Consul emulator: ACL filtering, health shape, re-registration, key validation', () => {
  it('anonymous reads are filtered: list endpoints 200 []/{}, recursive KV 404, single key 403, writes 403; only a real token is told (X-Consul-Results-Filtered-By-ACLs)', async () => {
    const e = await emulator({ aclToken: 'secret', aclDeniedTokens: ['weak'] });
    const auth = { headers: { 'X-Consul-Token': 'secret' } };
    await call(e, '/v1/agent/service/register', {
      method: 'PUT',
      body: JSON.stringify({ Name: 'web', ID: 'w1' }),
      ...auth,
    });
    await call(e, '/v1/kv/app/a', { method: 'PUT', body: 'x', ...auth });
    const health = await call(e, '/v1/health/service/web');
    expect([health.status, health.json()]).toEqual([200, []]);
    // Server.maskResultsFilteredByACLs: the anonymous token is not told its results were filtered.
    expect(health.headers.get('x-consul-results-filtered-by-acls')).toBeNull();
    const weak = { headers: { 'X-Consul-Token': 'weak' } };
    const weakHealth = await call(e, '/v1/health/service/web', weak);
    expect([weakHealth.status, weakHealth.json()]).toEqual([200, []]);
    expect(weakHealth.headers.get('x-consul-results-filtered-by-acls')).toBe('true');
    const weakKv = await call(e, '/v1/kv/app/?recurse', weak);
    expect([weakKv.status, weakKv.headers.get('x-consul-results-filtered-by-acls')]).toEqual([404, 'true']);
    expect((await call(e, '/v1/kv/app/b', { method: 'PUT', body: 'y', ...weak })).status).toBe(403);
    const services = await call(e, '/v1/catalog/services');
    expect([services.status, services.json()]).toEqual([200, {}]);
    expect((await call(e, '/v1/catalog/service/web')).json()).toEqual([]);
    expect((await call(e, '/v1/agent/services')).json()).toEqual({});
    expect((await call(e, '/v1/kv/app/?recurse')).status).toBe(404);
    expect((await call(e, '/v1/kv/app/?keys')).status).toBe(404);
    const single = await call(e, '/v1/kv/app/a');
    expect([single.status, single.text]).toEqual([403, 'Permission denied']);
    expect((await put(e, '/v1/kv/app/b', 'y')).status).toBe(403);
    expect((await put(e, '/v1/agent/service/register', { Name: 'x' })).status).toBe(403);
    // A token that does not exist is refused everywhere; a good one sees everything.
    const unknown = await call(e, '/v1/health/service/web', { headers: { 'X-Consul-Token': 'nope' } });
    expect([unknown.status, unknown.text]).toEqual([403, 'ACL not found']);
    const ok = await call(e, '/v1/health/service/web', auth);
    expect((ok.json() as unknown[]).length).toBe(1);
    expect(ok.headers.get('x-consul-results-filtered-by-acls')).toBeNull();
  });

  it('?token= wins over the X-Consul-Token header (api-docs/api-structure)', async () => {
    const e = await emulator({ aclToken: 'secret' });
    const r = await call(e, '/v1/kv/a?token=secret', { headers: { 'X-Consul-Token': 'nope' } });
    expect(r.status).toBe(404); // authorised, the key just does not exist
    const wrong = await call(e, '/v1/kv/a?token=nope', { headers: { 'X-Consul-Token': 'secret' } });
    expect(wrong.status).toBe(403);
  });

  it('health/service shape: Meta null when none, Port omitted when 0, Proxy and Connect present, no Datacenter; HTTP check without Timeout says ""', async () => {
    const e = await emulator();
    await put(e, '/v1/agent/service/register', {
      Name: 'bare',
      ID: 'b1',
      Check: { HTTP: 'http://127.0.0.1:1/health', Interval: '10s' },
    });
    const [entry] = (await call(e, '/v1/health/service/bare')).json() as {
      Service: Record<string, unknown>;
      Checks: { CheckID: string; Timeout: string }[];
    }[];
    expect(entry?.Service.Meta).toBeNull();
    expect('Port' in (entry?.Service ?? {})).toBe(false);
    expect('Datacenter' in (entry?.Service ?? {})).toBe(false);
    expect(entry?.Service.Proxy).toEqual({ Mode: '', MeshGateway: {}, Expose: {} });
    expect(entry?.Service.Connect).toEqual({});
    expect(entry?.Checks.find((c) => c.CheckID === 'service:b1')?.Timeout).toBe('');
  });

  it('re-registering a service keeps its checks’ current status and output until the next update', async () => {
    const e = await emulator();
    const reg = { Name: 'r', ID: 'r1', Check: { TTL: '30s' } };
    await put(e, '/v1/agent/service/register', reg);
    await put(e, '/v1/agent/check/pass/service:r1?note=fine');
    await put(e, '/v1/agent/service/register', { ...reg, Check: { TTL: '30s', Status: 'critical' } });
    const c = ((await call(e, '/v1/agent/checks')).json() as Record<string, { Status: string; Output: string }>)[
      'service:r1'
    ];
    expect(c).toMatchObject({ Status: 'passing', Output: 'fine' });
  });

  it("a new HTTP check's first probe waits a random time within its interval", async () => {
    const clock = new FakeClock();
    const hits: number[] = [];
    const server = createServer((_req, res) => {
      hits.push(clock.now());
      res.end('ok');
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const e = await emulator({ clock, random: () => 0.5 });
    const start = clock.now();
    await put(e, '/v1/agent/service/register', {
      Name: 'h',
      ID: 'h1',
      Check: { HTTP: `http://127.0.0.1:${port}/`, Interval: '10s' },
    });
    await clock.advance(4_999);
    await new Promise((r) => setTimeout(r, 50));
    expect(hits).toEqual([]);
    await clock.advance(1);
    await until(async () => hits.length === 1);
    expect(hits[0]! - start).toBe(5_000);
  });

  it('KV keys: path traversal, encoded traversal and leading/trailing spaces are refused; other characters pass', async () => {
    const e = await emulator();
    // node:http sends the path as given (fetch would normalise `..` away, as a browser does).
    const rawPut = (path: string) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port: e.port, path, method: 'PUT' }, (res) => {
          let text = '';
          res.on('data', (c) => {
            text += c;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        });
        req.on('error', reject);
        req.end('x');
      });
    // A literal `..` segment never reaches the KV handler (the HTTP layer cleans the path first); an encoded one
    // (the key holds `..%2F`) does, and is refused.
    for (const bad of ['a/..%252Fb', '..%255cb', '%252e%252e%252fetc', '%20lead', 'trail%20']) {
      const r = await rawPut(`/v1/kv/${bad}`);
      expect([bad, r.status]).toEqual([bad, 400]);
      expect(r.text).toMatch(/^invalid key name/);
    }
    for (const good of ['foo/bar', 'foo%20bar', 'con..fig', 'foo:bar', 'foo%C3%A7bar', 'a%252Fb']) {
      const r = await rawPut(`/v1/kv/${good}`);
      expect([good, r.status]).toEqual([good, 200]);
    }
  });
});
