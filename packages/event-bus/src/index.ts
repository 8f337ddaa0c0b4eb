export { MemoryTransport } from './backends/memory';
export { RedisTransport, type RedisTransportOptions } from './backends/redis';
export {
  createEventBus,
  EventBus,
  type EventBusOptions,
  type EventSchemas,
  type OutboxOptions,
  type OutboxTransaction,
  type PreparedEvent,
  type PublishOptions,
  publishEventLua,
} from './bus';
export {
  type EventOf,
  OnEvent,
  onEventMarks,
  registerHandlers,
  type TypedOnEventDecorator,
  typedOnEvent,
} from './decorators';
export { type DedupeClaim, type DedupeStore, memoryDedupeStore, redisDedupeStore } from './dedupe';
export { decodeEnvelope, EventDecodeError, type EventEnvelope, encodeEnvelope } from './envelope';
export * from './errors';
export { type IdempotentOptions, idempotent } from './idempotent';
export { defaultGroup, type EventKeys, eventKeys, type KeyLayout } from './keys';
export {
  type ResolvedRetentionOptions,
  type ResolvedSubscribeOptions,
  type RetentionOptions,
  retentionOptionsSchema,
  type SubscribeOptions,
  subscribeOptionsSchema,
} from './options';
export { EventType, type HealthPlatformEvents, healthPlatformEvents } from './schemas';
export { type DeadLetterEvent, type EventHandler, type HandlerContext, Subscription } from './subscription';
export {
  type ClaimResult,
  compareIds,
  type DeadLetter,
  type GroupInfo,
  NO_RETENTION,
  type RetentionPolicy,
  type StreamEntry,
  type StreamId,
  type Transport,
  type TrimResult,
} from './transport';
