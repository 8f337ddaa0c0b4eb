import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, 'fixtures/decorators');

type Mode = 'standard' | 'legacy';

/** Type-checks the fixture under `<mode>/tsconfig.json` and emits its JS with that mode's decorator transform. */
function compile(mode: Mode): { diagnostics: string[]; outFile: string } {
  const configPath = join(fixtures, mode, 'tsconfig.json');
  const parsed = ts.getParsedCommandLineOfConfigFile(
    configPath,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  if (!parsed) throw new Error(`cannot read ${configPath}`);
  const program = ts.createProgram(parsed.fileNames, { ...parsed.options, sourceMap: false, declaration: false });
  const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file ? `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}: ` : '';
    return `${where}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
  const outDir = join(here, '.compiled', mode);
  mkdirSync(outDir, { recursive: true });
  const outFile = join(outDir, 'fixture.mjs');
  const source = program.getSourceFile(join(fixtures, 'fixture.ts'));
  if (!source) throw new Error('fixture.ts is not part of the program');
  const result = program.emit(source, (name, text) => {
    if (name.endsWith('.js')) writeFileSync(outFile, text);
  });
  if (result.emitSkipped) throw new Error(`emit skipped for ${mode}`);
  return { diagnostics, outFile };
}

/** What `run()` must observe in either mode. */
const expected = {
  retry: { value: 'https://api/users/1', attempts: 3 },
  retryExhausted: { error: 'Error(user 2 failed on try 3)', attempts: 3 },
  fallback: { id: 'guest', reason: 'profile 7 unavailable at https://api' },
  breaker: {
    calls: ['Error(users down)', 'Error(users down)', 'BrokenCircuitError(users)'],
    methodCalls: 2,
    healthyRejected: 'BrokenCircuitError(users)',
    healthyMethodCalls: 0,
    state: 'open',
    totals: { success: 0, failure: 2, timeout: 0, rejected: 2, shed: 0, cancelled: 0 },
  },
  timeout: 'TimeoutError(operation timed out after 50 ms)',
  bulkhead: { first: 'https://api/export', second: 'ShedError(bulkhead)', third: 'https://api/export' },
  stacked: {
    value: 'stale',
    calls: 2,
    state: 'open',
    totals: { success: 0, failure: 2, timeout: 0, rejected: 1, shed: 0, cancelled: 0 },
  },
  breakers: ['UserClient.search', 'users'],
};

const observed = new Map<Mode, unknown>();

interface FixtureModule {
  run(): Promise<Record<string, unknown>>;
  runInheritance(): Promise<{ answers: string[]; breakers: string[] }>;
}

describe.each(['standard', 'legacy'] as const)('circuit-breaker decorators compiled as %s decorators', (mode) => {
  let compiled: { diagnostics: string[]; outFile: string };
  let mod: FixtureModule;

  beforeAll(async () => {
    compiled = compile(mode);
    mod = (await import(/* @vite-ignore */ `${compiled.outFile}?t=${Date.now()}`)) as FixtureModule;
  });

  it('type-checks with zero diagnostics', () => {
    expect(compiled.diagnostics).toEqual([]);
  });

  it(`is emitted with the ${mode} decorator transform`, () => {
    // The two modes really are different transforms.
    const js = readFileSync(compiled.outFile, 'utf8');
    expect(js).toContain(mode === 'standard' ? '__esDecorate(' : '__decorate(');
    expect(js).not.toContain(mode === 'standard' ? '__decorate(' : '__esDecorate(');
    if (mode === 'legacy') expect(js).toContain('__metadata("design:paramtypes"');
  });

  it('retries, falls back, breaks, times out and sheds, with `this` kept', async () => {
    const observations = await mod.run();
    observed.set(mode, observations);
    expect(observations).toEqual(expected);
  });

  it('names a default breaker after the declaring class, even when a subclass is instantiated first', async () => {
    expect(await mod.runInheritance()).toEqual({
      answers: ['pong from AdminClient', 'pong from BaseClient'],
      breakers: ['BaseClient.ping'],
    });
  });
});

describe('both decorator modes', () => {
  it('observe exactly the same behaviour', () => {
    expect(observed.get('standard')).toBeDefined();
    expect(observed.get('legacy')).toEqual(observed.get('standard'));
  });
});
