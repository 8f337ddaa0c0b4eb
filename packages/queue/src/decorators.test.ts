import { DecoratorTargetError } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { enqueue, Task } from './decorators';
import { isNotATaskError } from './errors';
import { createQueue } from './queue';

type Legacy = (target: object, key: string, d: PropertyDescriptor) => PropertyDescriptor;

describe('enqueue(instance)', () => {
  const queue = createQueue('enqueue-unit');
  class Mailer {
    async send(to: string): Promise<string> {
      return `sent ${to}`;
    }
    async other(): Promise<number> {
      return 1;
    }
  }
  const d = Object.getOwnPropertyDescriptor(Mailer.prototype, 'send')!;
  Object.defineProperty(Mailer.prototype, 'send', (Task({ queue }) as unknown as Legacy)(Mailer.prototype, 'send', d));

  it('enqueues a @Task method’s call and resolves to the AddedJob; the job carries the arguments', async () => {
    const added = await enqueue(new Mailer()).send('ann');
    expect(added).toMatchObject({ name: 'Mailer.send', duplicate: false });
    expect((await queue.getJob(added.id))?.data).toEqual({ args: ['ann'] });
  });

  it('rejects with NotATaskError on a method that is not a task; is not a thenable (awaiting it does not hang)', async () => {
    const error = await (enqueue(new Mailer()) as unknown as { other(): Promise<unknown> }).other().catch((e) => e);
    expect(isNotATaskError(error)).toBe(true);
    expect((error as Error).message).toContain('Mailer.other');
    const calls = enqueue(new Mailer());
    expect(await Promise.resolve(calls)).toBe(calls);
  });

  it('a trailing AbortSignal is not job data; an aborted one rejects the enqueue', async () => {
    const m = new Mailer() as unknown as { send(to: string, signal?: AbortSignal): Promise<{ id: string }> };
    const added = await m.send('bob', new AbortController().signal);
    expect((await queue.getJob(added.id))?.data).toEqual({ args: ['bob'] });
    await expect(m.send('cy', AbortSignal.abort())).rejects.toMatchObject({ code: 'ABORTED' });
  });
});

describe('@Task on a static method', () => {
  it('is refused where it is written: workers run the @Task methods of an instance, so its jobs would never run', () => {
    class Jobs {
      static async nightly(): Promise<void> {}
      run(): void {}
    }
    const d = Object.getOwnPropertyDescriptor(Jobs, 'nightly')!;
    const apply = () => (Task({ queue: createQueue('static-task') }) as unknown as Legacy)(Jobs, 'nightly', d);
    expect(apply).toThrow(DecoratorTargetError);
    expect(apply).toThrow(/static method/);
  });
});
