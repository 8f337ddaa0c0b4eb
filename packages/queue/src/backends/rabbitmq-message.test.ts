import type { Message } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { prepareJob } from '../job';
import { decodeJob, defaultJobOpts, encodeJob } from './rabbitmq';

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

  it('leaves options equal to the package defaults out of the body, and reads them back as they were', () => {
    const plain = prepareJob('n', { a: 1 }, undefined, undefined, 1_000);
    expect(plain.opts).toBe(defaultJobOpts());
    const body = encodeJob('n', 7, plain.opts, plain.data);
    expect(body.toString()).toBe('7\n"n"\n\n{"a":1}');
    expect(decodeJob(message(body)).opts).toBe(plain.opts);
    // Anything else (an option set, a trace) travels in full.
    const own = prepareJob('n', 1, { attempts: 5 }, undefined, 1_000);
    expect(decodeJob(message(encodeJob('n', 7, own.opts, own.data))).opts).toBe(own.opts);
    expect(JSON.parse(own.opts)).toMatchObject({ attempts: 5 });
  });

  it('reads a name with escapes and one without alike', () => {
    for (const name of ['plain', 'quo"te', 'back\\slash', 'tab\there', 'ünï']) {
      expect(decodeJob(message(encodeJob(name, 1, '{}', 'null'))).name).toBe(name);
    }
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
