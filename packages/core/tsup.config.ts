import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.shared';

// `base`: the browser-safe subset (no Node builtins, ioredis or pino), for browser bundles.
export default defineConfig(packageBuild({ index: 'src/index.ts', base: 'src/base.ts' }));
