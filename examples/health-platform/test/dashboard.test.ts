/**
 * The dashboard end to end in Debian's Chromium: the stack runs in a child process (`--no-story`); opened
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
