/**
 * The gateway's operator dashboard (`@ballast/dashboard` mounted on `/dashboard`) end to end in Debian's
 * Chromium: the stack runs in a child process (`--no-story`). Without an admin session the dashboard, reads
 * included, is refused (it shows health data), and so is an action. Opened through the URL the demo prints
 * (`/admin/login` with the operator's token in the fragment), every panel renders data the running platform
 * made for it: the blockchain-service breaker OPEN after `chaos.blockchain` (a config flag switched in the
 * config panel), a dead analysis job and the digest's job scheduler, consumer groups of the event streams, a
 * saga in flight with its timeline, a per-user lock held by a running analysis, an instance ejected by outlier
 * detection, and the config's versions. Screenshots as artifacts.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const artifacts = fileURLToPath(new URL('./artifacts/', import.meta.url));
let child: ChildProcess | undefined;
let browser: Browser | undefined;
let login = '';
let origin = '';
let token = '';

beforeAll(async () => {
  child = spawn(process.execPath, ['--import', 'tsx', 'src/demo.ts', '--no-story'], {
    cwd: root,
    env: { ...process.env, BALLAST_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  login = await new Promise<string>((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d;
      // The demo prints the login URL with the operator's token in the fragment.
      const m = /dashboard: (http:\/\/127\.0\.0\.1:\d+\/admin\/login#token=[\w.-]+)/.exec(out);
      if (m) resolve(m[1]!);
    };
    child!.stdout!.on('data', onData);
    child!.stderr!.on('data', (d) => (out += d));
    child!.once('exit', (code) => reject(new Error(`demo exited ${code}: ${out}`)));
  });
  origin = new URL(login).origin;
  token = new URL(login).hash.replace('#token=', '');
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
});

const poll = <T>(fn: () => Promise<T> | T) => expect.poll(fn, { timeout: 20_000, interval: 100 });
const table = (page: Page, name: string) => page.locator(`[data-panel-table="${name}"] tbody tr`);
/** The `chaos.blockchain` row (the remote stores it as `chaos/blockchain`; `chaos/blockchainRollback` is another). */
const flag = (page: Page) =>
  table(page, 'config').filter({ has: page.locator('td:first-child', { hasText: /^chaos[./]blockchain$/ }) });
async function open(page: Page, panel: string): Promise<void> {
  await page.click(`[data-tab="${panel}"]`);
  await page.waitForSelector(`[data-panel="${panel}"]`);
}
async function chaosBlockchain(): Promise<unknown> {
  const res = await fetch(`${origin}/dashboard/api/config`, { headers: { authorization: `Bearer ${token}` } });
  const { entries } = (await res.json()) as { entries: Record<string, unknown> };
  return entries['chaos.blockchain'] ?? entries['chaos/blockchain'];
}

