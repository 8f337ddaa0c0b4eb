import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { childLogger, createLogger, redactUrl } from './logger';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      cb();
    },
  });
  return { lines, stream };
}

describe('logger', () => {
  it('redacts passwords, tokens and authorization headers at any usual depth', () => {
    const { lines, stream } = capture();
    const log = createLogger({ name: 'test', destination: stream, level: 'info' });
    log.info(
      {
        password: 'p1',
        token: 't1',
        user: { name: 'ann', password: 'p2', accessToken: 'a2' },
        req: { headers: { authorization: 'Bearer abc', 'x-api-key': 'k', accept: 'json' } },
        headers: { Authorization: 'Basic xyz', cookie: 'sid=1' },
        conn: { redis: { password: 'p3' } },
      },
      'hello',
    );
    const line = lines[0]!;
    const text = JSON.stringify(line);
    for (const secret of ['p1', 't1', 'p2', 'a2', 'Bearer abc', 'Basic xyz', 'sid=1', 'p3', '"k"']) {
      expect(text).not.toContain(secret);
    }
    expect(line.msg).toBe('hello');
    expect((line.user as { name: string }).name).toBe('ann');
    expect((line.req as { headers: { accept: string } }).headers.accept).toBe('json');
    expect((line.user as { password: string }).password).toBe('[REDACTED]');
  });

  it('accepts extra redact paths and keeps child bindings', () => {
    const { lines, stream } = capture();
    const log = createLogger({ destination: stream, redact: ['card.number'] });
    childLogger(log, { component: 'breaker' }).warn({ card: { number: '4111', brand: 'visa' } }, 'x');
    expect(lines[0]).toMatchObject({ component: 'breaker', card: { number: '[REDACTED]', brand: 'visa' } });
  });

  it('redactUrl hides the password of a connection URL', () => {
    expect(redactUrl('redis://app:s3cret@h:6379/0')).toBe('redis://app:***@h:6379/0');
    expect(redactUrl('amqp://tokenonly@h')).toBe('amqp://***@h');
    expect(redactUrl('redis://h:6379')).toBe('redis://h:6379');
  });

  it('redacts secret keys at any depth and passwords inside URLs under any key, without touching the input', () => {
    const { lines, stream } = capture();
    const input = {
      a: { b: { c: { d: { Password: 'deep-pw', keep: 'visible' } } } },
      url: 'redis://app:hunter2@127.0.0.1:6379/0',
      list: ['amqp://guest:guest-pw@localhost:5672', { nested: 'see rediss://u:tls-pw@h:6380' }],
      plain: 'no credentials here@all',
    };
    const before = JSON.stringify(input);
    createLogger({ destination: stream }).info(input, 'deep');
    const text = JSON.stringify(lines[0]);
    for (const secret of ['deep-pw', 'hunter2', 'guest-pw', 'tls-pw']) expect(text).not.toContain(secret);
    expect(text).toContain('redis://app:***@127.0.0.1:6379/0');
    expect(text).toContain('amqp://guest:***@localhost:5672');
    expect(text).toContain('visible');
    expect(text).toContain('no credentials here@all');
    expect(JSON.stringify(input)).toBe(before);
  });
});
