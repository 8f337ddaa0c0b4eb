import { describe, expect, it } from 'vitest';
import { type ConfigParseError, isConfigParseError } from './errors';
import { formatOf, parseDocument } from './parse';

function parseError(text: string, file: string): ConfigParseError {
  try {
    parseDocument(text, file);
  } catch (error) {
    if (isConfigParseError(error)) return error as ConfigParseError;
    throw error;
  }
  throw new Error('expected a parse error');
}

describe('parseDocument', () => {
  it('parses JSON, YAML and TOML by extension', () => {
    expect(parseDocument('{"a":{"b":1}}', 'c.json')).toEqual({ a: { b: 1 } });
    expect(parseDocument('a:\n  b: 1\n', 'c.yaml')).toEqual({ a: { b: 1 } });
    expect(parseDocument('[a]\nb = 1\n', 'c.toml')).toEqual({ a: { b: 1 } });
    expect(parseDocument('', 'c.yml')).toEqual({});
    expect(formatOf('x.YML')).toBe('yaml');
  });

  it('a JSON syntax error names the file, line and column', () => {
    const e = parseError('{\n  "a": 1,\n  b: 2\n}', 'app.json');
    expect(e).toMatchObject({ file: 'app.json', line: 3, column: 3 });
    expect(e.message).toMatch(/^app\.json:3:3: /);
  });

  it('a YAML syntax error names the file, line and column', () => {
    const e = parseError('a: 1\nb: [1, 2\nc: 3\n', 'config.yaml');
    expect(e.file).toBe('config.yaml');
    expect(e.line).toBe(3);
    expect(e.column).toBeGreaterThanOrEqual(1);
    expect(e.message).toMatch(/^config\.yaml:3:\d+: /);
  });

  it('a TOML syntax error names the file, line and column', () => {
    const e = parseError('a = 1\nb = = 2\n', 'app.toml');
    expect(e).toMatchObject({ file: 'app.toml', line: 2, column: 5 });
  });

  it('a top level that is not a mapping is an error', () => {
    expect(parseError('- a\n- b\n', 'list.yaml').reason).toContain('mapping');
  });
});
