import { describe, expect, it } from 'vitest';
import { changesChannel, serviceKeys } from './keys';

describe('discovery keys: core’s one prefix rule', () => {
  it("prefix 'x' and 'x:' both give x:discovery:… (never 'x::'), the changes channel included", () => {
    for (const prefix of ['x', 'x:']) {
      const k = serviceKeys(prefix, 'users');
      expect([k.instances, k.index]).toEqual(['x:discovery:{users}:instances', 'x:discovery:{users}:index']);
      expect(changesChannel(prefix)).toBe('x:discovery:changes');
    }
  });
});
