import type { QueueEvents, QueueEventsOptions } from './events';
import type { Queue } from './queue';

/**
 * A queue's events as every process sees them: completions, failures, progress… of jobs any worker ran.
 * Publishers are queues created with `events: true`. Same as `queue.createEvents(options)`.
 *
 * @example
 * const events = createQueueEvents(queue);
 * events.onCompleted(({ jobId, result }) => console.log(jobId, result));
 */
export function createQueueEvents(queue: Queue, options: QueueEventsOptions = {}): QueueEvents {
  return queue.createEvents(options);
}
