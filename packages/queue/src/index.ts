export type { Counts, FailOutcome, FetchedJob, QueueBackend, StalledJob, Waiter } from './backend';
export { MemoryBackend } from './backends/memory';
export {
  DELAY_TIERS,
  MAX_TIER_DELAY_MS,
  RabbitBackend,
  type RabbitBackendOptions,
  type RabbitQueueType,
} from './backends/rabbitmq';
export { RedisBackend, type RedisBackendOptions } from './backends/redis';
export { currentJob, type JobContext } from './context';
export {
  enqueue,
  registerTasks,
  Task,
  type TaskCalls,
  type TaskData,
  type TaskDecorator,
  type TaskMarkInfo,
  type TaskOptions,
  taskHandlers,
  taskMark,
} from './decorators';
export * from './errors';
export {
  type EventsTransport,
  eventsKey,
  type QueueEvent,
  type QueueEventMap,
  type QueueEventName,
  QueueEvents,
  type QueueEventsOptions,
} from './events';
export type {
  ChildFailurePolicy,
  Dependencies,
  FlowJob,
  FlowJobOptions,
  FlowNode,
  FlowQueue,
  FlowRecord,
  FlowStore,
  OutboxEntry,
} from './flows';
export {
  type AddedJob,
  JOB_STATES,
  type Job,
  type JobErrorEntry,
  type JobInfo,
  type JobState,
  priorityLabel,
  resolvePriority,
} from './job';
export { type QueueKeys, queueKeys } from './keys';
export {
  isRateLimitedError,
  type LimiterOptions,
  type LimiterStore,
  RateLimitedError,
  retryAfterToMs,
} from './limiter';
export * from './operation-errors';
export {
  type BackendOperations,
  type CleanableState,
  type CleanOptions,
  type GetJobsOptions,
  JobHandle,
  MAX_LOG_LINE_LENGTH,
  MAX_LOG_LINES,
  type ObliterateOptions,
} from './operations';
export {
  JOB_DEFAULTS,
  type JobOptions,
  MAX_PRIORITY,
  PRIORITIES,
  type Priority,
  type PriorityName,
  type QueueOptions,
  type Retention,
  type WorkerOptions,
} from './options';
export {
  type BulkJob,
  type CompletedEvent,
  type CreateQueueOptions,
  createQueue,
  type DeadEvent,
  type DeadPage,
  type FailedEvent,
  type JobRef,
  Queue,
  type RetryingEvent,
  type StalledEvent,
} from './queue';
export { createQueueEvents } from './queue-events';
export {
  isSandboxCrashedError,
  SandboxCrashedError,
  type SandboxedJob,
  type SandboxKind,
  type SandboxOptions,
  sandboxed,
} from './sandbox';
export {
  isSchedulersUnsupportedError,
  type MissedTickPolicy,
  type Schedule,
  type SchedulerInfo,
  type SchedulerStore,
  SchedulersUnsupportedError,
  type SchedulerTemplate,
} from './scheduler';
export { MemoryStatusStore, RedisStatusStore, type StatusMove, type StatusStore } from './status';
export { createWorker, type Handler, type Handlers, Worker } from './worker';
