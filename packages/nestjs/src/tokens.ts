/**
 * Injection tokens. Classes (`LockManager`, `EventBus`, `SagaOrchestrator`, `Discovery`, `Config`,
 * `BreakerRegistry`, `BallastResources`) are their own tokens; Redis clients and queues, of which there can
 * be several, have named tokens built here, as `@nestjs/bullmq`'s `getQueueToken` does.
 */

/** The resolved module options (what `forRoot` was given or `forRootAsync`'s factory returned). */
export const BALLAST_OPTIONS = Symbol.for('@ballast/nestjs/options');

/** Token of a Ballast queue: `@Inject(getQueueToken('emails'))`, or `@InjectQueue('emails')`. */
export function getQueueToken(name: string): string {
  return `BallastQueue:${name}`;
}

/** Token of a Redis client: the module's `redis` (no name), or one of its `connections` by name. */
export function getRedisToken(name?: string): string {
  return name === undefined || name === 'default' ? 'BallastRedis:default' : `BallastRedis:${name}`;
}
