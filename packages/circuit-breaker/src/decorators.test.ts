import {
  AbortedError,
  createLogger,
  DecoratorTargetError,
  type DualMethodDecorator,
  InvalidOptionsError,
} from '@ballast/core';
import { FakeClock } from '@ballast/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { Bulkhead, CircuitBreaker, Fallback, Retry, Timeout } from './decorators';
import { BrokenCircuitError, isInvalidArgumentError, isPolicyClosedError, isShedError, isTimeoutError } from './errors';
import { BreakerRegistry, getBreakerRegistry, setBreakerRegistry } from './registry';

const silent = createLogger({ level: 'silent' });

// biome-ignore lint/suspicious/noExplicitAny: test helpers patch arbitrary classes
type AnyClass = { prototype: any; name: string };

/** Applies `decorator` to `Class.prototype[key]` the way `experimentalDecorators` output does. */
function applyLegacy(Class: AnyClass, key: string, decorator: DualMethodDecorator): void {
  const descriptor = Object.getOwnPropertyDescriptor(Class.prototype, key)!;
  Object.defineProperty(Class.prototype, key, decorator(Class.prototype, key, descriptor));
}

/**
 * Applies `decorator` to `Class.prototype[key]` the way TS 5 standard decorators do; returns a function to call
 * with each new instance (it runs the method initializers, as the compiled constructor would).
 */
function applyStandard(Class: AnyClass, key: string, decorator: DualMethodDecorator): (instance: object) => void {
  const initializers: ((this: unknown) => void)[] = [];
  const context = {
    kind: 'method',
    name: key,
    static: false,
    private: false,
    metadata: {},
    access: { has: (o: object) => key in o, get: (o: Record<string, unknown>) => o[key] },
    addInitializer: (f: (this: unknown) => void) => initializers.push(f),
  } as unknown as ClassMethodDecoratorContext<unknown, (...args: unknown[]) => unknown>;
  Class.prototype[key] = decorator(Class.prototype[key], context);
  return (instance) => {
    for (const f of initializers) f.call(instance);
  };
}

const previousRegistry = getBreakerRegistry();
afterEach(() => setBreakerRegistry(previousRegistry));

describe('@CircuitBreaker', () => {
  it('legacy: names the breaker Class.method by default, in the given registry', async () => {
    const registry = new BreakerRegistry({ logger: silent, metrics: false });
    class UserService {
      async getUser(id: string) {
        return { id };
      }
    }
    applyLegacy(UserService, 'getUser', CircuitBreaker({ registry }));
    expect(registry.names()).toEqual([]); // created lazily, on the first call
    await expect(new UserService().getUser('u1')).resolves.toEqual({ id: 'u1' });
    expect(registry.names()).toEqual(['UserService.getUser']);
    expect(registry.get('UserService.getUser').totals.success).toBe(1);
  });

  it('standard: names the breaker Class.method by default, learned from the instance', async () => {
    const registry = new BreakerRegistry({ logger: silent, metrics: false });
    class OrderService {
      async list() {
        return ['o1'];
      }
    }
    const init = applyStandard(OrderService, 'list', CircuitBreaker({ registry }));
    const service = new OrderService();
    init(service);
    await expect(service.list()).resolves.toEqual(['o1']);
    expect(registry.names()).toEqual(['OrderService.list']);
  });

  it('uses the process-wide registry, replaceable with setBreakerRegistry', async () => {
    const registry = new BreakerRegistry({ logger: silent, metrics: false });
    setBreakerRegistry(registry);
    class Billing {
      async charge() {
        return 'charged';
      }
    }
    applyLegacy(Billing, 'charge', CircuitBreaker());
    await new Billing().charge();
    expect(registry.names()).toEqual(['Billing.charge']);
  });

  it('takes a name (string or option) shared by every instance and every method naming it', async () => {
    const registry = new BreakerRegistry({ logger: silent, metrics: false });
    class Users {
      constructor(readonly down: boolean) {}
      async a() {
        if (this.down) throw new Error('down');
        return 'a';
      }
      async b() {
        return 'b';
      }
    }
    applyLegacy(Users, 'a', CircuitBreaker({ name: 'users', volumeThreshold: 2, timeoutMs: false, registry }));
    applyLegacy(Users, 'b', CircuitBreaker({ name: 'users', registry }));
    const broken = new Users(true);
    await expect(broken.a()).rejects.toThrow('down');
    await expect(broken.a()).rejects.toThrow('down');
    expect(registry.names()).toEqual(['users']);
    const breaker = registry.get('users');
    expect(breaker.state).toBe('open');
    // Another instance, another method: the same open breaker.
    await expect(new Users(false).b()).rejects.toBeInstanceOf(BrokenCircuitError);
    await expect(new Users(false).a()).rejects.toBeInstanceOf(BrokenCircuitError);
    expect(breaker.totals).toMatchObject({ failure: 2, rejected: 2 });
  });

  it('a string argument is the name', async () => {
    const registry = new BreakerRegistry({ logger: silent, metrics: false });
    setBreakerRegistry(registry);
    class Svc {
      async go() {
        return 1;
      }
    }
    applyLegacy(Svc, 'go', CircuitBreaker('payments'));
    await new Svc().go();
    expect(registry.names()).toEqual(['payments']);
  });
});

