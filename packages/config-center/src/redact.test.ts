import { describe, expect, it } from 'vitest';
import { diffEntries } from './diff';
import { isSecretKey, REDACTED, redactEntries } from './redact';

describe('redactEntries', () => {
  it('hides values whose last key segment names a secret, in dotted and slash paths', () => {
    expect(
      redactEntries({ 'db.password': 'p', 'stripe/apiKey': 'k', 'db.host': 'h', 'auth.tokenTtlMs': 5, token: 't' }),
    ).toEqual({
      'db.password': REDACTED,
      'stripe/apiKey': REDACTED,
      'db.host': 'h',
      'auth.tokenTtlMs': 5,
      token: REDACTED,
    });
  });
  it('names secrets by the last segment only', () => {
    expect(isSecretKey('secret.host')).toBe(false);
    expect(isSecretKey('oauth.client_credentials')).toBe(true);
    expect(isSecretKey('tls.private-key')).toBe(true);
  });
});

describe('diffEntries', () => {
  it('lists added, removed and changed keys in key order', () => {
    expect(diffEntries({ a: 1, b: { x: 1 }, c: 3 }, { b: { x: 2 }, c: 3, d: 4 })).toEqual([
      { key: 'a', change: 'removed', from: 1 },
      { key: 'b', change: 'changed', from: { x: 1 }, to: { x: 2 } },
      { key: 'd', change: 'added', to: 4 },
    ]);
  });
});
