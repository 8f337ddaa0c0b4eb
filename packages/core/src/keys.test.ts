import { describe, expect, it } from 'vitest';
import { createKeyBuilder, hashSlot, hashTag, InvalidKeyError, keyPrefix, prefixKey } from './keys';

describe('keys', () => {
  it('builds prefixed keys with the entity in a hash tag', () => {
    const k = createKeyBuilder({ scope: 'queue', tag: 'emails' });
    expect(k.base).toBe('ballast:queue:{emails}');
    expect(k.key('wait')).toBe('ballast:queue:{emails}:wait');
    expect(k.key('job', 42)).toBe('ballast:queue:{emails}:job:42');
    expect(createKeyBuilder({ prefix: 't1', scope: 'lock', tag: 'a' }).key()).toBe('t1:lock:{a}');
  });

  it('one prefix rule: exactly one ":" between a prefix and the key, whether or not the prefix ends in ":"', () => {
    expect(keyPrefix('myapp')).toBe('myapp:');
    expect(keyPrefix('myapp:')).toBe('myapp:');
    expect(keyPrefix('')).toBe('');
    expect(prefixKey('x', 'events:all')).toBe('x:events:all');
    expect(prefixKey('x:', 'events:all')).toBe('x:events:all');
    expect(prefixKey('', 'events:all')).toBe('events:all');
    // The key builder follows the same rule: a trailing ':' is the separator, not an extra empty segment.
    expect(createKeyBuilder({ prefix: 'x:', scope: 'lock', tag: 'a' }).key('owners')).toBe('x:lock:{a}:owners');
    expect(createKeyBuilder({ prefix: 'x', scope: 'lock', tag: 'a' }).key('owners')).toBe('x:lock:{a}:owners');
    expect(() => keyPrefix('a{b}')).toThrow(InvalidKeyError);
    expect(() => createKeyBuilder({ prefix: 'a{b', scope: 'lock', tag: 'a' })).toThrow(/must not contain/);
    expect(() => createKeyBuilder({ prefix: '', scope: 'lock', tag: 'a' })).toThrow(/prefix must not be empty/);
  });

  it('every key of one entity hashes to the same Cluster slot; other entities spread', () => {
    const k = createKeyBuilder({ scope: 'queue', tag: 'emails' });
    const slot = hashSlot(k.key('wait'));
    for (const part of ['active', 'delayed', 'dlq', 'job:1', 'job:999999']) expect(hashSlot(k.key(part))).toBe(slot);
    const slots = new Set(
      Array.from({ length: 50 }, (_, i) => hashSlot(createKeyBuilder({ scope: 'q', tag: `t${i}` }).key('x'))),
    );
    expect(slots.size).toBeGreaterThan(40);
  });

  it('hashSlot matches Redis for known keys (CLUSTER KEYSLOT)', () => {
    // Values from the Redis Cluster specification and `CLUSTER KEYSLOT`.
    expect(hashSlot('123456789')).toBe(12739);
    expect(hashSlot('foo')).toBe(12182);
    expect(hashSlot('{user1000}.following')).toBe(hashSlot('user1000'));
    expect(hashSlot('foo{}{bar}')).toBe(hashSlot('foo{}{bar}')); // empty first tag: whole key hashes
    expect(hashSlot('foo{}{bar}')).not.toBe(hashSlot('bar'));
    expect(hashSlot('foo{{bar}}zap')).toBe(hashSlot('{bar'));
  });

  it('rejects tags Redis would mishandle', () => {
    expect(() => hashTag('')).toThrow(InvalidKeyError);
    expect(() => hashTag('a}b')).toThrow(/must not contain/);
    expect(() => createKeyBuilder({ scope: 'q{x', tag: 'a' })).toThrow(InvalidKeyError);
    expect(() => createKeyBuilder({ scope: '', tag: 'a' })).toThrow(/scope must not be empty/);
  });
});
