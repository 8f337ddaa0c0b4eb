/** The env layer is typed by the schema (issue 22 §2): strings stay strings, errors name the variable. */
import { createLogger } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createConfig, defaults, env, isConfigValidationError } from '../src';

const silent = createLogger({ level: 'silent' });
const schema = z.object({
  api: z.object({ key: z.string(), timeoutMs: z.number().int().default(1_000), retry: z.boolean().default(false) }),
  tags: z.array(z.string()).default([]),
});

describe('env layer coerced by the schema', () => {
  it('APP_API__KEY=12345678 for a string field stays a string; numbers, booleans and JSON arrays are typed', async () => {
    const config = await createConfig({
      schema,
      logger: silent,
      env: { APP_API__KEY: '12345678', APP_API__TIMEOUT_MS: '250', APP_API__RETRY: 'true', APP_TAGS: '["a","b"]' },
      sources: [defaults({ api: { key: 'dev' } }), env({ prefix: 'APP_' })],
    });
    try {
      expect(config.get()).toEqual({ api: { key: '12345678', timeoutMs: 250, retry: true }, tags: ['a', 'b'] });
      expect(typeof config.get('api.key')).toBe('string');
    } finally {
      await config.close();
    }
  });

  it('a value the schema refuses names the environment variable', async () => {
    const error = await createConfig({
      schema,
      logger: silent,
      env: { APP_API__TIMEOUT_MS: 'soon' },
      sources: [defaults({ api: { key: 'k' } }), env({ prefix: 'APP_' })],
    }).catch((e: unknown) => e);
    expect(isConfigValidationError(error)).toBe(true);
    expect((error as Error).message).toContain('api.timeoutMs');
    expect((error as Error).message).toContain('APP_API__TIMEOUT_MS');
  });
});
