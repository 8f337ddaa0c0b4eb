import type { Options } from 'tsup';

/**
 * The one build every package shares: ESM + CJS + d.ts (d.cts for require), Lua inlined as text,
 * dependencies external. Packages pass their entry points.
 */
export function packageBuild(entry: Record<string, string> = { index: 'src/index.ts' }): Options {
  return {
    entry,
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    platform: 'node',
    splitting: false,
    treeshake: true,
    loader: { '.lua': 'text' },
  };
}
