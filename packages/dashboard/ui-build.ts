/**
 * The UI bundle (src/ui/app.ts → one minified browser script), shared by tsup.config.ts (inlined into the
 * build as `__BALLAST_DASHBOARD_UI__`) and the tests (which run the source and set it on globalThis).
 */
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

export function buildUi(): string {
  const result = buildSync({
    entryPoints: [fileURLToPath(new URL('./src/ui/app.ts', import.meta.url))],
    bundle: true,
    write: false,
    minify: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}
