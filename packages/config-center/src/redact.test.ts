import { describe, expect, it } from 'vitest';
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
