/**
 * Every API endpoint over HTTP against real Redis (the fixture's data under a prefix of its own): what each
 * panel reads, each action, and the guards — nothing served outside the base path, CSRF (token + Origin),
 * `authorize` (read-only without it), redaction of config secrets, the live stream.
 */
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CSRF_HEADER, createDashboard, type Dashboard } from '../src/index';
import { CONFIG, EVENT, type Fixture, LOCK, QUEUE, seed, serve } from './fixture';

vi.setConfig({ testTimeout: 30_000, hookTimeout: 60_000 });

let fx: Fixture;
let origin = '';
let dashboard: Dashboard;
let closeServer: () => Promise<void>;
const base = '/ops/ballast';

beforeAll(async () => {
  fx = await seed();
  const s = await serve(fx.options);
  origin = s.origin;
  dashboard = s.dashboard;
  closeServer = () => new Promise((resolve) => s.server.close(() => resolve()));
});

afterAll(async () => {
  dashboard?.close();
  await closeServer?.();
  await fx?.close();
});

interface Session {
  cookie: string;
  token: string;
}

async function session(): Promise<Session> {
  const res = await fetch(`${origin}${base}/`);
  const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
  const token = /name="ballast-csrf" content="([^"]+)"/.exec(await res.text())![1]!;
  return { cookie, token };
}

const get = async (path: string) => {
  const res = await fetch(`${origin}${base}/api/${path}`);
  return { status: res.status, body: await res.json() };
};

async function post(path: string, s: Session | undefined, body: unknown = {}, headers: Record<string, string> = {}) {
  const res = await fetch(`${origin}${base}/api/${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(s ? { cookie: s.cookie, [CSRF_HEADER]: s.token } : {}),
      origin,
      ...headers,
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

describe('mounting', () => {
  it('passes every URL outside the base path to next, or answers 404 without one', async () => {
    for (const path of ['/', '/ops', '/ops/ballastx', '/ops/ballast/../secret', '/api/queues']) {
      const res = await fetch(`${origin}${path}`);
      expect(await res.text(), path).toBe('the host app');
    }
    const direct = await new Promise<IncomingMessage>((resolve) => {
      const d = createDashboard({ basePath: '/ballast' });
      const server = createServer((req, res) => d(req, res));
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        httpRequest({ port, host: '127.0.0.1', path: '/elsewhere' }, (res) => {
          res.resume();
          server.close();
          resolve(res);
        }).end();
      });
    });
    expect(direct.statusCode).toBe(404);
  });

  it('serves the page with its assets, security headers and a session cookie', async () => {
    const res = await fetch(`${origin}${base}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('set-cookie')).toMatch(/HttpOnly; SameSite=Strict/);
    expect(res.headers.get('set-cookie')).toContain(`Path=${base}`);
    const html = await res.text();
    expect(html).toContain(`<script src="${base}/assets/app.js">`);
    expect(html).toContain('content="breakers,queues,streams,sagas,locks,discovery,config"');
    const js = await fetch(`${origin}${base}/assets/app.js`);
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect((await js.text()).length).toBeGreaterThan(1_000);
    expect((await fetch(`${origin}${base}/assets/app.css`)).status).toBe(200);
    expect((await fetch(`${origin}${base}`, { redirect: 'manual' })).headers.get('location')).toBe(`${base}/`);
  });
});

describe('breakers', () => {
  it('lists state and stats of every breaker', async () => {
    const { body } = await get('breakers');
    const payments = body.breakers.find((b: { name: string }) => b.name === 'payments');
    expect(payments).toMatchObject({ state: 'CLOSED', isolated: false, stats: { successes: 3, failures: 3 } });
    expect(payments.stats.percentiles).toHaveProperty('p99');
  });

  it('forces a breaker open and closed, isolates and releases it', async () => {
    const s = await session();
    expect((await post('breakers/inventory/open', s)).body).toMatchObject({ name: 'inventory', state: 'OPEN' });
    expect(fx.breakers.get('inventory').state).toBe('open');
    expect((await post('breakers/inventory/close', s)).body).toMatchObject({ state: 'CLOSED' });
    expect((await post('breakers/inventory/isolate', s)).body).toMatchObject({ state: 'OPEN', isolated: true });
    expect(fx.breakers.get('inventory').isolated).toBe(true);
    expect((await post('breakers/inventory/release', s)).body).toMatchObject({ state: 'HALF_OPEN', isolated: false });
    await post('breakers/inventory/close', s);
    expect(fx.asked.map((a) => a.name)).toContain('breaker.isolate');
    expect((await post('breakers/nope/open', s)).status).toBe(404);
  });
});

