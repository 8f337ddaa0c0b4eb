import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.shared';

export default defineConfig({
  ...packageBuild({ index: 'src/index.ts', vitest: 'src/vitest.ts', otel: 'src/otel.ts', consul: 'src/consul.ts' }),
  external: ['vitest', '@opentelemetry/sdk-metrics', '@opentelemetry/api'],
});
