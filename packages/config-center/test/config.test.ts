// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these tests are about ${VAR} references in config text
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger, isAbortedError } from '@ballast/core';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import {
  type Config,
  type ConfigParseError,
  createConfig,
  defaults,
  env,
  file,
  isConfigParseError,
  isConfigValidationError,
  isMissingEnvVarError,
  isNoRemoteSourceError,
  MemoryConfigStore,
  memoryStore,
} from '../src';

const schema = z.object({
  app: z.object({ name: z.string(), port: z.number().int() }),
  db: z.object({
    url: z.string(),
    pool: z.object({ min: z.number().int().min(0), max: z.number().int().positive() }),
  }),
  redis: z.object({ url: z.string() }),
  tags: z.array(z.string()).default([]),
});

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ballast-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let fileN = 0;
async function writeTemp(ext: string, text: string): Promise<string> {
  const path = join(dir, `c${fileN++}.${ext}`);
  await writeFile(path, text, 'utf8');
  return path;
}

/** A logger whose lines the test reads back. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: createLogger({ level: 'debug', destination }), lines };
}

const base = {
  app: { name: 'user-service', port: 8000 },
  db: { url: 'postgres://localhost/app', pool: { min: 1, max: 10 } },
  redis: { url: 'redis://localhost:6379' },
};

const YAML = `app:
  port: 8080
db:
  pool:
    max: 20
redis:
  url: "\${REDIS_URL:-redis://localhost:6379}"
`;

describe('layers and precedence', () => {
  it('defaults < file < remote < env, whatever the order sources are listed in', async () => {
    const path = await writeTemp('yaml', YAML);
    const store = new MemoryConfigStore({ initial: { 'db/pool/max': 30, 'db/pool/min': 3, 'app/name': 'remote' } });
    const config = await createConfig({
      schema,
      env: { SVC_DB__POOL__MIN: '5', SVC_APP__NAME: 'from-env', OTHER: 'x' },
      sources: [env({ prefix: 'SVC_' }), memoryStore({ store }), file(path), defaults(base)],
    });
    try {
      expect(config.get()).toEqual({
        app: { name: 'from-env', port: 8080 }, // env > remote > defaults; file sets the port
        db: { url: 'postgres://localhost/app', pool: { min: 5, max: 30 } }, // env (JSON-parsed) > remote > file
        redis: { url: 'redis://localhost:6379' },
        tags: [],
      });
    } finally {
      await config.close();
    }
  });

  it('interpolates ${VAR:-default} and ${VAR} from the env in file values', async () => {
    const path = await writeTemp('yaml', YAML);
    const config = await createConfig({
      schema,
      env: { REDIS_URL: 'redis://prod:6379' },
      sources: [defaults(base), file(path, { watch: false })],
    });
    expect(config.get('redis.url')).toBe('redis://prod:6379');
    await config.close();
    const fallback = await createConfig({ schema, env: {}, sources: [defaults(base), file(path, { watch: false })] });
    expect(fallback.get('redis.url')).toBe('redis://localhost:6379');
    await fallback.close();
  });

  it('env segments match existing keys ignoring case and underscores', async () => {
    const s = z.object({ http: z.object({ maxConnections: z.number() }) });
    const config = await createConfig({
      schema: s,
      env: { APP_HTTP__MAX_CONNECTIONS: '64' },
      sources: [defaults({ http: { maxConnections: 8 } }), env({ prefix: 'APP_' })],
    });
    expect(config.get('http.maxConnections')).toBe(64);
    await config.close();
  });

  it('reads JSON and TOML files as well', async () => {
    const json = await writeTemp('json', '{"app": {"port": 9000}}');
    const toml = await writeTemp('toml', '[db.pool]\nmax = 40\n');
    const config = await createConfig({ schema, sources: [defaults(base), file(json), file(toml)] });
    expect(config.get('app.port')).toBe(9000);
    expect(config.get('db.pool.max')).toBe(40);
    await config.close();
  });
});

describe('typed, frozen snapshots', () => {
  it('get() is frozen and get(path) is typed by the schema', async () => {
    const config = await createConfig({ schema, sources: [defaults(base)] });
    const snap = config.get();
    expect(Object.isFrozen(snap.db.pool)).toBe(true);
    expect(() => {
      (snap.db.pool as { max: number }).max = 1;
    }).toThrow(TypeError);
    expectTypeOf(config.get('db.pool.max')).toEqualTypeOf<number>();
    expectTypeOf(config.get('db.pool')).toEqualTypeOf<{ readonly min: number; readonly max: number }>();
    expectTypeOf(config.get('tags')).toEqualTypeOf<readonly string[]>();
    // @ts-expect-error: not a path of the schema
    config.get('db.pool.nope');
    expect(config.get('db.pool.max')).toBe(10);
    await config.close();
  });
});

describe('start-up errors', () => {
  it('a file syntax error fails start with file, line and column', async () => {
    const path = await writeTemp('yaml', 'app:\n  port: [1, 2\ndb: 3\n');
    const error = await createConfig({ schema, sources: [defaults(base), file(path)] }).catch((e: unknown) => e);
    expect(isConfigParseError(error)).toBe(true);
    expect((error as ConfigParseError).file).toBe(path);
    expect((error as ConfigParseError).line).toBe(3);
    expect((error as Error).message).toMatch(new RegExp(`^${path.replace(/[.]/g, '\\.')}:3:\\d+: `));
  });

  it('a missing ${VAR} without default fails start naming the variable', async () => {
    const path = await writeTemp('yaml', 'db:\n  url: "${DATABASE_URL}"\n');
    const error = await createConfig({ schema, env: {}, sources: [defaults(base), file(path)] }).catch(
      (e: unknown) => e,
    );
    expect(isMissingEnvVarError(error)).toBe(true);
    expect((error as Error).message).toContain('DATABASE_URL');
    expect((error as Error).message).toContain('db.url');
  });

  it('an invalid merged config fails start naming each key', async () => {
    const error = await createConfig({
      schema,
      sources: [defaults({ ...base, db: { ...base.db, pool: { min: -1, max: 0 } } })],
    }).catch((e: unknown) => e);
    expect(isConfigValidationError(error)).toBe(true);
    expect((error as Error).message).toContain('db.pool.min');
    expect((error as Error).message).toContain('db.pool.max');
  });

  it('a missing required file fails; an optional one is an empty layer', async () => {
    const missing = join(dir, 'nope.yaml');
    expect(
      isConfigParseError(await createConfig({ schema, sources: [defaults(base), file(missing)] }).catch((e) => e)),
    ).toBe(true);
    const config = await createConfig({ schema, sources: [defaults(base), file(missing, { optional: true })] });
    expect(config.get('app.port')).toBe(8000);
    await config.close();
  });

  it('set without a remote source names the problem', async () => {
    const config = await createConfig({ schema, sources: [defaults(base)] });
    expect(isNoRemoteSourceError(await config.set('app.port', 1).catch((e) => e))).toBe(true);
    await config.close();
  });
});

/** Resolves on the next change of `path`. */
function nextChange<T>(config: Config<typeof schema>, path: 'app.port' | 'db.pool.max'): Promise<T> {
  return new Promise((resolve) => {
    const off = config.watch(path, (v) => {
      off();
      resolve(v as T);
    });
  });
}

