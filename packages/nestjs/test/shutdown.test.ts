import { fileURLToPath } from 'node:url';
import { describeShutdown } from './suites/shutdown.suite';

describeShutdown(11, fileURLToPath(new URL('..', import.meta.url)));
