export { MemorySagaStore, type MemorySagaStoreOptions } from './backends/memory';
export {
  RedisSagaStore,
  type RedisSagaStoreOptions,
  SAGA_SCRIPTS,
  type SagaDurability,
  type SagaPreparingBus,
  type SagaRedisClient,
} from './backends/redis';
export {
  Saga,
  type SagaClassOptions,
  type SagaContextOf,
  Step,
  type StepOptions,
  sagaMark,
  sagaOf,
} from './decorators';
export {
  type ContextOf,
  defineSaga,
  type ParallelGroup,
  parallel,
  type RecoveryPolicy,
  type SagaDefinition,
  type SagaSpec,
  type SagaUnit,
  type StepDefinition,
  type StepInfo,
  type StepResult,
  type StepRetry,
} from './definition';
export {
  type CompensationOutcome,
  ContextNotSerializableError,
  DuplicateStepError,
  IdempotencyConflictError,
  InvalidSagaError,
  isContextNotSerializableError,
  isDuplicateStepError,
  isIdempotencyConflictError,
  isInvalidSagaError,
  isNestedParallelError,
  isSagaBusyError,
  isSagaCancelledError,
  isSagaDurabilityError,
  isSagaExistsError,
  isSagaFailedError,
  isSagaLeaseLostError,
  isSagaNotFoundError,
  isSagaReplayTimeoutError,
  isUnknownDefinitionVersionError,
  isUnknownSagaError,
  NestedParallelError,
  SagaBusyError,
  SagaCancelledError,
  SagaDurabilityError,
  SagaExistsError,
  SagaFailedError,
  SagaLeaseLostError,
  SagaNotFoundError,
  SagaReplayTimeoutError,
  type StoredError,
  UnknownDefinitionVersionError,
  UnknownSagaError,
} from './errors';
export { type SagaEventBus, type SagaEventPayloads, SagaEventType } from './events';
export type { Json } from './json';
export { DLQ_STREAM } from './keys';
export {
  DEFAULT_COMPENSATION_BACKOFF,
  DEFAULT_STEP_BACKOFF,
  type OrchestratorOptions,
  type RunOptions,
} from './options';
export {
  type CompensationFailedEvent,
  createOrchestrator,
  SagaOrchestrator,
  type SagaState,
} from './orchestrator';
export {
  type ClaimOptions,
  type DeadLetter,
  type DeadLetterPage,
  type Fence,
  type ListPage,
  type ListQuery,
  type OutboxEntry,
  type OutboxQuery,
  type SagaEvent,
  type SagaPatch,
  type SagaRecord,
  SagaStatus,
  type SagaStore,
} from './store';
export { SAGA_METRICS } from './telemetry';