describe('file hot reload', () => {
  it('reloads a changed file (debounced), fires watchers of changed paths only', async () => {
    const path = await writeTemp('yaml', 'app:\n  port: 8080\n');
    const config = await createConfig({ schema, sources: [defaults(base), file(path, { debounceMs: 20 })] });
    try {
      const maxCalls: number[] = [];
      config.watch('db.pool.max', (v) => maxCalls.push(v));
      const changed = nextChange<number>(config, 'app.port');
      await writeFile(path, 'app:\n  port: 8081\n', 'utf8');
      expect(await changed).toBe(8081);
      expect(config.get('app.port')).toBe(8081);
      expect(maxCalls).toEqual([]);
    } finally {
      await config.close();
    }
  });

  it('follows a file replaced by rename, as editors save', async () => {
    const path = await writeTemp('yaml', 'app:\n  port: 8080\n');
    const config = await createConfig({ schema, sources: [defaults(base), file(path, { debounceMs: 20 })] });
    try {
      for (const port of [8082, 8083]) {
        const changed = nextChange<number>(config, 'app.port');
        await writeFile(`${path}.swp`, `app:\n  port: ${port}\n`, 'utf8');
        await rename(`${path}.swp`, path);
        expect(await changed).toBe(port);
      }
    } finally {
      await config.close();
    }
  });

  it('a broken or invalid file on reload is rejected: last-known-good kept, error event and log line', async () => {
    const path = await writeTemp('yaml', 'app:\n  port: 8080\n');
    const { logger, lines } = capturingLogger();
    const config = await createConfig({ schema, logger, sources: [defaults(base), file(path, { debounceMs: 20 })] });
    try {
      let errors = new Promise<Error>((resolve) => {
        const off = config.onError((e) => {
          off();
          resolve(e);
        });
      });
      await writeFile(path, 'app:\n  port: "not a number"\n', 'utf8');
      const invalid = await errors;
      expect(isConfigValidationError(invalid)).toBe(true);
      expect(invalid.message).toContain('app.port');
      expect(config.get('app.port')).toBe(8080);
      const line = lines.find((l) => typeof l.msg === 'string' && (l.msg as string).includes('rejected'));
      expect(line?.msg).toContain('app.port');
      expect(line?.msg).toMatch(/expected number/);

      errors = new Promise<Error>((resolve) => {
        const off = config.onError((e) => {
          off();
          resolve(e);
        });
      });
      await writeFile(path, 'app:\n  port: [8080\n', 'utf8');
      expect(isConfigParseError(await errors)).toBe(true);
      expect(config.get('app.port')).toBe(8080);

      const fixed = nextChange<number>(config, 'app.port');
      await writeFile(path, 'app:\n  port: 9090\n', 'utf8');
      expect(await fixed).toBe(9090);
    } finally {
      await config.close();
    }
  });
});

