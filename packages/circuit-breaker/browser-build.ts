/**
 * The browser build of `@ballast/circuit-breaker/http` (`dist/http.browser.js`, the `browser` export condition),
 * shared by tsup.config.ts and the test that bundles it for Chromium.
 *
 * Same source as the Node build, two substitutions: `@ballast/core` becomes `@ballast/core/base` (core without
 * Node builtins, ioredis or pino — an import missing there fails the build), and `./log` becomes
 * `./log.browser` (the default logger is the console, not pino). Built for `platform: 'browser'`, so a Node
 * builtin anywhere in the graph fails the build too.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, type BuildResult, build, type Plugin } from 'esbuild';

const root = dirname(fileURLToPath(import.meta.url));

export interface BrowserPluginOptions {
  /**
   * Where `@ballast/core/base` comes from. Default: left external (the published build; the app's bundler
   * resolves it). Tests pass core's source entry to bundle everything.
   */
  coreBase?: string;
  /** Resolve `@ballast/circuit-breaker/http` to this package's source entry (tests bundling an app). */
  selfHttp?: boolean;
}

export function browserPlugin(options: BrowserPluginOptions = {}): Plugin {
  return {
    name: 'ballast-circuit-breaker-browser',
    setup(b) {
      b.onResolve({ filter: /^@ballast\/core(\/base)?$/ }, () =>
        options.coreBase ? { path: options.coreBase } : { path: '@ballast/core/base', external: true },
      );
      b.onResolve({ filter: /^(\.\.?\/)+log$/ }, (args) => ({
        path: join(args.resolveDir, `${args.path}.browser.ts`),
      }));
      if (options.selfHttp) {
        b.onResolve({ filter: /^@ballast\/circuit-breaker\/http$/ }, () => ({ path: join(root, 'src/http.ts') }));
      }
    },
  };
}

/** The options of the published browser build; `overrides` for tests (an outdir, `write: false`). */
export function browserBuildOptions(overrides: BuildOptions = {}): BuildOptions {
  return {
    entryPoints: { 'http.browser': join(root, 'src/http.ts') },
    outdir: join(root, 'dist'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: true,
    metafile: true,
    // No `keepNames`: it wraps every closure made per call in `__name()` (half the time of a timed call).
    // BallastError undoes the bundler's `_Name` renaming of error classes itself.
    // Dependencies stay imports, resolved by the app's bundler (zod and the OTel API are browser-safe).
    external: ['zod', '@opentelemetry/api'],
    loader: { '.lua': 'text' },
    logLevel: 'warning',
    plugins: [browserPlugin()],
    ...overrides,
  };
}

/** Writes `dist/http.browser.js` (tsup's `onSuccess`). */
export function buildBrowserEntry(overrides: BuildOptions = {}): Promise<BuildResult> {
  return build(browserBuildOptions(overrides));
}
