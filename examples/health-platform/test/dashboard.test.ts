/**
 * The dashboard end to end in Debian's Chromium (every panel: backends, services, sagas and the saga DLQ, the
 * queue, degraded mode, streams, alerts, activity, chaos, breakers): the stack runs in a child process (`--no-story`); opened
 * without the operator's token its buttons are refused (401); opened with the URL the demo prints, the page
 * loads and goes live over SSE, the "Inject blockchain failure" button flips the config-center switch and
 * drives traffic, and the blockchain-service breaker turns OPEN (red) in the DOM. Screenshot as an artifact.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const artifacts = fileURLToPath(new URL('./artifacts/', import.meta.url));
let child: ChildProcess | undefined;
let browser: Browser | undefined;
let dashboard = '';

beforeAll(async () => {
  child = spawn(process.execPath, ['--import', 'tsx', 'src/demo.ts', '--no-story'], {
    cwd: root,
    env: { ...process.env, BALLAST_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  dashboard = await new Promise<string>((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d;
      // The demo prints the page's URL with the operator's token in the fragment.
      const m = /dashboard: (http:\/\/127\.0\.0\.1:\d+\/dashboard#token=[\w.-]+)/.exec(out);
      if (m) resolve(m[1]!);
    };
    child!.stdout!.on('data', onData);
    child!.stderr!.on('data', (d) => (out += d));
    child!.once('exit', (code) => reject(new Error(`demo exited ${code}: ${out}`)));
  });
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

it('refuses the operator buttons to a page opened without the admin token', async () => {
  const page = await browser!.newPage();
  await page.goto(dashboard.replace(/#.*$/, ''));
  await page.waitForSelector('#conn.live', { timeout: 15_000 });
  await page.click('#inject');
  await page.waitForFunction(() => document.querySelector('#conn')?.textContent?.includes('refused (401)'), null, {
    timeout: 10_000,
  });
  // Nothing was flipped: the chaos panel still shows no switch on.
  expect(await page.$eval('#chaos', (el) => el.textContent)).toBe('none');
  await page.close();
}, 60_000);

/** Calls the gateway as a client of the platform (the page only reads; the platform's work comes from here). */
async function gateway(path: string, body?: unknown, token?: string): Promise<Record<string, unknown>> {
  const base = dashboard.replace(/\/dashboard#.*$/, '');
  const res = await fetch(`${base}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (!res.ok && res.status !== 502) throw new Error(`${path} answered ${res.status}: ${JSON.stringify(json)}`);
  return json;
}

it('shows every panel live: backends, services, sagas, saga DLQ, queue, degraded mode, streams, alerts, activity', async () => {
  const admin = dashboard.replace(/^.*#token=/, '');
  const page = await browser!.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(dashboard);
  await page.waitForSelector('#conn.live', { timeout: 15_000 });
  const text = (id: string) => page.$eval(`#${id}`, (el) => el.textContent ?? '');
  // Backends and instances: both health-data-service instances (two processes) pass their checks.
  await page.waitForFunction(() => document.querySelector('#backends')?.textContent, null, { timeout: 10_000 });
  expect(await text('backends')).toMatch(/^redis · Consul emulator · queue on (rabbitmq|redis) · rate limit redis$/);
  await page.waitForFunction(
    () =>
      Array.from(document.querySelectorAll('#services tr')).some(
        (tr) => tr.textContent?.startsWith('health-data-service') && tr.querySelectorAll('.dot.passing').length === 2,
      ),
    null,
    { timeout: 15_000 },
  );
  // A user uploads health data: the saga, xiaoke's queue, the event streams and the activity list show it.
  const email = `dash.${Date.now()}@example.com`;
  const { userId } = await gateway('/api/auth-service/register', { email, username: 'dash', password: 'p4ss-word' });
  const { token } = await gateway('/api/auth-service/login', { email, password: 'p4ss-word' });
  const up = await gateway(
    '/api/health-data-service/health-data',
    { userId, metrics: { heartRate: 70 } },
    String(token),
  );
  await page.waitForSelector(`#sagas [data-saga="${up.sagaId}"] .state.completed`, { timeout: 15_000 });
  await page.waitForFunction(
    () => Number(document.querySelector('#queue tr:nth-child(2) td:nth-child(3)')?.textContent) >= 1,
    null,
    {
      timeout: 15_000,
    },
  );
  expect(await text('degraded')).toBe('off');
  await page.waitForFunction(
    () =>
      Array.from(document.querySelectorAll('#streams tr')).some((tr) =>
        /^user\.registered[1-9]/.test(tr.textContent ?? ''),
      ),
    null,
    { timeout: 15_000 },
  );
  await page.waitForFunction(
    () => document.querySelector('#activity')?.textContent?.includes('health-data-upload saga.completed'),
    null,
    {
      timeout: 15_000,
    },
  );
  // A compensation that cannot succeed: the saga DLQ counts it and the alert panel shows the system.alert.
  expect(await text('saga-dlq')).toBe('0');
  await gateway('/admin/chaos', { key: 'blockchainRollback', value: true }, admin);
  await gateway('/admin/chaos', { key: 'xiaoke', value: true }, admin);
  const failed = await gateway(
    '/api/health-data-service/health-data',
    { userId, metrics: { heartRate: 90 } },
    String(token),
  );
  expect(failed.status).toBe('compensation_failed');
  await page.waitForFunction(() => document.querySelector('#saga-dlq')?.textContent === '1', null, { timeout: 15_000 });
  await page.waitForFunction(
    () => document.querySelector('#alerts')?.textContent?.includes('compensation update_blockchain'),
    null,
    {
      timeout: 15_000,
    },
  );
  await page.waitForFunction(
    () => document.querySelector('#chaos')?.textContent === 'blockchainRollback, xiaoke',
    null,
    {
      timeout: 10_000,
    },
  );
  await gateway('/admin/chaos', { key: 'blockchainRollback', value: false }, admin);
  await gateway('/admin/chaos', { key: 'xiaoke', value: false }, admin);
  await page.waitForFunction(() => document.querySelector('#chaos')?.textContent === 'none', null, { timeout: 10_000 });
  await page.close();
}, 90_000);

it('shows the gateway breaker turn open after an injected failure', async () => {
  const page = await browser!.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(dashboard);
  await page.waitForSelector('#conn.live', { timeout: 15_000 });
  // Every service is listed with a passing instance; rag-service has two.
  await page.waitForFunction(() => document.querySelectorAll('#services .dot.passing').length >= 15, null, {
    timeout: 15_000,
  });
  await page.click('#inject');
  const openRow = '[data-breaker="blockchain-service"][data-state="OPEN"]';
  await page.waitForSelector(openRow, { timeout: 20_000 });
  // Read the colour by selector in one evaluation: every SSE tick re-renders the table, so an element handle
  // taken a moment earlier may already be detached (and report no style).
  const colour = await page.waitForFunction(
    (sel) => {
      const el = document.querySelector(`${sel} .state`);
      return el ? getComputedStyle(el).backgroundColor : undefined;
    },
    openRow,
    { timeout: 10_000 },
  );
  expect(await colour.jsonValue()).toBe('rgb(239, 68, 68)');
  await page.waitForFunction(() => document.querySelector('#chaos')?.textContent?.includes('blockchain'), null, {
    timeout: 10_000,
  });
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: `${artifacts}dashboard.png`, fullPage: true });
}, 60_000);