describe('watch', () => {
  it('fires only when the watched value changed; unsubscribe stops it', async () => {
    const store = new MemoryConfigStore();
    const config = await createConfig({ schema, sources: [defaults(base), memoryStore({ store })] });
    try {
      const calls: [number, number][] = [];
      const off = config.watch('db.pool.max', (v, prev) => calls.push([v, prev]));
      const all: number[] = [];
      config.watch((snap) => all.push(snap.app.port));
      await config.set('db.pool.max', 12);
      await config.set('app.port', 1234); // other path: no call
      await config.set('db.pool.max', 12); // same value: a new version, no change
      off();
      await config.set('db.pool.max', 13);
      expect(calls).toEqual([[12, 10]]);
      expect(all).toEqual([8000, 1234, 1234]);
      expect(config.version()).toBe(4);
    } finally {
      await config.close();
    }
  });
});

describe('loadFromFile', () => {
  it('flattens a file into remote keys as one version (seed 000 load_from_file)', async () => {
    const path = await writeTemp('yaml', 'db:\n  pool:\n    max: 50\n    min: 2\ntags: [a, b]\n');
    const store = new MemoryConfigStore();
    const config = await createConfig({ schema, sources: [defaults(base), memoryStore({ store })] });
    try {
      const record = await config.loadFromFile(path);
      expect(record.version).toBe(1);
      expect((await store.read()).entries).toEqual({ 'db/pool/max': 50, 'db/pool/min': 2, tags: ['a', 'b'] });
      expect(config.get('db.pool')).toEqual({ min: 2, max: 50 });
      expect(config.get('tags')).toEqual(['a', 'b']);
    } finally {
      await config.close();
    }
  });
});

describe('cancellation', () => {
  it('an aborted signal stops a write before it reaches the remote', async () => {
    const store = new MemoryConfigStore();
    const config = await createConfig({ schema, sources: [defaults(base), memoryStore({ store })] });
    try {
      const error = await config.set('app.port', 1, { signal: AbortSignal.abort() }).catch((e: unknown) => e);
      expect(isAbortedError(error)).toBe(true);
      expect((await store.read()).version).toBe(0);
    } finally {
      await config.close();
    }
  });
});
