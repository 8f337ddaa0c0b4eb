/**
 * The gateway's operator dashboard (`@ballast/dashboard` mounted on `/dashboard`) end to end in Debian's
 * Chromium: the stack runs in a child process (`--no-story`). Opened without an admin session it is read-only —
 * flipping a chaos flag is refused and changes nothing. Opened through the URL the demo prints (`/admin/login`
 * with the operator's token in the fragment), the admin session flips `chaos.blockchain` as a config-center
 * flag; traffic through the gateway then opens the blockchain-service breaker, shown in the breakers panel.
 * Every panel renders the platform's data (queue, streams, sagas, instances, config). Screenshot as an artifact.
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
  const res = await fetch(`${origin}/dashboard/api/config`);
  const { entries } = (await res.json()) as { entries: Record<string, unknown> };
  return entries['chaos.blockchain'] ?? entries['chaos/blockchain'];
}

it('is read-only without an admin session: flipping a chaos flag is refused and changes nothing', async () => {
  const page = await browser!.newPage();
  page.on('dialog', (d) => void d.accept());
  await page.goto(`${origin}/`); // redirects to the dashboard
  await page.waitForSelector('#live.on', { timeout: 15_000 });
  await open(page, 'config');
  await poll(() => flag(page).textContent()).toContain('false');
  await flag(page).getByRole('button', { name: 'Turn on' }).click();
  await poll(() => page.locator('#toast').textContent()).toContain('not authorised to config.flag');
  expect(await chaosBlockchain()).toBe(false);
  await page.close();
}, 60_000);

it('an admin flips the blockchain chaos flag, the gateway breaker opens, every panel shows the platform', async () => {
  const page = await browser!.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('dialog', (d) => void d.accept());
  await page.goto(login);
  await page.waitForURL(`${origin}/dashboard/`, { timeout: 15_000 });
  await page.waitForSelector('#live.on', { timeout: 15_000 });

  await open(page, 'config');
  await flag(page).getByRole('button', { name: 'Turn on' }).click();
  await poll(() => flag(page).textContent()).toContain('true');
  expect(await chaosBlockchain()).toBe(true);
  // Traffic through the gateway's own client (its breakers): blockchain-service now fails every call.
  await poll(async () => {
    await fetch(`${origin}/admin/traffic`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ service: 'blockchain-service', path: '/ledger/dashboard', count: 6 }),
    });
    const s = (await (await fetch(`${origin}/circuit-breaker/stats`)).json()) as {
      circuitBreakers: Record<string, { state: string }>;
    };
    return s.circuitBreakers['blockchain-service']?.state;
  }).toBe('OPEN');

  await open(page, 'breakers');
  await poll(() => table(page, 'breakers').filter({ hasText: 'blockchain-service' }).textContent()).toContain('OPEN');
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: `${artifacts}dashboard-breakers.png`, fullPage: true });

  await open(page, 'queues');
  await page.waitForSelector('[data-queue]');
  await open(page, 'streams');
  await poll(() => page.locator('[data-stream="health-platform/user.registered"]').count()).toBe(1);
  await open(page, 'sagas');
  await page.waitForSelector('[data-panel-table="saga-dlq"]');
  await open(page, 'discovery');
  // rag-service runs two instances, both passing their checks.
  await poll(() => page.locator('[data-service="rag-service"] .badge.passing').count()).toBe(2);

  // Back to normal: the flag off again (an operator's undo), as a new config version.
  await open(page, 'config');
  await flag(page).getByRole('button', { name: 'Turn off' }).click();
  await poll(() => chaosBlockchain()).toBe(false);
  await page.close();
}, 90_000);
