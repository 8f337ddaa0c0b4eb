// What a user's log sees from @Fallback over @CircuitBreaker while a dependency is down: one short warning
// when falling back starts, one line when it ends, debug in between; no stack, no key twice.
import type { DualMethodDecorator } from '@ballast/core';
import { captureLogs, duplicateJsonKeys } from '@ballast/testkit';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker, Fallback } from './decorators';
import { BreakerRegistry } from './registry';

// biome-ignore lint/suspicious/noExplicitAny: the test patches a class it declares
function applyLegacy(Class: { prototype: any }, key: string, decorator: DualMethodDecorator): void {
  const descriptor = Object.getOwnPropertyDescriptor(Class.prototype, key)!;
  Object.defineProperty(Class.prototype, key, decorator(Class.prototype, key, descriptor));
}

describe('@Fallback logging', () => {
  it('warns once per state change, not per fallback or open-circuit rejection', async () => {
    const logs = captureLogs({ name: 'ballast' });
    let up = false;
    class Users {
      async list(): Promise<string[]> {
        if (!up) throw new Error('connect ECONNREFUSED 10.0.0.7:8080');
        return ['ann'];
      }
    }
    const registry = new BreakerRegistry();
    applyLegacy(
      Users,
      'list',
      CircuitBreaker({ name: 'users', volumeThreshold: 2, timeoutMs: false, registry, logger: logs.logger }),
    );
    applyLegacy(Users, 'list', Fallback<string[]>([], { logger: logs.logger }));
    const users = new Users();

    for (let i = 0; i < 50; i++) expect(await users.list()).toEqual([]); // failures, then open-circuit rejections
    const fallbackWarns = () => logs.atLeast(40).filter((l) => String(l.msg).includes('FALLBACK'));
    expect(fallbackWarns()).toHaveLength(1);
    expect(fallbackWarns()[0]).toMatchObject({ fallback: 'Users.list', reason: 'connect ECONNREFUSED 10.0.0.7:8080' });
    expect(fallbackWarns()[0]!.raw.length).toBeLessThan(400);
    expect(fallbackWarns()[0]!.raw).not.toContain('stack');
    expect(logs.lines.filter((l) => l.level === 20 && String(l.msg).startsWith('fallback answered'))).toHaveLength(49);

    up = true;
    registry.get('users').forceClose();
    expect(await users.list()).toEqual(['ann']);
    expect(logs.lines.filter((l) => l.msg === 'Circuit breaker FALLBACK no longer needed for Users.list')).toHaveLength(
      1,
    );
    up = false;
    await users.list();
    expect(fallbackWarns()).toHaveLength(2); // a new outage: a new warning

    for (const line of logs.lines) expect(duplicateJsonKeys(line.raw), line.raw).toEqual([]);
    registry.close();
  });

  it('duplicateJsonKeys finds a key written twice', () => {
    expect(duplicateJsonKeys('{"name":"ballast","a":{"name":"x"},"name":"y"}')).toEqual(['name']);
    expect(duplicateJsonKeys('{"a":"{\\"b\\":1,\\"b\\":2}","c":[{"d":1},{"d":2}]}')).toEqual([]);
  });
});
