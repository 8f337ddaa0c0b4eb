/** What the queue scenario's parent hands each worker process (JSON in `BALLAST_CHAOS_CONFIG`). */
export interface QueueWorkerConfig {
  backend: 'redis' | 'rabbitmq';
  /** The queue's name (unique per run). */
  queueName: string;
  /** Key prefix of the queue (Redis backend) or of the RabbitMQ status store. */
  prefix: string;
  /** Redis backend: the scenario's private AOF Redis. RabbitMQ: the Redis of the status store. */
  queueRedisUrl: string;
  /** RabbitMQ backend: AMQP URL on the run's throwaway vhost. */
  amqpUrl?: string;
  /** The Redis holding the ledger (not the one restarted: the ledger must outlive the chaos). */
  ledgerRedisUrl: string;
  /** Hash job id → times the handler's effect happened (HINCRBY inside the handler, before the ack). */
  ledgerKey: string;
  /** Hash `waiting` / `dead` → stalled jobs this worker recovered (its queue's `stalled` events). */
  stalledKey: string;
  concurrency: number;
  lockMs: number;
  stalledIntervalMs: number;
  maxStalledCount: number;
  lifetimeMs: number;
  /** Negative control only: every job with `n % dropEvery === 0` completes without its effect. */
  dropEvery?: number;
}

export const QUEUE_JOB = 'chaos.job';

export interface QueueJobData {
  n: number;
}

export const jobId = (n: number) => `j${n}`;
