import { describeHealth } from '../../packages/nestjs/test/suites/health.suite';

describeHealth(10);
