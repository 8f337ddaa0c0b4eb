import { afterEach, describe, expect, it } from 'vitest';
import { EventEmitter, setListenerErrorHandler } from './events';

describe('EventEmitter', () => {
  afterEach(() => setListenerErrorHandler(() => {}));

  it('delivers to every listener until each unsubscribes', () => {
    const e = new EventEmitter<number>('n');
    const a: number[] = [];
    const b: number[] = [];
    const offA = e.event((n) => a.push(n));
    const offB = e.event((n) => b.push(n));
    e.emit(1);
    offA();
    e.emit(2);
    offB.dispose();
    e.emit(3);
    expect(a).toEqual([1]);
    expect(b).toEqual([1, 2]);
    expect(e.size).toBe(0);
  });

  it('unsubscribing twice is harmless and removes only that subscription', () => {
    const e = new EventEmitter<string>();
    const got: string[] = [];
    const listener = (s: string) => got.push(s);
    const off1 = e.event(listener);
    e.event(listener);
    off1();
    off1();
    e.emit('x');
    expect(got).toEqual(['x']);
  });

  it('supports `using` through Symbol.dispose', () => {
    const e = new EventEmitter<number>();
    const got: number[] = [];
    {
      const sub = e.event((n) => got.push(n));
      e.emit(1);
      sub[Symbol.dispose]();
    }
    e.emit(2);
    expect(got).toEqual([1]);
  });

  it('a listener that unsubscribes during emit does not skip the others', () => {
    const e = new EventEmitter<number>();
    const got: string[] = [];
    const off = e.event(() => {
      got.push('a');
      off();
    });
    e.event(() => got.push('b'));
    e.emit(1);
    e.emit(2);
    expect(got).toEqual(['a', 'b', 'b']);
  });

  it('a throwing listener is reported, not thrown, and the others still run', () => {
    const reported: [unknown, string][] = [];
    setListenerErrorHandler((err, name) => reported.push([err, name]));
    const e = new EventEmitter<number>('onOpen');
    const got: number[] = [];
    e.event(() => {
      throw new Error('boom');
    });
    e.event((n) => got.push(n));
    expect(() => e.emit(5)).not.toThrow();
    expect(got).toEqual([5]);
    expect(reported).toHaveLength(1);
    expect((reported[0]![0] as Error).message).toBe('boom');
    expect(reported[0]![1]).toBe('onOpen');
  });

  it('once resolves with the next emission and can be aborted', async () => {
    const e = new EventEmitter<number>();
    const next = e.once();
    e.emit(7);
    e.emit(8);
    await expect(next).resolves.toBe(7);
    expect(e.size).toBe(0);
    const c = new AbortController();
    const never = e.once(c.signal);
    c.abort(new Error('gone'));
    await expect(never).rejects.toThrow('gone');
    expect(e.size).toBe(0);
  });
});
