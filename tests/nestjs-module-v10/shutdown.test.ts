import { fileURLToPath } from 'node:url';
import { describeShutdown } from '../../packages/nestjs/test/suites/shutdown.suite';

describeShutdown(10, fileURLToPath(new URL('.', import.meta.url)));
