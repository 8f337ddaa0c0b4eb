// RabbitMQ unreachable: add() fails with core's BackendUnavailableError within commandTimeoutMs (it waited
// for a channel forever), and the reconnect loop warns once, not once per attempt.
import { createServer } from 'node:net';
import { isBackendUnavailableError } from '@ballast/core';
import { captureLogs } from '@ballast/testkit';
import { describe, expect, it } from 'vitest';
import { createQueue } from '../src/queue';

/** A port with nothing listening: every connection attempt is refused. */
function deadPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

describe('queue on RabbitMQ, broker unreachable', () => {
  it('add() fails typed within commandTimeoutMs; the reconnect loop warns once', async () => {
    const logs = captureLogs();
    const queue = createQueue('rabbit-outage', {
      backend: 'rabbitmq',
      url: `amqp://guest:guest@127.0.0.1:${await deadPort()}`,
      commandTimeoutMs: 400,
      logger: logs.logger,
    });
    const t = performance.now();
    const error = await queue.add('t', { n: 1 }).catch((e: unknown) => e);
    const took = Math.round(performance.now() - t);
    expect(isBackendUnavailableError(error)).toBe(true);
    expect(error).toMatchObject({ backend: 'rabbitmq', operation: 'publish' });
    expect(took).toBeLessThan(1_500);
    await logs.waitFor((l) => l.level === 20 && l.msg === 'amqp connection failed; reconnecting');
    expect(logs.atLeast(40).filter((l) => l.msg === 'amqp connection failed; reconnecting')).toHaveLength(1);
    await queue.close();
    console.info(`[queue/rabbitmq outage] add → typed error in ${took} ms (commandTimeoutMs 400)`);
  });
});
