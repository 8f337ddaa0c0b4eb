import type { Suite } from '../harness';
import { breaker } from './breaker';
import { bus } from './bus';
import { lock } from './lock';
import { redisBaseline } from './redis-baseline';

/** Every suite `npm run bench -- <suite>` knows. */
export const suites: Record<string, Suite> = {
  [redisBaseline.name]: redisBaseline,
  [breaker.name]: breaker,
  [bus.name]: bus,
  [lock.name]: lock,
};
