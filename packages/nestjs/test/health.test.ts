import { describeHealth } from './suites/health.suite';

describeHealth(11);
