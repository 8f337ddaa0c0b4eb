/**
 * Bad input, property-based: every public factory of circuit-breaker, event-bus and lock, given arbitrary junk
 * options, either builds (the junk happened to be valid) or throws a typed BallastError (InvalidOptionsError
 * naming the field) — never a TypeError, RangeError or a crash.
 */
import {
  BreakerRegistry,
  breakerOptionsSchema,
  bulkhead,
  circuitBreaker,
  createHttpClient,
  fallback,
  httpClientOptionsSchema,
  rateLimit,
  rateLimitOptionsSchema,
  redisFleet,
  redisRateLimit,
  retry,
  retryBudget,
  timeout,
} from '@ballast/circuit-breaker';
import { isBallastError, isInvalidOptionsError } from '@ballast/core';
import { createEventBus, OnEvent, subscribeOptionsSchema } from '@ballast/event-bus';
import { createLockManager, managerOptionsSchema, RedlockBackend, redlockOptionsSchema, WithLock } from '@ballast/lock';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { junkOptions, junkValue, RUNS, typedOrBuilt } from './fuzz-helpers';

const keysOf = (schema: unknown): string[] => {
  const s = schema as { shape?: Record<string, unknown>; def?: { in?: unknown; schema?: unknown } };
  return Object.keys(s.shape ?? {});
};

const dispose = (v: unknown) => {
  const o = v as { dispose?: () => void; close?: () => unknown };
  if (typeof o?.dispose === 'function') return o.dispose();
  if (typeof o?.close === 'function') return o.close();
};

describe('circuit-breaker factories under junk options', () => {
  const cases: [string, readonly string[], (o: unknown) => unknown][] = [
    ['circuitBreaker', keysOf(breakerOptionsSchema), (o) => circuitBreaker(o as never)],
    ['BreakerRegistry', keysOf(breakerOptionsSchema), (o) => new BreakerRegistry(o as never).get('x')],
    ['bulkhead', ['maxConcurrent', 'maxQueue', 'queueTimeoutMs'], (o) => bulkhead(o as never)],
    ['timeout', ['timeoutMs', 'strategy', 'clock'], (o) => timeout(o as never)],
    ['retry', ['maxRetries', 'maxAttempts', 'backoff', 'retryOn', 'budget', 'clock'], (o) => retry(o as never)],
    ['retryBudget', ['ratio', 'minRetriesPerSecond', 'windowMs', 'clock'], (o) => retryBudget(o as never)],
    ['redisFleet', ['redis', 'subscriber', 'prefix', 'logger'], (o) => redisFleet(o as never)],
    ['rateLimit', keysOf(rateLimitOptionsSchema), (o) => rateLimit(o as never)],
    ['redisRateLimit', ['redis', 'key', 'limit', 'periodMs', 'burst', 'prefix'], (o) => redisRateLimit(o as never)],
    ['fallback', ['on', 'name', 'logger'], (o) => fallback('x', o as never)],
    ['createHttpClient', keysOf(httpClientOptionsSchema), (o) => createHttpClient(o as never)],
  ];
  for (const [name, keys, make] of cases) {
    it(`${name}: builds or throws a typed error`, async () => {
      await fc.assert(
        fc.asyncProperty(junkOptions(keys), (o) => typedOrBuilt(() => make(o), dispose)),
        RUNS,
      );
    });
  }
});

describe('event-bus factories under junk options', () => {
  const events = { 'fuzz.e': z.object({ n: z.number() }) };
  it('createEventBus: builds or throws a typed error', async () => {
    const keys = [
      'transport',
      'redis',
      'prefix',
      'source',
      'events',
      'maxLenAll',
      'validateOnPublish',
      'clock',
      'logger',
      'newId',
    ];
    await fc.assert(
      fc.asyncProperty(junkOptions(keys, { source: 's', events }), (o) =>
        typedOrBuilt(() => createEventBus(o as never), dispose),
      ),
      RUNS,
    );
  });

  it('subscribe: junk subscription options are rejected before anything starts', async () => {
    const bus = createEventBus({ source: 's', events });
    await fc.assert(
      fc.asyncProperty(junkOptions(keysOf(subscribeOptionsSchema)), (o) =>
        typedOrBuilt(
          () => bus.subscribe('fuzz.e', () => {}, o as never),
          (sub) => (sub as { close(): Promise<void> }).close(),
        ),
      ),
      RUNS,
    );
    await bus.close();
  });

  it('OnEvent: junk decorator options are a typed error at decoration time or accepted', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), junkValue), junkOptions(keysOf(subscribeOptionsSchema)), (type, o) =>
        typedOrBuilt(() => OnEvent(type as never, o as never)),
      ),
      RUNS,
    );
  });
});

describe('lock factories under junk options', () => {
  it('createLockManager: builds or throws a typed error', async () => {
    await fc.assert(
      fc.asyncProperty(junkOptions(keysOf(managerOptionsSchema)), (o) =>
        typedOrBuilt(() => createLockManager(o as never), dispose),
      ),
      RUNS,
    );
  });

  it('RedlockBackend: builds or throws a typed error', async () => {
    await fc.assert(
      fc.asyncProperty(junkOptions(keysOf(redlockOptionsSchema)), (o) =>
        typedOrBuilt(() => new RedlockBackend(o as never), dispose),
      ),
      RUNS,
    );
  });

  it('acquire: junk keys and options are a typed error, never a crash', async () => {
    const locks = createLockManager({ ttlMs: 1_000 });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.string({ minLength: 1 }), junkValue),
        junkOptions(['ttlMs', 'waitMs', 'mode', 'signal', 'owner', 'autoExtend'], { waitMs: 0 }),
        (key, o) =>
          typedOrBuilt(
            () => locks.acquire(key as never, o as never),
            (lease) => (lease as { release(): Promise<void> }).release(),
          ),
      ),
      RUNS,
    );
    await locks.close();
  });

  it('WithLock: junk keys and options are a typed error or accepted', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.string(), junkValue),
        junkOptions(['ttlMs', 'waitMs', 'mode', 'manager']),
        (key, o) => typedOrBuilt(() => WithLock(key as never, o as never)),
      ),
      RUNS,
    );
  });
});

/**
 * Gaps the properties above once found (each threw an untyped TypeError), fixed in the packages: kept as
 * named regressions so each stays a typed error.
 */
describe('fixed gaps stay fixed', () => {
  const typed = (fn: () => unknown) => {
    try {
      fn();
    } catch (error) {
      return isInvalidOptionsError(error) || isBallastError(error);
    }
    return false;
  };
  it('retry(null): options are checked before options.backoff is read', () => {
    expect(typed(() => retry(null as never))).toBe(true);
  });
  it('retryBudget({ clock: {} }): a clock must have the Clock methods', () => {
    expect(typed(() => retryBudget({ clock: {} as never }))).toBe(true);
  });
  it("fallback('x', null): options are validated", () => {
    expect(typed(() => fallback('x', null as never))).toBe(true);
  });
  it('redisFleet({}): options are validated (redis is required)', () => {
    expect(typed(() => redisFleet({} as never))).toBe(true);
  });
  it("WithLock('k', null): options are checked before they are destructured", () => {
    expect(typed(() => WithLock('k', null as never))).toBe(true);
  });
});
