import type { Message } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { decodeJob, encodeJob } from './rabbitmq';

const message = (content: Buffer, messageId = 'id-1') => ({ content, properties: { messageId } }) as unknown as Message;

describe('RabbitMQ job message body', () => {
  it('carries opts and data as they were serialised: the worker gets slices, nothing re-serialised', () => {
    const opts = '{"attempts":3,"trace":{"traceparent":"00-a-b-01"}}';
    const data = '{"text":"line 1\\nline 2","n":[1,2]}';
    const body = encodeJob('send\nmail "x"', 1_700_000_000_000, opts, data);
    expect(decodeJob(message(body))).toEqual({
      id: 'id-1',
      name: 'send\nmail "x"',
      createdAt: 1_700_000_000_000,
      opts,
      data,
    });
  });

  it('still reads the JSON envelope of earlier versions (messages queued before an upgrade)', () => {
    const old = Buffer.from('{"id":"j1","name":"n","createdAt":5,"opts":{"attempts":2},"data":{"a":1}}');
    expect(decodeJob(message(old, 'ignored'))).toEqual({
      id: 'j1',
      name: 'n',
      createdAt: 5,
      opts: '{"attempts":2}',
      data: '{"a":1}',
    });
  });
});
