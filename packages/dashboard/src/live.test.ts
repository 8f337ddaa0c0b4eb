import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FakeClock } from '@ballast/testkit';
import { describe, expect, it } from 'vitest';
import { LiveStream } from './live';

/** A page connected to the stream: the frames it received, and a way to hang up. */
function page() {
  const req = new EventEmitter() as IncomingMessage;
  const frames: string[] = [];
  let ended = false;
  const res = Object.defineProperty(
    Object.assign(new EventEmitter(), {
      writeHead: () => res,
      write: (chunk: string) => frames.push(chunk) > 0,
      end: () => {
        ended = true;
      },
    }),
    'writableEnded',
    { get: () => ended },
  ) as unknown as ServerResponse;
  return { req, res, frames, summaries: () => frames.filter((f) => f.startsWith('event: summary')).length };
}

describe('LiveStream', () => {
  it('reads the backends once per interval for every page, and only while a page is connected', async () => {
    const clock = new FakeClock();
    let reads = 0;
    const live = new LiveStream(clock, 1_000, async () => ({ n: ++reads }));
    const a = page();
    const b = page();
    live.attach(a.req, a.res);
    live.attach(b.req, b.res);
    await clock.advance(0);
    expect(reads).toBe(2); // each page gets a first summary at once
    expect(clock.pendingCount).toBe(1); // one timer for both
    await clock.advance(1_000);
    expect(reads).toBe(3);
    expect([a.summaries(), b.summaries()]).toEqual([2, 2]);
    a.req.emit('close');
    b.res.emit('close');
    expect(clock.pendingCount).toBe(0);
    await clock.advance(5_000);
    expect(reads).toBe(3);
  });

  it('sends a failing read as an error event and keeps the stream open', async () => {
    const clock = new FakeClock();
    const live = new LiveStream(clock, 1_000, async () => {
      throw new Error('redis down');
    });
    const a = page();
    live.attach(a.req, a.res);
    await clock.advance(1_000);
    expect(a.frames.filter((f) => f.startsWith('event: error'))).toHaveLength(2);
    expect(a.frames.at(-1)).toContain('redis down');
    live.close();
    expect(clock.pendingCount).toBe(0);
  });
});
