import { isCluster, type Redis, type RedisClient } from '@ballast/core';

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

  constructor(redis: RedisClient) {
    this.#redis = redis;
  }

  for(consumer: string): BlockingConnection {
    let b = this.#byConsumer.get(consumer);
    if (!b) {
      const conn = this.#redis.duplicate() as Redis;
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

  async #unblock(b: BlockingConnection): Promise<void> {
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
