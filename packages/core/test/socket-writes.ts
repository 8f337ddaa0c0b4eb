import type { Redis } from 'ioredis';

/**
 * Counts the socket writes a connected client's stream makes: one per `_write`, one per `_writev` (a corked
 * batch). What `coalesceWrites` saves is writes, not commands, so its tests count these.
 */
export function countSocketWrites(r: Redis): { writes: number } {
  const counter = { writes: 0 };
  const stream = r.stream as unknown as { _write: (...a: unknown[]) => void; _writev?: (...a: unknown[]) => void };
  const write = stream._write.bind(stream);
  const writev = stream._writev?.bind(stream);
  stream._write = (...a) => {
    counter.writes++;
    write(...a);
  };
  if (writev)
    stream._writev = (...a) => {
      counter.writes++;
      writev(...a);
    };
  return counter;
}
