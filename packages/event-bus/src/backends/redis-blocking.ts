import { duplicateClient, isCluster, type Logger, type Redis, type RedisClient, watchConnection } from '@ballast/core';

/** A consumer's blocking connection, with its CLIENT ID for CLIENT UNBLOCK on abort. */
export interface BlockingConnection {
  conn: Redis;
  id: Promise<number>;
}

/**
 * Blocking XREADGROUPs hold their connection for up to BLOCK ms, so each consumer reads on its own connection,
 * duplicated from the command client and closed by `close()`.
 */
export class BlockingConnections {
  readonly #redis: RedisClient;
  readonly #byConsumer = new Map<string, BlockingConnection>();
  readonly #log: Logger | undefined;
  /** One outage state for every blocking connection: a replaced connection does not report the outage again. */
  readonly #state = { down: false };

  constructor(redis: RedisClient, logger?: Logger) {
    this.#redis = redis;
    this.#log = logger;
  }

  for(consumer: string): BlockingConnection {
    let b = this.#byConsumer.get(consumer);
    if (!b) {
      const conn = duplicateClient(this.#redis) as Redis;
      // Ours: its 'error' events (Redis down) go to the logger, once per state change, never unhandled.
      if (this.#log) {
        const watch = { logger: this.#log, backend: 'redis', connection: 'blocking reads', state: this.#state };
        watchConnection(conn, watch);
      } else conn.on('error', () => {});
      // On a Cluster the id would come from an arbitrary node and is not used (see abort).
      b = { conn, id: isCluster(this.#redis) ? Promise.resolve(0) : (conn.client('ID') as Promise<number>) };
      b.id.catch(() => {});
      this.#byConsumer.set(consumer, b);
    }
    return b;
  }

  /**
   * Ends a blocked read early. On one node: `CLIENT UNBLOCK` with the blocking connection's id. On a Cluster
   * the blocked XREADGROUP runs on the node owning the stream's slot while keyless commands (`CLIENT ID`,
   * `CLIENT UNBLOCK`) go to any node, and client ids are per node: so there the blocking connection is closed
   * instead (the read resolves `[]`) and a fresh one is made for the consumer's next read. Aborts are rare
   * (unsubscribe, shutdown), so the reconnection costs nothing on the hot path.
   */
  abort(consumer: string, b: BlockingConnection): Promise<void> {
    if (!isCluster(this.#redis)) return this.#unblock(b);
    if (this.#byConsumer.get(consumer) === b) this.#byConsumer.delete(consumer);
    b.conn.disconnect();
    return Promise.resolve();
  }

  /**
   * Drops a consumer's blocking connection after a read failed with Redis unreachable: reads it still has
   * queued would otherwise run once Redis is back and take entries no caller waits for any more (left
   * pending until another consumer claims them). The next read makes a fresh connection.
   */
  discard(consumer: string, b: BlockingConnection): void {
    if (this.#byConsumer.get(consumer) === b) this.#byConsumer.delete(consumer);
    b.conn.disconnect();
  }

  async #unblock(b: BlockingConnection): Promise<void> {
    // Redis unreachable: nothing to unblock, and waiting for the command would only hold up close().
    if ((this.#redis as Redis).status !== 'ready') return;
    try {
      await this.#redis.client('UNBLOCK', await b.id);
    } catch {
      // The connection is gone or the read already returned: nothing to unblock.
    }
  }

  /** Unblocks (one node) and disconnects every blocking connection. */
  async close(): Promise<void> {
    const all = [...this.#byConsumer.values()];
    this.#byConsumer.clear();
    if (!isCluster(this.#redis)) await Promise.all(all.map((b) => this.#unblock(b)));
    for (const b of all) b.conn.disconnect();
  }
}
