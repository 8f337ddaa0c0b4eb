/**
 * The page in Debian's Chromium (playwright-core, /usr/bin/chromium) against the fixture's real Redis data:
 * every panel renders what the packages hold, and one action per panel works end to end through the UI —
 * force a breaker open, replay a dead job, replay a stream dead letter, retry a saga's dead-lettered
 * compensation, roll config back — while an action `authorize` refuses is refused and changes nothing.
 * The page raises no error and breaks no Content-Security-Policy rule.
 *
 * `DASHBOARD_SCREENSHOTS=1` also writes the README's screenshots (packages/dashboard/screenshots/).
 */
import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Dashboard } from '../src/index';
import { EVENT, type Fixture, QUEUE, seed, serve } from './fixture';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 120_000 });

const shots =
  process.env.DASHBOARD_SCREENSHOTS === '1' ? fileURLToPath(new URL('../screenshots/', import.meta.url)) : '';
let fx: Fixture;
let server: Server;
let dashboard: Dashboard;
let origin = '';
let browser: Browser;
let page: Page;
const problems: string[] = [];
let refused = 0;

beforeAll(async () => {
  fx = await seed();
  const s = await serve({ ...fx.options, liveIntervalMs: 1_000 });
  ({ server, dashboard, origin } = s);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('pageerror', (error) => problems.push(`pageerror: ${error}`));
  page.on('console', (m) => {
    // The one refused action (a 403 Chromium reports as a failed load) is expected and counted on its own.
    if (m.type() === 'error' && /status of 403/.test(m.text())) refused++;
    else if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('dialog', (d) => void d.accept());
  await page.goto(`${origin}/ops/ballast/`);
  if (shots) mkdirSync(shots, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  dashboard?.close();
  server?.closeAllConnections();
  server?.close();
  await fx?.close();
});

async function open(panel: string): Promise<void> {
  await page.click(`[data-tab="${panel}"]`);
  await page.waitForSelector(`[data-panel="${panel}"]`);
}
/** Waits for the page (re-rendered by each action and each live summary) to show something; a loaded CI box is slow. */
const poll = <T>(fn: () => Promise<T> | T) => expect.poll(fn, { timeout: 20_000, interval: 100 });
const table = (name: string) => page.locator(`[data-panel-table="${name}"] tbody tr`);
const row = (name: string, text: string) => table(name).filter({ hasText: text });
async function shot(name: string): Promise<void> {
  if (shots) await page.screenshot({ path: `${shots}${name}.png`, fullPage: true });
}

describe('the dashboard in Chromium', () => {
  it('shows the live indicator once the SSE stream delivers', async () => {
    await page.waitForSelector('#live.on');
  });

  it('breakers: shows each breaker, and forces one open', async () => {
    await open('breakers');
    await poll(() => row('breakers', 'payments').textContent()).toContain('CLOSED');
    await row('breakers', 'payments').getByRole('button', { name: 'Open' }).click();
    await poll(() => row('breakers', 'payments').textContent()).toContain('OPEN');
    expect(fx.breakers.get('payments').state).toBe('open');
    await shot('breakers');
  });

  it('queues: shows counts and dead jobs, and replays one', async () => {
    await open('queues');
    await poll(() => table('dead-jobs').count()).toBe(3);
    await poll(() => page.locator(`[data-queue="${QUEUE}"]`).textContent()).toMatch(/dead\s*3/);
    const first = (await table('dead-jobs').first().locator('td').first().textContent())!;
    await table('dead-jobs').first().getByRole('button', { name: 'Replay' }).click();
    await poll(() => table('dead-jobs').count()).toBe(2);
    const res = await fetch(`${origin}/ops/ballast/api/queues/${QUEUE}/jobs/${first}`);
    expect((await res.json()).state).toBe('waiting');
    await table('dead-jobs').first().getByRole('button', { name: 'Detail' }).click();
    await page.waitForSelector('text=renderer crashed');
    await shot('queues');
  });

  it('queues: counts and lists flow parents waiting for their children', async () => {
    await open('queues');
    await poll(() => page.locator(`[data-queue="${QUEUE}"]`).textContent()).toMatch(/waiting-children\s*1/);
    await page.selectOption('[data-select="job-state"]', 'waiting-children');
    await poll(() => table('jobs').count()).toBe(1);
    expect(await table('jobs').first().textContent()).toContain(fx.flowParent);
    await page.selectOption('[data-select="job-state"]', 'waiting');
    await poll(() => row('jobs', fx.flowParent).count()).toBe(0);
  });

  it('streams: shows the group and its dead letters; a refused delete changes nothing; replays one', async () => {
    await open('streams');
    await poll(() => table('stream-dlq').count()).toBe(2);
    await poll(() => page.locator(`[data-stream="orders/${EVENT}"]`).textContent()).toContain('billing');
    await table('stream-dlq').first().getByRole('button', { name: 'Delete' }).click();
    await poll(() => page.locator('#toast').textContent()).toContain('not authorised to stream.dlq.delete');
    expect(await table('stream-dlq').count()).toBe(2);
    fx.heal();
    await table('stream-dlq').first().getByRole('button', { name: 'Replay' }).click();
    await poll(() => table('stream-dlq').count()).toBe(1);
    await shot('streams');
  });

  it('sagas: shows the DLQ and a step timeline, and retries the dead-lettered compensation', async () => {
    await open('sagas');
    await poll(() => row('saga-dlq', fx.failedSaga).count()).toBe(1);
    await poll(() => row('sagas', fx.runningSaga).count()).toBe(1);
    await row('saga-dlq', fx.failedSaga).getByRole('link', { name: fx.failedSaga }).click();
    const timeline = page.locator(`[data-saga-timeline="${fx.failedSaga}"]`);
    await poll(() => timeline.textContent()).toContain('ship — failed');
    await shot('sagas');
    fx.heal();
    await row('saga-dlq', fx.failedSaga).getByRole('button', { name: 'Retry' }).click();
    await poll(() => row('saga-dlq', fx.failedSaga).count()).toBe(0);
    await poll(() => timeline.textContent()).toContain('compensate charge — compensated');
  });

  it('locks and discovery: show holders and instances', async () => {
    await open('locks');
    await poll(() => row('locks', 'invoice:42').textContent()).toMatch(/exclusive.*\d+\.\d s/);
    await shot('locks');
    await open('discovery');
    await expect
      .poll(() => page.locator('[data-service="users"]').textContent())
      .toMatch(/users-1.*passing.*users-2.*critical.*ejected/s);
    await shot('discovery');
  });

  it('config: shows redacted entries and a diff, and rolls back', async () => {
    await open('config');
    await poll(() => row('config', 'db.password').textContent()).toContain('<redacted>');
    expect(await page.content()).not.toContain('hunter2');
    await row('config-history', 'initial').getByRole('button', { name: 'Diff' }).click();
    await poll(() => row('config-diff', 'feature.fastCheckout').textContent()).toContain('added');
    await shot('config');
    await row('config-history', 'initial').getByRole('button', { name: 'Roll back' }).click();
    await poll(() => page.locator('[data-config-version]').textContent()).toBe('4');
    await poll(() => row('config', 'pool.max').textContent()).toContain('10');
  });

  it('refuses an unauthorised user: the toast says so and the breaker stays as it was', async () => {
    const context = await browser.newContext({ extraHTTPHeaders: { 'x-test-user': 'intern' } });
    const intern = await context.newPage();
    intern.on('dialog', (d) => void d.accept());
    await intern.goto(`${origin}/ops/ballast/#breakers`);
    const r = intern.locator('[data-panel-table="breakers"] tbody tr').filter({ hasText: 'payments' });
    await r.getByRole('button', { name: 'Close' }).click();
    await poll(() => intern.locator('#toast').textContent()).toContain('not authorised to breaker.close');
    expect(fx.breakers.get('payments').state).toBe('open');
    await context.close();
  });

  it('raised no page error and broke no CSP rule; the one refused action was the delete', () => {
    expect(problems).toEqual([]);
    expect(refused).toBe(1);
  });
});
