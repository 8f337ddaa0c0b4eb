/**
 * `@ballast/circuit-breaker/http` in a browser. Its browser build (browser-build.ts, the `browser` export
 * condition) must hold nothing Node-only: the published bundle imports only `@ballast/core/base`, zod and the
 * OTel API; an app bundled with everything (esbuild, platform browser) pulls in no Node builtin, ioredis or
 * pino. Then that app runs in Debian's Chromium against a local server: a retry on 503, a GET cache hit.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserBuildOptions, browserPlugin } from '../browser-build';

/** What the bundled app (fixtures/browser/app.ts) puts on the page. */
type AppWindow = { scenario?: () => Promise<Record<string, unknown>> };

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const coreBase = here('../../core/src/base.ts');

/** Every module in a bundle that is Node-only. */
function nodeOnly(metafile: Metafile): string[] {
  const inputs = Object.keys(metafile.inputs);
  const imports = Object.values(metafile.inputs).flatMap((i) => i.imports.map((x) => x.path));
  return [...inputs, ...imports].filter((p) => /^node:|\/node_modules\/(ioredis|pino|@ioredis)\//.test(p));
}

describe('the browser build of /http', () => {
  it('imports nothing but @ballast/core/base, zod and the OTel API', async () => {
    const result = await build(browserBuildOptions({ write: false, outdir: here('./.browser-build') }));
    const output = Object.entries(result.metafile!.outputs).find(([file]) => file.endsWith('http.browser.js'))![1];
    const external = new Set(output.imports.filter((i) => i.external).map((i) => i.path));
    expect([...external].sort()).toEqual(['@ballast/core/base', '@opentelemetry/api', 'zod']);
    expect(Object.keys(result.metafile!.inputs).filter((p) => p.includes('node_modules'))).toEqual([]);
    // The Node build's modules were swapped out.
    expect(Object.keys(result.metafile!.inputs).some((p) => p.endsWith('src/log.browser.ts'))).toBe(true);
    expect(Object.keys(result.metafile!.inputs).some((p) => p.endsWith('src/log.ts'))).toBe(false);
  });
});

describe('the HTTP client in Chromium', () => {
  let server: Server;
  let browser: Browser;
  let origin = '';
  let app = '';
  const hits = { flaky: 0, cached: 0 };

  beforeAll(async () => {
    const bundled = await build({
      entryPoints: [here('./fixtures/browser/app.ts')],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      metafile: true,
      logLevel: 'silent',
      plugins: [browserPlugin({ coreBase, selfHttp: true })],
    });
    expect(nodeOnly(bundled.metafile!)).toEqual([]);
    app = bundled.outputFiles[0]!.text;

    server = createServer((req, res) => {
      const send = (status: number, type: string, body: string) => {
        res.writeHead(status, { 'content-type': type });
        res.end(body);
      };
      if (req.url === '/')
        return send(200, 'text/html', '<!doctype html><script type="module" src="/app.js"></script>');
      if (req.url === '/app.js') return send(200, 'text/javascript', app);
      if (req.url === '/api/flaky') {
        hits.flaky++;
        return hits.flaky === 1
          ? send(503, 'text/plain', 'down')
          : send(200, 'application/json', `{"ok":true,"hit":${hits.flaky}}`);
      }
      if (req.url === '/api/cached') return send(200, 'application/json', `{"n":${++hits.cached}}`);
      send(404, 'text/plain', 'no such route');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    server?.closeAllConnections();
    server?.close();
  });

  it('retries a 503, then serves a GET from its cache; logs to the console; no page error', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    const console: { type: string; text: string }[] = [];
    page.on('pageerror', (error) => errors.push(String(error)));
    page.on('console', (message) => console.push({ type: message.type(), text: message.text() }));
    await page.goto(origin);
    await page.waitForFunction(() => typeof (window as AppWindow).scenario === 'function');
    const result = await page.evaluate(() => (window as AppWindow).scenario!());
    expect(result).toEqual({
      flaky: { ok: true, hit: 2 },
      retries: [1],
      first: { n: 1 },
      second: { n: 1 },
      breaker: 'closed',
      afterClose: 'HTTP_CLIENT_CLOSED',
      openError: false,
    });
    expect(hits).toEqual({ flaky: 2, cached: 1 });
    expect(errors).toEqual([]);
    expect(console).toContainEqual(
      expect.objectContaining({ type: 'warning', text: expect.stringContaining('Retry 1/3 for api after 0ms') }),
    );
  }, 60_000);
});
