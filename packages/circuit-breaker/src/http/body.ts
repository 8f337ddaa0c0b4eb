import { AbortedError, type Clock } from '@ballast/core';
import { TimeoutError } from '../errors';

const noop = () => {};

/** A value `fetch` takes as a body as it is (anything else the JSON helpers serialise). */
export function isBodyInit(body: unknown): body is BodyInit {
  return (
    typeof body === 'string' ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body) ||
    body instanceof Blob ||
    body instanceof FormData ||
    body instanceof URLSearchParams ||
    body instanceof ReadableStream
  );
}

export interface ReadOptions {
  signal: AbortSignal | undefined;
  clock: Clock;
  timeoutMs: number;
  what: string;
}

/**
 * The body as text, at most `limit` characters (the rest is cancelled, not downloaded). Bounded by
 * `timeoutMs` and the caller's signal, like the try that produced the response.
 */
export async function readText(response: Response, limit: number, o: ReadOptions): Promise<string> {
  const body = response.body;
  if (!body) return '';
  if (o.signal?.aborted) {
    body.cancel().catch(noop);
    throw new AbortedError(undefined, { cause: o.signal.reason });
  }
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let failure: unknown;
  const stop = (reason: unknown) => {
    if (failure !== undefined) return;
    failure = reason;
    reader.cancel(reason).catch(noop);
  };
  const onAbort = () => stop(new AbortedError(undefined, { cause: o.signal?.reason }));
  o.signal?.addEventListener('abort', onAbort, { once: true });
  const timer = o.clock.setTimeout(() => stop(new TimeoutError(o.timeoutMs, o.what)), o.timeoutMs);
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        throw failure ?? error;
      }
      if (failure !== undefined) throw failure;
      if (chunk.done) break;
      text += decoder.decode(chunk.value, { stream: true });
      if (text.length >= limit) {
        reader.cancel().catch(noop);
        return text;
      }
    }
    return text + decoder.decode();
  } finally {
    o.clock.clearTimeout(timer);
    o.signal?.removeEventListener('abort', onAbort);
  }
}
