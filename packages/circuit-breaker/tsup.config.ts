import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.shared';
import { buildBrowserEntry } from './browser-build';

export default defineConfig({
  ...packageBuild({ index: 'src/index.ts', decorators: 'src/decorators.ts', http: 'src/http.ts' }),
  // Shared chunks, not one copy per entry: the main entry and `/decorators` must see the same default
  // registry (and `/http` the same classes) when an app imports several of them.
  splitting: true,
  // `dist/http.browser.js`: the `/http` entry for browsers (see browser-build.ts).
  onSuccess: async () => {
    await buildBrowserEntry();
  },
});
