import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.shared';

// The library entry (ESM + CJS + types) and the `ballast` bin (ESM, with its shebang kept by tsup).
export default defineConfig([
  packageBuild(),
  { ...packageBuild({ bin: 'src/bin.ts' }), format: ['esm'], dts: false, clean: false },
]);
