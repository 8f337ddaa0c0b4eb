import { BreakerRegistry } from '@ballast/circuit-breaker';
import { Config } from '@ballast/config-center';
import { Discovery } from '@ballast/discovery';
import { EventBus } from '@ballast/event-bus';
import { LockManager } from '@ballast/lock';
import { SagaOrchestrator } from '@ballast/saga';
import { Inject } from '@nestjs/common';
import { getQueueToken, getRedisToken } from './tokens';

/** Injects a queue registered with `BallastModule` (`queues` of `forRoot`/`forFeature`). */
export const InjectQueue = (name: string): ParameterDecorator & PropertyDecorator => Inject(getQueueToken(name));
/** Injects the module's Redis client, or a named one of its `connections`. */
export const InjectRedis = (name?: string): ParameterDecorator & PropertyDecorator => Inject(getRedisToken(name));
/** Injects the event bus (`eventBus` option). */
export const InjectBus = (): ParameterDecorator & PropertyDecorator => Inject(EventBus);
/** Injects the lock manager (`lock` option); `@WithLock` methods use the same one. */
export const InjectLockManager = (): ParameterDecorator & PropertyDecorator => Inject(LockManager);
/** Injects the saga orchestrator (`saga` option); `@Saga` classes are registered on it. */
export const InjectSagas = (): ParameterDecorator & PropertyDecorator => Inject(SagaOrchestrator);
/** Injects the breaker registry `@CircuitBreaker` methods use. */
export const InjectBreakers = (): ParameterDecorator & PropertyDecorator => Inject(BreakerRegistry);
/** Injects service discovery (`discovery` option). */
export const InjectDiscovery = (): ParameterDecorator & PropertyDecorator => Inject(Discovery);
/** Injects the config center (`config` option). */
export const InjectConfig = (): ParameterDecorator & PropertyDecorator => Inject(Config);
