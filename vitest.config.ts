import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Alias, defineConfig, type Plugin } from 'vitest/config';

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

// Tests run against each package's source, so they never see a stale dist/.
const sourceAliases: Alias[] = [
  // A subpath export `@ballast/<pkg>/<entry>` is `packages/<pkg>/src/<entry>.ts`.
  { find: /^@ballast\/([a-z-]+)\/([a-z-]+)$/, replacement: `${root}packages/$1/src/$2.ts` },
  { find: /^@ballast\/([a-z-]+)$/, replacement: `${root}packages/$1/src/index.ts` },
];

/**
 * A project whose NestJS packages come from `dir`'s own node_modules: @ballast/nestjs's source (and the shared
 * test bodies) import `@nestjs/*`, which would otherwise resolve to the Nest 11 of packages/nestjs.
 */
function nestProject(name: string, dir: string) {
  return {
    extends: true as const,
    resolve: {
      alias: [
        { find: /^(@nestjs\/[a-z-]+)(\/.*)?$/, replacement: `${root}${dir}/node_modules/$1$2` },
        { find: /^(reflect-metadata|rxjs)(\/.*)?$/, replacement: `${root}${dir}/node_modules/$1$2` },
        ...sourceAliases,
      ],
    },
    test: { name, include: [`${dir}/**/*.test.ts`] },
  };
}

export default defineConfig({
  plugins: [luaAsText()],
  resolve: { alias: sourceAliases },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'ballast',
          include: [
            'packages/*/src/**/*.test.ts',
            'packages/*/test/**/*.test.ts',
            'bench/**/*.test.ts',
            'reliability/**/*.test.ts',
            'examples/*/src/**/*.test.ts',
            'examples/*/test/**/*.test.ts',
            'tests/*/**/*.test.ts',
          ],
          // Its own project: there @nestjs/* must resolve to Nest 10.
          exclude: ['**/node_modules/**', '**/dist/**', 'tests/nestjs-module-v10/**'],
        },
      },
      nestProject('nestjs-module-v10', 'tests/nestjs-module-v10'),
    ],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Background timers must never throw unhandled: fail the run if one does.
    dangerouslyIgnoreUnhandledErrors: false,
  },
});
