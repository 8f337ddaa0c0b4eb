import { Inject, Injectable } from '@nestjs/common';
import { BallastHealthCheckError } from './errors';
import { BallastLifecycle } from './lifecycle';
import { BallastResources } from './resources';

/** What an indicator returns when up: terminus's `HealthIndicatorResult` shape, `{ [key]: { status: 'up', … } }`. */
export type BallastHealthResult<K extends string = string> = Record<K, { status: 'up' } & Record<string, unknown>>;

export interface QueueHealthOptions {
  /** Waiting + delayed jobs above this are `down` (backlog). Default: no limit. */
  maxBacklog?: number;
  /** Dead-lettered jobs above this are `down`. Default: no limit. */
  maxDead?: number;
}

/**
 * Health indicators for `@nestjs/terminus` (10 and 11) over the module's pieces. Each resolves
 * `{ [key]: { status: 'up', … } }` or throws a `BallastHealthCheckError` carrying terminus's
 * `isHealthCheckError`/`causes`, which both terminus majors report as `down` with a 503. Needs no import
 * of terminus itself.
 *
 * @example
 * @Get('health') @HealthCheck()
 * check() {
 *   return this.health.check([() => this.ballast.redis(), () => this.ballast.queue('emails', { maxDead: 0 })]);
 * }
 */
@Injectable()
export class BallastHealthIndicator {
  constructor(
    @Inject(BallastResources) private readonly resources: BallastResources,
    @Inject(BallastLifecycle) private readonly lifecycle: BallastLifecycle,
  ) {}

  #up<K extends string>(key: K, data: Record<string, unknown> = {}): BallastHealthResult<K> {
    return { [key]: { ...data, status: 'up' } } as BallastHealthResult<K>;
  }

  #down(key: string, message: string, data: Record<string, unknown> = {}): never {
    throw new BallastHealthCheckError(key, { [key]: { ...data, message, status: 'down' } });
  }

  /** `PING` on the module's Redis (or a named connection), within `timeoutMs` (default 1000). */
  async redis<K extends string = 'redis'>(
    key: K = 'redis' as K,
    options: { connection?: string; timeoutMs?: number } = {},
  ): Promise<BallastHealthResult<K>> {
    const r = this.resources;
    const client = options.connection === undefined ? r.redis : r.connections.get(options.connection);
    if (!client) return this.#down(key, `no Redis connection ${options.connection ?? '(redis)'} is configured`);
    const timeoutMs = options.timeoutMs ?? 1_000;
    const started = performance.now();
    const outcome = await within(client.ping(), timeoutMs);
    if (outcome === 'done') return this.#up(key, { latencyMs: Math.round(performance.now() - started) });
    return this.#down(key, outcome === 'timeout' ? `no PONG within ${timeoutMs} ms` : describeError(outcome.error));
  }

  /** Every RabbitMQ-backed queue of the module has its AMQP connection up (waiting up to `timeoutMs`, default 1000). */
  async rabbitmq<K extends string = 'rabbitmq'>(
    key: K = 'rabbitmq' as K,
    options: { timeoutMs?: number } = {},
  ): Promise<BallastHealthResult<K>> {
    const rabbit = this.resources.queues().filter((q) => q.queue.backend.kind === 'rabbitmq');
    if (rabbit.length === 0) return this.#down(key, 'no RabbitMQ queue is configured');
    const queues = rabbit.map((q) => q.queue.name);
    const timeoutMs = options.timeoutMs ?? 1_000;
    const up = await Promise.all(
      rabbit.map(async ({ queue }) => {
        const b = queue.backend as { connected?: boolean; whenConnected?: () => Promise<void> };
        if (b.connected === true) return true;
        return (await within(b.whenConnected?.(), timeoutMs)) === 'done';
      }),
    );
    const down = queues.filter((_, i) => !up[i]);
    if (down.length > 0) return this.#down(key, `AMQP connection down for ${down.join(', ')}`, { queues, down });
    return this.#up(key, { queues });
  }

  /** Down when more than `maxOpen` (default 0) circuit breakers are open; lists them. */
  async breakers<K extends string = 'breakers'>(
    key: K = 'breakers' as K,
    options: { maxOpen?: number } = {},
  ): Promise<BallastHealthResult<K>> {
    const stats = this.resources.breakers.stats().circuitBreakers;
    const open = Object.entries(stats)
      .filter(([, s]) => s.state === 'OPEN')
      .map(([name]) => name);
    const total = Object.keys(stats).length;
    if (open.length > (options.maxOpen ?? 0)) return this.#down(key, `${open.length} circuit(s) open`, { open, total });
    return this.#up(key, { open, total });
  }

  /** This instance's discovery registration exists and the backend still knows it. */
  async discovery<K extends string = 'discovery'>(key: K = 'discovery' as K): Promise<BallastHealthResult<K>> {
    const d = this.resources.discovery;
    const reg = this.lifecycle.registration;
    if (!d || !reg) return this.#down(key, 'this instance is not registered (discovery.register not configured)');
    try {
      const known = await d.backend.isRegistered(reg.id);
      if (!known) return this.#down(key, `registration ${reg.id} is not known to the registry`, { id: reg.id });
      return this.#up(key, { id: reg.id, service: reg.name, reregistrations: reg.reregistrations });
    } catch (error) {
      return this.#down(key, error instanceof Error ? error.message : String(error), { id: reg.id });
    }
  }

  /** Counts of a queue; down when the backlog (waiting + delayed) or the DLQ exceeds the given bounds. */
  async queue<K extends string = string>(
    name: string,
    options: QueueHealthOptions & { key?: K } = {},
  ): Promise<BallastHealthResult<K>> {
    const key = (options.key ?? `queue:${name}`) as K;
    let counts: Awaited<ReturnType<ReturnType<BallastResources['queue']>['counts']>>;
    try {
      counts = await this.resources.queue(name, 'BallastHealthIndicator.queue').counts();
    } catch (error) {
      return this.#down(key, error instanceof Error ? error.message : String(error));
    }
    const backlog = counts.waiting + counts.delayed;
    const data = { backlog, active: counts.active, dead: counts.dead, failed: counts.failed };
    if (options.maxBacklog !== undefined && backlog > options.maxBacklog) {
      return this.#down(key, `backlog ${backlog} > ${options.maxBacklog}`, data);
    }
    if (options.maxDead !== undefined && counts.dead > options.maxDead) {
      return this.#down(key, `${counts.dead} dead-lettered job(s) > ${options.maxDead}`, data);
    }
    return this.#up(key, data);
  }
}

/** How `work` went within `ms`: `done`, `timeout`, or its error. A missing promise counts as a timeout. */
async function within(
  work: Promise<unknown> | undefined,
  ms: number,
): Promise<'done' | 'timeout' | { error: unknown }> {
  if (!work) return 'timeout';
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work.then(
        () => 'done' as const,
        (error: unknown) => ({ error }),
      ),
      new Promise<'timeout'>((r) => {
        timer = setTimeout(() => r('timeout'), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