describe('queues', () => {
  it('counts jobs by state and priority', async () => {
    const { body } = await get('queues');
    expect(body.queues).toEqual([
      {
        name: QUEUE,
        paused: true,
        counts: expect.objectContaining({ dead: 3, waiting: 2, waitingChildren: 1, byPriority: expect.any(Object) }),
        canRemoveDead: true,
      },
    ]);
  });

  it('lists, searches and shows jobs with their error history', async () => {
    const dead = (await get(`queues/${QUEUE}/jobs?state=dead`)).body.jobs;
    expect(dead).toHaveLength(3);
    const one = dead[0];
    expect(
      (await get(`queues/${QUEUE}/jobs?state=dead&search=${one.id}`)).body.jobs.map((j: { id: string }) => j.id),
    ).toEqual([one.id]);
    const detail = (await get(`queues/${QUEUE}/jobs/${one.id}`)).body;
    expect(detail).toMatchObject({
      id: one.id,
      state: 'dead',
      errors: [{ message: expect.stringMatching(/renderer crashed/) }],
    });
    expect((await get(`queues/${QUEUE}/jobs/missing`)).status).toBe(404);
    expect((await get(`queues/${QUEUE}/jobs?state=sleeping`)).status).toBe(400);
    // Flow parents waiting for their children are a state of their own.
    const parents = (await get(`queues/${QUEUE}/jobs?state=waiting-children`)).body;
    expect(parents).toMatchObject({ state: 'waiting-children', jobs: [{ id: fx.flowParent, name: 'bundle' }] });
    expect(parents.jobs).toHaveLength(1);
    expect((await get('queues/nope/jobs')).status).toBe(404);
  });

  it('pages the DLQ and replays a dead job to waiting', async () => {
    const page = (await get(`queues/${QUEUE}/dead?limit=2`)).body;
    expect(page.jobs).toHaveLength(2);
    expect(page.cursor).toBeTruthy();
    const s = await session();
    const id = page.jobs[0].id;
    expect((await post(`queues/${QUEUE}/dead/replay`, s, { ids: [id] })).body).toEqual({ replayed: 1 });
    expect((await get(`queues/${QUEUE}/jobs/${id}`)).body.state).toBe('waiting');
    expect((await post(`queues/${QUEUE}/dead/replay`, s, { ids: [] })).status).toBe(400);
  });

  it('removes a dead job for good, and only a dead one', async () => {
    const s = await session();
    const [dead] = (await get(`queues/${QUEUE}/dead`)).body.jobs;
    const [waiting] = (await get(`queues/${QUEUE}/jobs?state=waiting`)).body.jobs;
    const refused = await post(`queues/${QUEUE}/dead/remove`, s, { ids: [dead.id, waiting.id] });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toContain(waiting.id);
    expect((await get(`queues/${QUEUE}/jobs/${dead.id}`)).body.state).toBe('dead'); // all or nothing
    expect((await post(`queues/${QUEUE}/dead/remove`, s, { ids: [dead.id] })).body).toEqual({ removed: 1 });
    expect(fx.asked.at(-1)).toEqual({ name: 'queue.dead.remove', target: QUEUE, ids: [dead.id] });
    expect((await get(`queues/${QUEUE}/jobs/${dead.id}`)).status).toBe(404);
    expect((await get(`queues/${QUEUE}/jobs/${waiting.id}`)).body.state).toBe('waiting');
  });

  it('a dead job replayed between the check and its removal is left alone and reported; duplicates count once', async () => {
    const real = fx.options.queues![0]!;
    // The queue as the dashboard sees it, except that a replay lands just before each removal runs.
    const racing = new Proxy(real, {
      get(target, prop) {
        if (prop === 'job') {
          return (id: string) => ({
            remove: async (o: { onlyIn?: ('dead' | 'waiting')[] }) => {
              await target.replayDead([id]);
              return target.job!(id).remove(o);
            },
          });
        }
        const v = Reflect.get(target, prop, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const other = await serve({ ...fx.options, queues: [racing] });
    try {
      const page = await fetch(`${other.origin}${base}/`);
      const cookie = page.headers.get('set-cookie')!.split(';')[0]!;
      const token = /name="ballast-csrf" content="([^"]+)"/.exec(await page.text())![1]!;
      const [dead] = (await get(`queues/${QUEUE}/dead`)).body.jobs;
      const res = await fetch(`${other.origin}${base}/api/queues/${QUEUE}/dead/remove`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie, [CSRF_HEADER]: token, origin: other.origin },
        body: JSON.stringify({ ids: [dead.id, dead.id] }),
      });
      const body = await res.json();
      expect(res.status).toBe(200);
      expect(body).toMatchObject({ removed: 0, refused: [{ id: dead.id }] });
      expect((await get(`queues/${QUEUE}/jobs/${dead.id}`)).body.state).toBe('waiting'); // replayed, not removed
    } finally {
      other.dashboard.close();
      other.server.close();
    }
  });

  it('refuses to remove dead jobs on a queue whose backend cannot (RabbitMQ), and says so in the summary', async () => {
    const real = fx.options.queues![0]!;
    const rabbit = new Proxy(real, {
      get(target, prop) {
        if (prop === 'backend') return { kind: 'rabbitmq', ops: {} };
        const v = Reflect.get(target, prop, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const other = await serve({ ...fx.options, queues: [rabbit] });
    try {
      const summary = await (await fetch(`${other.origin}${base}/api/queues`)).json();
      expect(summary.queues[0].canRemoveDead).toBe(false);
      expect((await get('queues')).body.queues[0].canRemoveDead).toBe(true);
    } finally {
      other.dashboard.close();
      other.server.close();
    }
  });

  it("lists the queue's job schedulers", async () => {
    const { body } = await get(`queues/${QUEUE}/schedulers`);
    expect(body).toEqual({
      supported: true,
      schedulers: [
        expect.objectContaining({
          id: 'nightly-report',
          pattern: '0 0 3 * * *',
          tz: 'Asia/Shanghai',
          template: expect.objectContaining({ name: 'render' }),
          nextRunAt: expect.any(Number),
        }),
      ],
    });
  });

  it('pauses and resumes', async () => {
    const s = await session();
    expect((await post(`queues/${QUEUE}/resume`, s)).body.paused).toBe(false);
    expect((await post(`queues/${QUEUE}/pause`, s)).body.paused).toBe(true);
  });
});

describe('event streams', () => {
  const path = `streams/orders/${EVENT}`;
  it('shows groups with pending and lag, and the DLQ size', async () => {
    const { body } = await get('streams');
    expect(body.streams).toEqual([
      expect.objectContaining({
        bus: 'orders',
        type: EVENT,
        deadLetters: 2,
        groups: [expect.objectContaining({ name: 'billing', lag: 0 })],
      }),
    ]);
  });

  it('inspects and replays a dead letter to its group; deleting is refused by authorize', async () => {
    const letters = (await get(`${path}/dlq`)).body.deadLetters;
    expect(letters).toHaveLength(2);
    const first = letters[0];
    expect((await get(`${path}/dlq/${first.id}`)).body).toMatchObject({ id: first.id, group: 'billing' });
    const s = await session();
    const refused = await post(`${path}/dlq/${first.id}/delete`, s);
    expect(refused.status).toBe(403);
    expect(refused.body.error).toContain('not authorised to stream.dlq.delete');
    fx.heal();
    const replayed = await post(`${path}/dlq/${first.id}/replay`, s);
    expect(replayed.body).toMatchObject({ replayed: first.id, newId: expect.stringMatching(/^\d+-\d+$/) });
    expect((await get(`${path}/dlq`)).body.deadLetters.map((d: { id: string }) => d.id)).not.toContain(first.id);
    expect((await get(`${path}/dlq/1-1`)).status).toBe(404);
    expect((await get(`${path}/dlq/nonsense`)).status).toBe(400);
    expect((await get('streams/orders/other.type/dlq')).status).toBe(404);
  });
});

describe('sagas', () => {
  it('lists in-flight sagas, the DLQ, and one saga with its steps and compensations', async () => {
    const running = (await get('sagas?status=running')).body.sagas;
    expect(running.map((s: { id: string }) => s.id)).toContain(fx.runningSaga);
    const dlq = (await get('sagas/dlq')).body.deadLetters;
    expect(dlq).toEqual([expect.objectContaining({ sagaId: fx.failedSaga, saga: 'checkout', step: 'charge' })]);
    const saga = (await get(`sagas/${fx.failedSaga}`)).body;
    expect(saga).toMatchObject({
      status: 'compensation_failed',
      failedStep: 'ship',
      executedSteps: ['reserve', 'charge'],
      compensations: expect.arrayContaining([expect.objectContaining({ step: 'charge', result: 'failed' })]),
    });
    expect((await get('sagas?status=done')).status).toBe(400);
    expect((await get('sagas/missing')).status).toBe(404);
  });

  it('retries a dead-lettered compensation and cancels a running saga', async () => {
    fx.heal();
    const s = await session();
    const [entry] = (await get('sagas/dlq')).body.deadLetters;
    const retried = await post(`sagas/dlq/${entry.id}/retry`, s);
    expect(retried.body).toMatchObject({ retried: entry.id, saga: { status: 'compensated' } });
    expect((await get('sagas/dlq')).body.deadLetters).toEqual([]);
    expect((await post(`sagas/dlq/${entry.id}/retry`, s)).status).toBe(404);
    expect((await post(`sagas/${fx.runningSaga}/cancel`, s)).body).toEqual({ cancelled: fx.runningSaga });
    await vi.waitFor(async () => expect((await get(`sagas/${fx.runningSaga}`)).body.status).toBe('compensated'));
  });
});

describe('locks and discovery', () => {
  it('shows who holds each lock, with its fencing token and time left', async () => {
    const { body } = await get('locks');
    expect(body.resources).toEqual([
      {
        resource: LOCK,
        mode: 'exclusive',
        holders: [{ token: expect.any(String), count: 1, fencingToken: expect.any(Number), ttlMs: expect.any(Number) }],
        waiters: [],
      },
      { resource: 'invoice:43', mode: null, holders: [], waiters: [] },
    ]);
    expect(body.resources[0].holders[0].ttlMs).toBeGreaterThan(30_000);
    expect(body.resources[0].holders[0].ttlMs).toBeLessThanOrEqual(60_000);
  });

  it('shows every instance of a service with its status', async () => {
    const { body } = await get('discovery');
    expect(body.backend).toBe('redis');
    const statuses = Object.fromEntries(
      body.services[0].instances.map((i: { id: string; status: string }) => [i.id, i.status]),
    );
    expect(statuses).toEqual({ 'users-1': 'passing', 'users-2': 'critical' });
    const ejected = body.services[0].instances
      .filter((i: { ejected: boolean }) => i.ejected)
      .map((i: { id: string }) => i.id);
    expect(ejected).toEqual(['users-2']); // the client's outlier detection marks
  });
});

describe('config', () => {
  it('shows the tree and history with secrets redacted, and a diff', async () => {
    const current = (await get('config')).body;
    expect(current).toMatchObject({
      name: CONFIG,
      version: 3,
      entries: { 'pool.max': 50, 'db.password': '<redacted>', 'feature.fastCheckout': true },
    });
    expect(JSON.stringify(current)).not.toContain('hunter2');
    const history = (await get('config/history')).body.versions;
    expect(history.map((v: { version: number }) => v.version)).toEqual([3, 2, 1]);
    expect(JSON.stringify(history)).not.toContain('hunter2');
    expect((await get('config/diff?from=1')).body.changes).toEqual([
      { key: 'feature.fastCheckout', change: 'added', to: true },
      { key: 'pool.max', change: 'changed', from: 10, to: 50 },
    ]);
    expect((await get('config/diff?from=9')).status).toBe(404);
    expect((await get('config/diff?from=x')).status).toBe(400);
  });

  it('rolls back to a version as a new version', async () => {
    const s = await session();
    const rolled = await post('config/rollback', s, { version: 1 });
    expect(rolled.body).toMatchObject({ version: 4, rollbackOf: 1 });
    expect((await get('config')).body.entries).toEqual({ 'pool.max': 10, 'db.password': '<redacted>' });
  });

  it('switches a flag (a boolean key) as a new version, and only a flag', async () => {
    const s = await session();
    expect((await post('config/rollback', s, { version: 3 })).status).toBe(200); // fastCheckout is back
    const before = (await get('config')).body;
    expect(before.entries['feature.fastCheckout']).toBe(true);
    const off = await post('config/flag', s, { key: 'feature.fastCheckout', value: false });
    expect(off.body).toEqual({ version: before.version + 1, key: 'feature.fastCheckout', value: false, changed: true });
    expect(fx.asked.at(-1)).toEqual({ name: 'config.flag', target: CONFIG, ids: ['feature.fastCheckout'] });
    const after = (await get('config')).body;
    expect(after.entries).toEqual({ ...before.entries, 'feature.fastCheckout': false });
    expect((await get('config/history')).body.versions[0].message).toBe('dashboard: feature.fastCheckout = false');
    // Already off: no new version.
    expect((await post('config/flag', s, { key: 'feature.fastCheckout', value: false })).body.changed).toBe(false);
    expect((await get('config')).body.version).toBe(after.version);
    // Not a flag, not a key, not a boolean: refused, nothing written.
    expect((await post('config/flag', s, { key: 'pool.max', value: true })).status).toBe(400);
    expect((await post('config/flag', s, { key: 'db.password', value: true })).status).toBe(400);
    expect((await post('config/flag', s, { key: 'feature.nope', value: true })).status).toBe(404);
    expect((await post('config/flag', s, { key: 'feature.fastCheckout', value: 'yes' })).status).toBe(400);
    expect((await get('config')).body.version).toBe(after.version);
    // A boolean under a secret's name stays hidden: not switched (its value would show in the answer and history).
    const store = fx.options.config!.store;
    const cur = await store.read();
    await store.commit(cur.version, { ...cur.entries, 'stripe.apiKey': true }, { at: Date.now(), message: 'x' });
    const secret = await post('config/flag', s, { key: 'stripe.apiKey', value: false });
    expect(secret.status).toBe(400);
    expect(secret.body.error).toContain('redacted');
    expect((await get('config')).body.version).toBe(cur.version + 1);
    // Keys inherited from Object.prototype are not keys of the config.
    expect((await post('config/flag', s, { key: 'toString', value: true })).status).toBe(404);
  });
});

describe('guards', () => {
  it('refuses an action without the session token, with a wrong one, or from another origin', async () => {
    const s = await session();
    const before = fx.breakers.get('payments').state;
    expect((await post('breakers/payments/open', undefined)).status).toBe(403);
    expect((await post('breakers/payments/open', { ...s, token: `${s.token.slice(1)}x` })).status).toBe(403);
    const cross = await post('breakers/payments/open', s, {}, { origin: 'https://evil.example' });
    expect(cross.status).toBe(403);
    expect(cross.body.error).toContain('cross-origin');
    expect((await post('breakers/payments/open', s, {}, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect(fx.breakers.get('payments').state).toBe(before);
  });

  it('refuses what authorize refuses, and is read-only without authorize', async () => {
    const s = await session();
    const intern = await post('breakers/payments/open', s, {}, { 'x-test-user': 'intern' });
    expect(intern.status).toBe(403);
    expect(fx.asked.at(-1)).toEqual({ name: 'breaker.open', target: 'payments' });
    expect(fx.breakers.get('payments').state).toBe('closed');

    const readOnly = await serve({ ...fx.options, authorize: undefined });
    try {
      const page = await fetch(`${readOnly.origin}${base}/`);
      const cookie = page.headers.get('set-cookie')!.split(';')[0]!;
      const token = /name="ballast-csrf" content="([^"]+)"/.exec(await page.text())![1]!;
      const res = await fetch(`${readOnly.origin}${base}/api/breakers/payments/open`, {
        method: 'POST',
        headers: { cookie, [CSRF_HEADER]: token, origin: readOnly.origin },
      });
      expect(res.status).toBe(403);
      expect((await fetch(`${readOnly.origin}${base}/api/breakers`)).status).toBe(200);
    } finally {
      readOnly.dashboard.close();
      readOnly.server.close();
    }
    expect(fx.breakers.get('payments').state).toBe('closed');
  });

  it('answers bad requests with 4xx, never a crash', async () => {
    const s = await session();
    const bad = await fetch(`${origin}${base}/api/config/rollback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: s.cookie, [CSRF_HEADER]: s.token, origin },
      body: '{nope',
    });
    expect(bad.status).toBe(400);
    expect((await post('config/rollback', s, { version: 'latest' })).status).toBe(400);
    expect((await fetch(`${origin}${base}/api/breakers`, { method: 'DELETE' })).status).toBe(405);
    expect((await get('nothing/here')).status).toBe(404);
    expect((await get('queues/%E0%A4%A/jobs')).status).toBe(400);
  });
});

describe('live stream', () => {
  it('pushes a summary of every panel over SSE', async () => {
    const controller = new AbortController();
    const res = await fetch(`${origin}${base}/api/events`, { signal: controller.signal });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('event: summary')) text += new TextDecoder().decode((await reader.read()).value);
    const data = JSON.parse(/event: summary\ndata: (.*)\n/.exec(text)![1]!);
    expect(data.breakers).toMatchObject({ payments: expect.any(String), inventory: expect.any(String) });
    expect(data.queues[QUEUE]).toHaveProperty('dead');
    expect(data.streams[`orders/${EVENT}`]).toHaveProperty('lag');
    expect(data.sagas).toHaveProperty('dead');
    controller.abort();
  });
});
