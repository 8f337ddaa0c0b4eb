// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these tests are about ${VAR} references in config text
import { describe, expect, it } from 'vitest';
import { isMissingEnvVarError, type MissingEnvVarError } from './errors';
import { interpolateString, interpolateTree } from './interpolate';

describe('interpolation', () => {
  const env = { REDIS_URL: 'redis://prod:6379', EMPTY: '' };

  it('replaces ${VAR} and ${VAR:-default} (seed 002 REDIS_URL)', () => {
    expect(interpolateString('${REDIS_URL:-redis://localhost:6379}', env, 'f')).toBe('redis://prod:6379');
    expect(interpolateString('${REDIS_URL:-redis://localhost:6379}', {}, 'f')).toBe('redis://localhost:6379');
    expect(interpolateString('${ENVIRONMENT:-development}', {}, 'f')).toBe('development');
    expect(interpolateString('url=${REDIS_URL}/0', env, 'f')).toBe('url=redis://prod:6379/0');
  });

  it('uses the default for a set but empty variable, as the shell does; an empty default is allowed', () => {
    expect(interpolateString('${EMPTY:-x}', env, 'f')).toBe('x');
    expect(interpolateString('a${NOPE:-}b', env, 'f')).toBe('ab');
    expect(interpolateString('${EMPTY}', env, 'f')).toBe('');
  });

  it('$$ is a literal $', () => {
    expect(interpolateString('cost: $$5 ${EMPTY:-ok}', env, 'f')).toBe('cost: $5 ok');
  });

  it('a missing ${VAR} without default throws naming the variable, the file and the key', () => {
    let error: unknown;
    try {
      interpolateTree({ db: { url: '${DB_URL}' } }, {}, 'config.yaml');
    } catch (e) {
      error = e;
    }
    expect(isMissingEnvVarError(error)).toBe(true);
    expect((error as MissingEnvVarError).variable).toBe('DB_URL');
    expect((error as MissingEnvVarError).message).toContain('DB_URL');
    expect((error as MissingEnvVarError).message).toContain('config.yaml: db.url');
  });

  it('interpolates strings inside lists and leaves keys, numbers and booleans alone', () => {
    expect(interpolateTree({ '${K}': ['${REDIS_URL}', 1, true] }, env, 'f')).toEqual({
      '${K}': ['redis://prod:6379', 1, true],
    });
  });
});
