/**
 * `config.set(path, value)` is typed by path: with a schema, the path must exist in it and the value must have
 * the type at that path (the schema's input type: what the remote stores before defaults and transforms);
 * with an untyped schema (`z.any()`, `z.unknown()`, a record) any path and value are taken. The
 * `@ts-expect-error` lines are checked by `tsc -p packages/config-center` (its tsconfig includes test/).
 */
import { createLogger } from '@ballast/core';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { type Config, createConfig, defaults, isConfigValidationError, memoryStore } from '../src';

const logger = createLogger({ level: 'silent' });
const schema = z.object({
  db: z.object({ host: z.string(), pool: z.object({ max: z.number().int().positive() }) }),
  features: z.record(z.string(), z.boolean()).default({}),
  service: z.object({ degraded_mode: z.boolean().default(false) }).default({ degraded_mode: false }),
  tags: z.array(z.string()).optional(),
});
const base = { db: { host: 'localhost', pool: { max: 10 } } };

describe('config.set typed by path (and get/watch on untyped configs)', () => {
  it('takes existing paths with values of their type, and writes them', async () => {
    const config = await createConfig({ schema, logger, sources: [defaults(base), memoryStore()] });
    try {
      await config.set('db.pool.max', 20);
      await config.set('db.host', 'db2');
      await config.set('db.pool', { max: 30 }); // a subtree replaces the subtree
      await config.set('features.beta', true); // a record takes any key
      await config.set('tags', ['a', 'b']);
      expect(config.get()).toMatchObject({ db: { host: 'db2', pool: { max: 30 } }, features: { beta: true } });
      expect(config.get('tags')).toEqual(['a', 'b']);

      expectTypeOf(config.get('db.pool.max')).toEqualTypeOf<number>();
      expectTypeOf(config.get('features.beta')).toEqualTypeOf<boolean>();
      expectTypeOf(config.set<'db.pool.max'>)
        .parameter(1)
        .toEqualTypeOf<number>();
      expectTypeOf(config.set<'db.pool'>)
        .parameter(1)
        .toEqualTypeOf<{ max: number }>();
      // `features` has a default, so it is optional in the input; `undefined` as a value removes the key.
      expectTypeOf(config.set<'features.beta'>)
        .parameter(1)
        .toEqualTypeOf<boolean | undefined>();
    } finally {
      await config.close();
    }
  });

  it('a wrong value type or an unknown path is a compile error (and the schema still guards at run time)', async () => {
    const config = await createConfig({ schema, logger, sources: [defaults(base), memoryStore()] });
    try {
      // @ts-expect-error db.pool.max is a number
      const wrong = await config.set('db.pool.max', 'many').catch((e: unknown) => e);
      expect(isConfigValidationError(wrong)).toBe(true);
      // @ts-expect-error no such path in the schema
      await config.set('db.pool.maxx', 20).catch(() => {});
      // @ts-expect-error a subtree must have the subtree's shape
      await config.set('db.pool', { max: '30' }).catch(() => {});
      // @ts-expect-error features.<name> is a boolean
      await config.set('features.beta', 'yes').catch(() => {});
      // @ts-expect-error a dynamic string is not a known path
      await config.set(String('db.pool.max'), 20).catch(() => {});
      // Types only: at run time a known path written through a cast is an ordinary write.
      expect(config.get('db.pool.max')).toBe(20);
    } finally {
      await config.close();
    }
  });

  it('an untyped config takes any path and value', async () => {
    for (const untyped of [z.any(), z.unknown(), z.record(z.string(), z.unknown())]) {
      const config = await createConfig({ schema: untyped, logger, sources: [memoryStore()] });
      try {
        await config.set('anything.at.all', 1);
        await config.set(String('dynamic'), { nested: true });
        expect(config.get()).toMatchObject({ anything: { at: { all: 1 } }, dynamic: { nested: true } });
        // get and watch take any path too (they used to take none: the path type was `never`).
        const value = config.get('anything.at.all');
        expectTypeOf(value).toBeUnknown();
        expect(value).toBe(1);
        config.watch('dynamic.nested', () => {})();
      } finally {
        await config.close();
      }
    }
    expectTypeOf<Config<z.ZodType>['set']>().parameter(0).toEqualTypeOf<string>();
    expectTypeOf<Parameters<Config<z.ZodAny>['set']>[1]>().toBeUnknown();
  });
});