describe('@Retry, @Timeout, @Fallback, @Bulkhead', () => {
  it('@Retry retries the method with `this` and the arguments kept', async () => {
    class Flaky {
      calls = 0;
      constructor(readonly prefix: string) {}
      async get(id: string) {
        this.calls++;
        if (this.calls < 3) throw new Error(`try ${this.calls}`);
        return `${this.prefix}:${id}`;
      }
    }
    applyLegacy(Flaky, 'get', Retry({ maxRetries: 2, backoff: false }));
    const f = new Flaky('user');
    await expect(f.get('42')).resolves.toBe('user:42');
    expect(f.calls).toBe(3);
  });

  it('@Retry validates its options when decorating, not on the first call', () => {
    expect(() => Retry({ maxRetries: 1, maxAttempts: 2 })).toThrow(InvalidOptionsError);
  });

  it('@Timeout rejects with TimeoutError after the limit', async () => {
    const clock = new FakeClock();
    class Slow {
      wait() {
        return new Promise(() => {});
      }
    }
    applyLegacy(Slow, 'wait', Timeout({ timeoutMs: 50, clock }));
    const result = new Slow().wait().catch((e: unknown) => e);
    await clock.advance(50);
    expect(isTimeoutError(await result)).toBe(true);
  });

  it("takes a trailing AbortSignal argument as the caller's signal, handing the method the policy's in its place", async () => {
    const clock = new FakeClock();
    class Api {
      seen: [string, AbortSignal | undefined][] = [];
      fetch(id: string, signal?: AbortSignal) {
        this.seen.push([id, signal]);
        return new Promise(() => {});
      }
    }
    applyLegacy(Api, 'fetch', Timeout({ timeoutMs: 1_000, clock }));
    const api = new Api();
    const controller = new AbortController();
    const result = api.fetch('a', controller.signal).catch((e: unknown) => e);
    const [id, signal] = api.seen[0]!;
    expect(id).toBe('a');
    expect(signal).toBeInstanceOf(AbortSignal);
    expect(signal?.aborted).toBe(false);
    controller.abort('user left');
    expect(await result).toBeInstanceOf(AbortedError);
    expect(signal?.aborted).toBe(true); // the method's work is cancelled with the caller's reason
    expect(signal?.reason).toBe('user left');

    // And on timeout, which the caller's own signal could not tell it.
    const timedOut = api.fetch('b', new AbortController().signal).catch((e: unknown) => e);
    await clock.advance(1_000);
    expect(isTimeoutError(await timedOut)).toBe(true);
    expect(isTimeoutError(api.seen[1]![1]?.reason)).toBe(true);
  });

  it('@Fallback answers when the method fails, and names itself Class.method', async () => {
    class Profiles {
      async get(id: string): Promise<{ id: string; cached: boolean }> {
        throw new Error(`no ${id}`);
      }
    }
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({ destination: { write: (s: string) => lines.push(JSON.parse(s)) } });
    applyLegacy(
      Profiles,
      'get',
      Fallback((error) => ({ id: (error as Error).message, cached: true }), { logger }),
    );
    await expect(new Profiles().get('p1')).resolves.toEqual({ id: 'no p1', cached: true });
    expect(lines[0]?.msg).toBe('⚠️ Circuit breaker FALLBACK triggered for Profiles.get');
  });

  it('@Bulkhead(1) is one limit shared by every instance', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    class Exporter {
      async run() {
        await gate;
        return 'exported';
      }
    }
    applyLegacy(Exporter, 'run', Bulkhead(1));
    const first = new Exporter().run();
    const second = await new Exporter().run().catch((e: unknown) => e);
    expect(isShedError(second)).toBe(true);
    release();
    await expect(first).resolves.toBe('exported');
  });

  it('a decorated call whose policy cannot be made rejects (never throws synchronously)', async () => {
    const registry = new BreakerRegistry({ logger: silent, metrics: false });
    class Users {
      async list() {
        return [];
      }
    }
    applyLegacy(Users, 'list', CircuitBreaker({ registry }));
    await registry.close();
    const call = new Users().list();
    expect(call).toBeInstanceOf(Promise);
    expect(isPolicyClosedError(await call.catch((e: unknown) => e))).toBe(true);
  });

  it('refuses to decorate something that is not a method', () => {
    const decorator = Retry();
    expect(() =>
      decorator({}, 'field', undefined as unknown as TypedPropertyDescriptor<(...args: unknown[]) => unknown>),
    ).toThrow(DecoratorTargetError);
    expect(() =>
      (decorator as unknown as (v: unknown, c: unknown) => unknown)(undefined, {
        kind: 'field',
        name: 'x',
        static: false,
        addInitializer() {},
      }),
    ).toThrow(DecoratorTargetError);
  });
});

