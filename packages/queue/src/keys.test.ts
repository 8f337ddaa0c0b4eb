import { describe, expect, it } from 'vitest';
import { queueKeys } from './keys';

describe('queue keys: core’s one prefix rule', () => {
  it("prefix 'x' and 'x:' both give x:queue:{name}:… (never 'x::')", () => {
    for (const prefix of ['x', 'x:']) {
      const k = queueKeys('emails', prefix);
      expect(k.wait).toBe('x:queue:{emails}:wait');
      expect(k.job).toBe('x:queue:{emails}:job:');
      expect(k.all.every((key) => key.startsWith('x:queue:{emails}:'))).toBe(true);
    }
    expect(queueKeys('emails').wait).toBe('ballast:queue:{emails}:wait');
  });
});
