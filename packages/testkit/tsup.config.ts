import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.shared';

export default defineConfig({
  ...packageBuild({ index: 'src/index.ts', vitest: 'src/vitest.ts', otel: 'src/otel.ts' }),
  external: ['vitest', '@opentelemetry/sdk-metrics', '@opentelemetry/api'],
});