describe('passSignal: the policy signal as the last declared parameter', () => {
  /** A fresh class for each test (decorators patch its prototype). */
  const reportsClass = () =>
    class R {
      seen: (AbortSignal | undefined)[] = [];
      /** Never finishes by itself: only an abort of its signal ends it. */
      build(_id: string, signal?: AbortSignal): Promise<string> {
        this.seen.push(signal);
        return new Promise((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason)));
      }
    };

  it.each(['legacy', 'standard'] as const)(
    '%s: @Timeout aborts the work of a caller who passed no signal',
    async (mode) => {
      const clock = new FakeClock();
      const R = reportsClass();
      const decorator = Timeout({ timeoutMs: 200, clock, passSignal: true });
      if (mode === 'legacy') applyLegacy(R, 'build', decorator);
      else applyStandard(R, 'build', decorator);
      const reports = new R();
      const result = reports.build('r1').catch((e: unknown) => e);
      expect(reports.seen[0]?.aborted).toBe(false);
      await clock.advance(200);
      expect(isTimeoutError(await result)).toBe(true);
      expect(reports.seen[0]?.aborted).toBe(true);
      expect(isTimeoutError(reports.seen[0]?.reason)).toBe(true);
    },
  );

  it("honours the caller's signal given in that position", async () => {
    const R = reportsClass();
    applyLegacy(R, 'build', Timeout({ timeoutMs: 60_000, clock: new FakeClock(), passSignal: true }));
    const reports = new R();
    const controller = new AbortController();
    const result = reports.build('r1', controller.signal).catch((e: unknown) => e);
    expect(reports.seen[0]).not.toBe(controller.signal);
    controller.abort('user left');
    expect(await result).toBeInstanceOf(AbortedError);
    expect(reports.seen[0]?.reason).toBe('user left');
  });

  it('chains through stacked decorators: each retry gets a fresh signal, aborted by its own timeout', async () => {
    const clock = new FakeClock();
    const R = reportsClass();
    applyLegacy(R, 'build', Timeout({ timeoutMs: 100, clock, passSignal: true }));
    applyLegacy(R, 'build', Retry({ maxRetries: 1, backoff: false, passSignal: true }));
    const reports = new R();
    const result = reports.build('r1').catch((e: unknown) => e);
    await clock.advance(100);
    expect(reports.seen).toHaveLength(2);
    expect(reports.seen[0]?.aborted).toBe(true);
    expect(reports.seen[1]?.aborted).toBe(false);
    await clock.advance(100);
    expect(isTimeoutError(await result)).toBe(true);
    expect(reports.seen[1]?.aborted).toBe(true);
  });

  it('rejects a value in the signal position that is not a signal, without running the method', async () => {
    const R = reportsClass();
    applyLegacy(R, 'build', Bulkhead({ maxConcurrent: 1, passSignal: true }));
    const reports = new R();
    const error = await reports.build('r1', 'soon' as never).catch((e: unknown) => e);
    expect(isInvalidArgumentError(error)).toBe(true);
    expect((error as Error).message).toBe(
      'R.build: signal must be an AbortSignal or undefined, received string "soon"',
    );
    expect(reports.seen).toEqual([]);
  });

  it('is checked when decorating: a method with no parameter, a non-boolean', () => {
    class NoParams {
      run() {
        return 1;
      }
    }
    expect(() => applyLegacy(NoParams, 'run', Fallback(0, { passSignal: true }))).toThrow(DecoratorTargetError);
    expect(() => Retry({ passSignal: 'yes' as never })).toThrow(InvalidOptionsError);
    expect(() => Timeout({ timeoutMs: 1, passSignal: 1 as never })).toThrow(/passSignal: expected boolean/);
  });
});
