import type { Queue } from '@ballast/queue';
import { BallastNotConfiguredError } from './errors';
import { QUEUE_NAME } from './explorer';
import type { BallastResources } from './resources';

// Process-wide, shared by the ESM and CJS copies of this package (one Symbol.for key on globalThis).
const KEY = Symbol.for('@ballast/nestjs/current');
type Holder = { [KEY]?: BallastResources };

/** @internal the resources of the running `BallastModule` (set at module init, cleared at shutdown). */
export function setCurrentResources(r: BallastResources | undefined): void {
  (globalThis as Holder)[KEY] = r;
}

export function currentResources(): BallastResources | undefined {
  return (globalThis as Holder)[KEY];
}

/**
 * The `queue` of a `@Task` in a Nest app: the queue `BallastModule` registered under `name`, resolved at
 * each call (the module creates it after the class is decorated). The explorer starts a worker for it.
 *
 * @example
 * @Task({ queue: ballastQueue('emails'), priority: 'high' })
 * async sendWelcome(to: string): Promise<unknown> { … }
 */
export function ballastQueue<D = unknown>(name: string): () => Queue<D> {
  const resolve = () => {
    const r = currentResources();
    if (!r) throw new BallastNotConfiguredError(`queues: [{ name: '${name}' }]`, `@Task on queue "${name}"`);
    return r.queue(name, `@Task on queue "${name}"`) as Queue<D>;
  };
  return Object.assign(resolve, { [QUEUE_NAME]: name });
}
