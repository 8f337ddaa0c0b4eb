import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.shared';
import { buildUi } from './ui-build';

// The UI is bundled first and inlined, so the published package serves it with no file lookups and no CDN.
export default defineConfig({
  ...packageBuild({ index: 'src/index.ts', nestjs: 'src/nestjs.ts' }),
  define: { __BALLAST_DASHBOARD_UI__: JSON.stringify(buildUi()) },
});
