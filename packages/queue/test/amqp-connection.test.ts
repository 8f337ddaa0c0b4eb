/**
 * The reconnecting AMQP connection on the local RabbitMQ: callers waiting for a channel are served by the next
 * connection even when one is lost while being set up, and are rejected (not left hanging) by close().
 */
import { randomUUID } from 'node:crypto';
import { createLogger, systemClock } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { AmqpConnection } from '../src/backends/amqp-connection';

const URL = process.env.BALLAST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const logger = createLogger({ level: 'silent' });

/** Settles like `p`, or rejects after `ms`: a caller left waiting for ever fails the test with a message. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still waiting after ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

describe('AmqpConnection', () => {
  it('a connection lost during its setup still serves the callers already waiting for a channel', async () => {
    const queue = `test.amqp-connection.${randomUUID()}`;
    let setups = 0;
    const conn = new AmqpConnection({
      url: URL,
      clock: systemClock,
      logger,
      closedError: () => new Error('closed'),
      onReady: async (ch) => {
        // The next connection declares it (exclusive to that connection): the publish below has a queue to go to.
        if (++setups > 1) return void (await ch.assertQueue(queue, { exclusive: true }));
        // The broker refuses an inequivalent redeclaration by closing the channel: a loss mid-setup.
        await ch.assertQueue(queue, { exclusive: true });
        await ch.assertQueue(queue, { exclusive: true, arguments: { 'x-max-length': 1 } });
      },
    });
    try {
      const waiting = conn.channel();
      const publishing = conn.publish('', queue, Buffer.from('x'), { messageId: 'm1' }).catch((e) => e);
      const ch = await within(waiting, 10_000, 'channel()');
      expect(setups).toBe(2);
      expect(conn.generation).toBe(2);
      expect(conn.current).toBe(ch);
      // A publish that waited across the failed setup goes out on the new connection.
      expect(await within(publishing, 10_000, 'publish()')).toBeUndefined();
    } finally {
      await conn.close();
    }
  }, 20_000);

  it('close() rejects the callers still waiting for a first connection', async () => {
    // Nothing listens on port 1: the connection keeps backing off and retrying.
    const conn = new AmqpConnection({
      url: 'amqp://guest:guest@127.0.0.1:1',
      clock: systemClock,
      logger,
      closedError: () => new Error('the queue is closed'),
      publishAttempts: 1,
      onReady: async () => {},
    });
    const waiting = conn.channel();
    const publishing = conn.publish('', 'q', Buffer.from('x'), {});
    await conn.close();
    await expect(within(waiting, 5_000, 'channel()')).rejects.toThrow('the queue is closed');
    await expect(within(publishing, 5_000, 'publish()')).rejects.toThrow('the queue is closed');
  });
});
