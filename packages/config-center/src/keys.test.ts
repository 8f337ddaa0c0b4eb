import { describe, expect, it } from 'vitest';
import { configKeys } from './keys';

describe('config-center keys: core’s one prefix rule', () => {
  it("prefix 'x' and 'x:' both give x:config:{name}:… (never 'x::')", () => {
    for (const prefix of ['x', 'x:']) {
      expect(configKeys(prefix, 'user-service')).toEqual({
        live: 'x:config:{user-service}:live',
        version: 'x:config:{user-service}:version',
        versions: 'x:config:{user-service}:versions',
        changed: 'x:config:{user-service}:changed',
      });
    }
  });
});