/** A call through the gateway as `bearer` (JSON in, JSON out). */
async function gw(method: string, path: string, bearer: string, body?: unknown) {
  const res = await fetch(`${origin}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}
const chaos = (key: string, value: boolean | number | string) =>
  gw('POST', '/admin/chaos', token, { key, value }).then((r) => expect(r.status).toBe(200));

it('refuses the dashboard, reads and actions, without an admin session', async () => {
  const page = await browser!.newPage();
  const res = await page.goto(`${origin}/`); // redirects to the dashboard
  expect(res?.status()).toBe(401);
  expect(await page.locator('#denied').textContent()).toContain('needs an operator session');
  expect((await fetch(`${origin}/dashboard/api/queues`)).status).toBe(401);
  // An anonymous action, even from the dashboard's own origin: refused, the flag unchanged.
  const flip = await page.evaluate(async () => {
    const r = await fetch('/dashboard/api/config/flag', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key: 'chaos.blockchain', value: true }),
    });
    return r.status;
  });
  expect(flip).toBe(401);
  expect(await chaosBlockchain()).toBe(false);
  await page.close();
}, 60_000);

it('an admin session sees every panel render the running platform’s data', async () => {
  const page = await browser!.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('dialog', (d) => void d.accept());
  await page.goto(login);
  await page.waitForURL(`${origin}/dashboard/`, { timeout: 15_000 });
  await page.waitForSelector('#live.on', { timeout: 15_000 });
  mkdirSync(artifacts, { recursive: true });

  // A user of the platform, for the traffic below.
  const email = `dash.${Date.now()}@example.com`;
  const reg = await gw('POST', '/api/auth-service/register', '', { email, username: 'dash', password: 'pw-dash-123' });
  expect(reg.status).toBe(200);
  const userId = String(reg.body.userId);
  const user = String((await gw('POST', '/api/auth-service/login', '', { email, password: 'pw-dash-123' })).body.token);

  // Config: the admin switches chaos.blockchain on in the config panel (a new config version).
  await open(page, 'config');
  const version = Number(await page.locator('[data-config-version]').getAttribute('data-config-version'));
  await flag(page).getByRole('button', { name: 'Turn on' }).click();
  await poll(() => flag(page).textContent()).toContain('true');
  expect(await chaosBlockchain()).toBe(true);
  await poll(async () =>
    Number(await page.locator('[data-config-version]').getAttribute('data-config-version')),
  ).toBeGreaterThan(version);
  await poll(() => table(page, 'config-history').count()).toBeGreaterThan(1);

  // Breakers: traffic through the gateway's own client; blockchain-service fails every call, its breaker opens.
  await poll(async () => {
    await gw('POST', '/admin/traffic', token, { service: 'blockchain-service', path: '/ledger/dashboard', count: 6 });
    const s = (await (await fetch(`${origin}/circuit-breaker/stats`)).json()) as {
      circuitBreakers: Record<string, { state: string }>;
    };
    return s.circuitBreakers['blockchain-service']?.state;
  }).toBe('OPEN');
  await open(page, 'breakers');
  await poll(() => table(page, 'breakers').filter({ hasText: 'blockchain-service' }).textContent()).toContain('OPEN');
  await page.screenshot({ path: `${artifacts}dashboard-breakers.png`, fullPage: true });
  await open(page, 'config');
  await flag(page).getByRole('button', { name: 'Turn off' }).click();
  await poll(() => chaosBlockchain()).toBe(false);

  // Queues: an analysis that fails both its attempts is dead; the digest queue lists its job scheduler.
  const added = await gw('POST', '/api/xiaoke-service/tasks', user, {
    kind: 'analyze_health_data',
    data: { userId, recordId: 'r-dead', metrics: { heartRate: 1 }, fail: true },
  });
  expect(added.status).toBe(200);
  const deadJob = String(added.body.jobId);
  await open(page, 'queues');
  await poll(() => table(page, 'dead-jobs').filter({ hasText: deadJob }).textContent()).toContain(
    'the model rejected the metrics',
  );
  expect(await table(page, 'dead-jobs').filter({ hasText: deadJob }).textContent()).toContain('2/2');
  await page.locator('[data-queue="xiaoke-digest"] h3 a').click();
  await poll(() => table(page, 'schedulers').filter({ hasText: 'weekly-health-digest' }).textContent()).toContain(
    'every 60000 ms',
  );

  // Event bus: the registration above went through user.registered; user-service's consumer group reads it.
  await open(page, 'streams');
  await poll(() => page.locator('[data-stream="health-platform/user.registered"]').textContent()).toContain(
    'user-service.welcome-mail',
  );

  // Sagas and locks: an upload waits on a slow ledger (a saga in flight); a long analysis holds its user's lock.
  await chaos('blockchainDelayMs', 4_000);
  const upload = gw('POST', '/api/health-data-service/health-data', user, { userId, metrics: { heartRate: 70 } }).catch(
    (error: unknown) => ({
      status: 0,
      body: { error: String(error) } as Record<string, unknown>,
    }),
  );
  const lockUser = `${userId}-lock`;
  expect(
    (
      await gw('POST', '/api/xiaoke-service/tasks', user, {
        kind: 'analyze_health_data',
        data: { userId: lockUser, recordId: 'r-lock', metrics: { heartRate: 60 }, workMs: 6_000 },
      })
    ).status,
  ).toBe(200);
  await open(page, 'sagas');
  const inFlight = table(page, 'sagas').filter({ hasText: 'health-data-upload' });
  await poll(() => inFlight.count()).toBeGreaterThan(0);
  expect(await inFlight.first().textContent()).toContain('running');
  await inFlight.first().locator('a').first().click();
  await poll(() => page.locator('[data-saga-timeline]').textContent()).toContain('save_health_data');
  await open(page, 'locks');
  const lockRow = table(page, 'locks').filter({ hasText: `user:${lockUser}` });
  await poll(() => lockRow.count()).toBe(1);
  await poll(() => lockRow.textContent()).not.toContain('free');
  await page.screenshot({ path: `${artifacts}dashboard-locks.png`, fullPage: true });
  await chaos('blockchainDelayMs', 0);
  expect((await upload).status).toBe(200);

  // Discovery: rag-service-2 fails every call behind a passing check; the gateway's calls eject it.
  await open(page, 'discovery');
  await poll(() => page.locator('[data-service="rag-service"] .badge.passing').count()).toBe(2);
  await chaos('failInstance', 'rag-service-2');
  try {
    await poll(async () => {
      await gw('POST', '/admin/traffic', token, { service: 'rag-service', path: '/whoami', count: 4 });
      return page.locator('[data-service="rag-service"] tr', { hasText: 'rag-service-2' }).textContent();
    }).toContain('ejected');
    expect(
      await page.locator('[data-service="rag-service"] tr', { hasText: 'rag-service-1' }).textContent(),
    ).not.toContain('ejected');
    await page.screenshot({ path: `${artifacts}dashboard-discovery.png`, fullPage: true });
  } finally {
    await chaos('failInstance', '');
  }
  await page.close();
}, 120_000);
