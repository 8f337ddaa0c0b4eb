import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

/** Lua scripts import as text in tests, as tsup's `text` loader does in builds. */
function luaAsText(): Plugin {
  return {
    name: 'ballast-lua-text',
    load(id) {
      if (!id.endsWith('.lua')) return null;
      return `export default ${JSON.stringify(readFileSync(id, 'utf8'))};`;
    },
  };
}

export default defineConfig({
  plugins: [luaAsText()],
  resolve: {
    // Tests run against each package's source, so they never see a stale dist/.
    alias: [
      // A subpath export `@ballast/<pkg>/<entry>` is `packages/<pkg>/src/<entry>.ts`.
      { find: /^@ballast\/([a-z-]+)\/([a-z-]+)$/, replacement: `${root}packages/$1/src/$2.ts` },
      { find: /^@ballast\/([a-z-]+)$/, replacement: `${root}packages/$1/src/index.ts` },
    ],
  },
  test: {
    include: [
      'packages/*/src/**/*.test.ts',
      'packages/*/test/**/*.test.ts',
      'bench/**/*.test.ts',
      'reliability/**/*.test.ts',
      'examples/*/src/**/*.test.ts',
      'examples/*/test/**/*.test.ts',
      'tests/*/**/*.test.ts',
    ],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Background timers must never throw unhandled: fail the run if one does.
    dangerouslyIgnoreUnhandledErrors: false,
  },
});
