/**
 * Where a count-down latch's count lives (Redisson's `RCountDownLatch`): a latch is open when its count is 0,
 * counting otherwise. `MemoryLatchBackend` (one process) and `RedisLatchBackend` (Lua + pub/sub) implement it.
 */
export interface LatchBackend {
  /** Names the backend in `BackendUnavailableError`s. */
  readonly kind: string;
  /** Sets the count when the latch is open; false when it is counting already. `ttlMs` > 0 bounds the latch's life. */
  trySetCount(name: string, count: number, ttlMs: number): Promise<boolean>;
  /** Counts down by one; returns what is left (0: open; at 0 waiters are woken). */
  countDown(name: string): Promise<number>;
  getCount(name: string): Promise<number>;
  /** Calls `listener` when the latch opens; `ready` resolves once that is live. */
  onOpen(name: string, listener: () => void): { off: () => void; ready?: Promise<void> };
  close(): Promise<void>;
}
